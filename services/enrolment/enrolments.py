"""Enrolments: a teacher's place in a program, from selection to completion."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.eligibility import (
    check_audience,
    check_away_cap,
    check_free,
    check_open,
    check_r6_evaluated,
)
from services.enrolment.models import Enrolment, Program, Teacher, infra
from services.enrolment.policy import POLICY
from services.enrolment.programs import can_see_program, get_program
from services.enrolment.seats import (
    next_waitlist_place,
    release_quota,
    release_seat,
    take_quota,
    take_seat,
)
from services.enrolment.waitlist import facts, promote
from shared.access import ensure_in_scope, in_scope
from shared.auth import Principal, Role
from shared.config import DISTRICT_TZ
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events import Event
from shared.events.enrolment import (
    EnrolmentApplied,
    EnrolmentCompleted,
    EnrolmentConfirmed,
    EnrolmentFundingRequested,
    EnrolmentRecommended,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    EnrolmentWithdrawn,
)
from shared.messaging.outbox import add_event


async def enrol(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, teacher_id: uuid.UUID
) -> Enrolment:
    program, teacher = await _program_and_locked_teacher(
        session, principal=principal, program_id=program_id, teacher_id=teacher_id
    )
    check_may_enrol(principal)
    ensure_in_scope(
        principal,
        "teacher",
        district_id=teacher.district_id,
        school_id=teacher.school_id,
        teacher_id=teacher.id,
    )
    check_open(program)
    check_audience(program, teacher)
    await check_free(session, program, teacher)
    await check_r6_evaluated(session, program, teacher)
    enrolment = Enrolment(
        program_id=program.id,
        teacher_id=teacher.id,
        school_id=teacher.school_id,
        district_id=teacher.district_id,
        status="pending_school",
    )
    teacher.placements += 1  # the teacher's row is locked; rush.py checks this count
    if program.selection != "first_come":
        # R2: apply → school recommends → bureau approves; a lottery: apply, the draw at the
        # close decides (lottery.py). No seat is taken yet.
        if program.selection == "lottery":
            enrolment.status = "applied"
        await _insert(session, enrolment)
        await add_event(session, infra.outbox, EnrolmentApplied(**facts(enrolment)))
        return enrolment
    await check_away_cap(session, program, teacher.school_id)
    await _take_quota(session, program, enrolment)
    await place(session, program, enrolment)
    return enrolment


def check_may_enrol(principal: Principal) -> None:
    if principal.role not in (Role.TEACHER, Role.SCHOOL_ADMIN, Role.BUREAU_ADMIN):
        raise Forbidden("Teachers enrol themselves; schools and the bureau may enrol them.")


def quota_full() -> Conflict:
    """R3: the school's share of an allotted program is used up."""
    return Conflict(
        "The school's quota for this program is used up (or it has none).",
        code="r3-quota-full",
    )


async def _program_and_locked_teacher(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, teacher_id: uuid.UUID
) -> tuple[Program, Teacher]:
    """Both in one round trip. Locking the teacher serialises one teacher's concurrent
    requests (no overlap, no twice); the program is only read."""
    row = (
        await session.execute(
            select(Program, Teacher)
            .join_from(Program, Teacher, true())  # one row of each, by primary key
            .where(Program.id == program_id, Teacher.id == teacher_id)
            .with_for_update(of=Teacher)
        )
    ).first()
    if row is not None and can_see_program(principal, row.Program):
        return row.Program, row.Teacher
    # One of them is missing or hidden: say which, the program first.
    await get_program(session, principal=principal, program_id=program_id)
    raise Unprocessable("The teacher does not exist.", code="unknown-teacher")


async def _insert(session: AsyncSession, enrolment: Enrolment) -> None:
    """Write a new enrolment (or the changes of a known one)."""
    session.add(enrolment)
    with _once_per_program():
        await session.flush()


@contextmanager
def _once_per_program() -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(
            "The teacher is already enrolled in this program.", code="already-enrolled"
        ) from exc


async def _take_quota(session: AsyncSession, program: Program, enrolment: Enrolment) -> None:
    """R3: when a program is allotted by quota, the school's share bounds its teachers."""
    if not program.allotted:
        return
    if not await take_quota(session, program.id, enrolment.school_id):
        raise quota_full()
    enrolment.holds_quota = True


async def place(session: AsyncSession, program: Program, enrolment: Enrolment) -> None:
    """Give the enrolment a seat if one is free, else a place on the waitlist.

    A new enrolment is written only after the seat UPDATE, so the seat's row lock is held
    for the fewest statements before the commit (services/enrolment/rush.py does all of it
    in one statement on PostgreSQL). The waitlist is served in arrival order (created_at,
    id); waitlist_position is the place the teacher joined at, one after the last waiting.
    """
    if await take_seat(session, program.id):
        await seat_granted(session, program, enrolment)
        return
    await release_quota(session, enrolment)
    enrolment.status = "waitlisted"
    enrolment.waitlist_position = await next_waitlist_place(session, program.id)
    await _insert(session, enrolment)
    await add_event(
        session,
        infra.outbox,
        EnrolmentWaitlisted(**facts(enrolment), waitlist_position=enrolment.waitlist_position),
    )


def needs_funding(program: Program) -> bool:
    return program.funded_by == "school" and program.cost_per_participant_fen > 0


def granted_status_and_event(program: Program, facts: dict[str, uuid.UUID]) -> tuple[str, Event]:
    """The status and event of a held seat: confirmed, or pending funds when the trainee's
    school pool pays."""
    if needs_funding(program):
        return "pending_funds", EnrolmentFundingRequested(
            **facts,
            amount_fen=program.cost_per_participant_fen,
            fiscal_year=program.starts_on.year,
        )
    return "confirmed", EnrolmentConfirmed(**facts)


async def seat_granted(session: AsyncSession, program: Program, enrolment: Enrolment) -> None:
    """A held seat: confirmed, or pending funds when the trainee's school pool pays."""
    enrolment.offer_expires_at = None
    enrolment.waitlist_position = None
    enrolment.status, event = granted_status_and_event(program, facts(enrolment))
    await _insert(session, enrolment)
    await add_event(session, infra.outbox, event)


async def free_seat(session: AsyncSession, program: Program, enrolment: Enrolment) -> None:
    """An enrolment gave up its seat: the seat and quota return and the waitlist moves."""
    if enrolment.status in POLICY.seat_statuses:
        await release_seat(session, program.id)
    await release_quota(session, enrolment)


async def end_enrolment(
    session: AsyncSession, program: Program, enrolment: Enrolment, *, status: str, reason: str
) -> None:
    """Withdrawn, refused or on leave: the enrolment ends and its seat goes to the next."""
    held_seat = enrolment.status in POLICY.seat_statuses
    await free_seat(session, program, enrolment)
    enrolment.status = status
    enrolment.reason = reason
    enrolment.offer_expires_at = None
    await session.flush()
    if held_seat:
        await promote(session, program)


async def end_all_for_cancellation(session: AsyncSession, program: Program) -> int:
    """A cancelled program ends every place in it; each teacher is told by a withdrawal."""
    reason = "the program was cancelled"
    places = (
        await session.scalars(
            select(Enrolment)
            .where(
                Enrolment.program_id == program.id,
                Enrolment.status.in_(POLICY.holding_statuses),
            )
            .with_for_update()
        )
    ).all()
    for enrolment in places:
        was_confirmed = enrolment.status in ("confirmed", "pending_funds")
        await free_seat(session, program, enrolment)
        enrolment.status = "cancelled"
        enrolment.reason = reason
        enrolment.offer_expires_at = None
        await session.flush()
        await add_event(
            session,
            infra.outbox,
            EnrolmentWithdrawn(**facts(enrolment), reason=reason, was_confirmed=was_confirmed),
        )
    return len(places)


async def act(
    session: AsyncSession,
    *,
    principal: Principal,
    enrolment_id: uuid.UUID,
    action: str,
    reason: str | None = None,
) -> Enrolment:
    enrolment, program = await get_enrolment(
        session, principal=principal, enrolment_id=enrolment_id, for_update=True
    )
    match action:
        case "recommend":
            await _recommend(session, principal, program, enrolment)
        case "approve":
            await _approve(session, principal, program, enrolment)
        case "reject":
            await _reject(session, principal, program, enrolment, reason)
        case "withdraw":
            await _withdraw(session, principal, program, enrolment, reason)
        case "accept":
            await _accept(session, principal, program, enrolment)
        case _:
            raise NotFound(f"No enrolment action {action!r}.", message="not-found.action")
    return enrolment


def _require_status(enrolment: Enrolment, action: str, *allowed: str) -> None:
    if enrolment.status not in allowed:
        raise Conflict(
            f"A {enrolment.status} enrolment cannot {action}; it must be {' or '.join(allowed)}.",
            code="invalid-transition",
            status_now=enrolment.status,
        )


def _is_school_of(principal: Principal, enrolment: Enrolment) -> bool:
    return principal.role is Role.SCHOOL_ADMIN and principal.school_id == enrolment.school_id


def _is_bureau_of(principal: Principal, enrolment: Enrolment) -> bool:
    return principal.role is Role.BUREAU_ADMIN and principal.district_id == enrolment.district_id


def _selection_open(program: Program) -> None:
    if program.status not in ("published", "enrolment_closed"):
        raise Conflict(
            f"Selection for a {program.status} program is over.", code="program-not-open"
        )


async def _recommend(
    session: AsyncSession, principal: Principal, program: Program, enrolment: Enrolment
) -> None:
    """R2 step 2: the school recommends its applicant, within its quota (R3)."""
    if not (_is_school_of(principal, enrolment) or _is_bureau_of(principal, enrolment)):
        raise Forbidden("The teacher's school recommends its applicants.")
    _require_status(enrolment, "be recommended", "pending_school")
    _selection_open(program)
    await _take_quota(session, program, enrolment)
    enrolment.status = "pending_bureau"
    await session.flush()
    await add_event(session, infra.outbox, EnrolmentRecommended(**facts(enrolment)))


async def _approve(
    session: AsyncSession, principal: Principal, program: Program, enrolment: Enrolment
) -> None:
    """R2 step 3: the bureau approves a recommended teacher, who then takes a seat."""
    if not _is_bureau_of(principal, enrolment):
        raise Forbidden("The bureau approves recommended teachers.")
    _require_status(enrolment, "be approved", "pending_bureau")
    _selection_open(program)
    await check_away_cap(session, program, enrolment.school_id)
    await place(session, program, enrolment)


async def _reject(
    session: AsyncSession,
    principal: Principal,
    program: Program,
    enrolment: Enrolment,
    reason: str | None,
) -> None:
    school_step = enrolment.status == "pending_school" and _is_school_of(principal, enrolment)
    if not (school_step or _is_bureau_of(principal, enrolment)):
        raise Forbidden("The school rejects applicants; the bureau rejects recommendations.")
    _require_status(enrolment, "be rejected", "pending_school", "pending_bureau")
    reason = reason or f"rejected by the {'school' if school_step else 'bureau'}"
    await end_enrolment(session, program, enrolment, status="rejected", reason=reason)
    await add_event(session, infra.outbox, EnrolmentRefused(**facts(enrolment), reason=reason))


async def _withdraw(
    session: AsyncSession,
    principal: Principal,
    program: Program,
    enrolment: Enrolment,
    reason: str | None,
) -> None:
    if principal.role not in (Role.TEACHER, Role.SCHOOL_ADMIN, Role.BUREAU_ADMIN):
        raise Forbidden("The teacher, the school or the bureau withdraws an enrolment.")
    _require_status(enrolment, "be withdrawn", *POLICY.holding_statuses)
    was_confirmed = enrolment.status in ("confirmed", "pending_funds")
    if was_confirmed and program.status != "published":
        # R4: once selection is over a confirmed trainee leaves only by an approved request.
        raise Conflict(
            "Selection is over: a confirmed trainee files a leave or substitution request.",
            code="r4-leave-required",
        )
    reason = reason or "withdrawn"
    await end_enrolment(session, program, enrolment, status="withdrawn", reason=reason)
    await add_event(
        session,
        infra.outbox,
        EnrolmentWithdrawn(**facts(enrolment), reason=reason, was_confirmed=was_confirmed),
    )


async def _accept(
    session: AsyncSession, principal: Principal, program: Program, enrolment: Enrolment
) -> None:
    """A promoted teacher takes the offered seat before the offer expires."""
    if principal.role not in (Role.TEACHER, Role.SCHOOL_ADMIN, Role.BUREAU_ADMIN):
        raise Forbidden("The teacher or the school accepts an offered seat.")
    _require_status(enrolment, "accept", "offered")
    if enrolment.offer_expires_at is not None and enrolment.offer_expires_at < utcnow():
        raise Conflict("The offer has expired.", code="offer-expired")
    await seat_granted(session, program, enrolment)
    # An offer fewer is out: the waitlist policy may allow the next one now.
    await promote(session, program)


def can_see_enrolment(principal: Principal, enrolment: Enrolment, program: Program) -> bool:
    if principal.role is Role.SERVICE and "roster:read" not in principal.scopes:
        return False
    return in_scope(
        principal,
        district_id=enrolment.district_id,
        school_id=enrolment.school_id,
        teacher_id=enrolment.teacher_id,
        institution_id=program.institution_id,
    )


async def get_enrolment(
    session: AsyncSession,
    *,
    principal: Principal,
    enrolment_id: uuid.UUID,
    for_update: bool = False,
) -> tuple[Enrolment, Program]:
    query = select(Enrolment).where(Enrolment.id == enrolment_id)
    if for_update:
        query = query.with_for_update()
    enrolment = await session.scalar(query)
    program = await session.get(Program, enrolment.program_id) if enrolment else None
    if enrolment is None or program is None or not can_see_enrolment(principal, enrolment, program):
        raise NotFound("No such enrolment.", message="not-found.enrolment")
    return enrolment, program


def enrolments_query(principal: Principal):
    principal.require_scope("roster:read")
    query = select(Enrolment)
    match principal.role:
        case Role.TEACHER:
            return query.where(Enrolment.teacher_id == principal.teacher_id)
        case Role.SCHOOL_ADMIN:
            return query.where(Enrolment.school_id == principal.school_id)
        case Role.INSTITUTION_ADMIN:
            return query.join(Program, Program.id == Enrolment.program_id).where(
                Program.institution_id == principal.institution_id
            )
        case Role.BUREAU_ADMIN | Role.SERVICE:
            query = query.where(Enrolment.district_id == principal.district_id)
            if principal.school_id:
                query = query.where(Enrolment.school_id == principal.school_id)
            return query
    raise Forbidden("No enrolments in scope.")


async def complete(
    session: AsyncSession,
    *,
    principal: Principal,
    enrolment_id: uuid.UUID,
    attendance_rate: Decimal,
    passed: bool,
) -> Enrolment:
    enrolment, program = await get_enrolment(
        session, principal=principal, enrolment_id=enrolment_id
    )
    return await record_completion(
        session,
        principal=principal,
        enrolment=enrolment,
        program=program,
        attendance_rate=attendance_rate,
        passed=passed,
    )


async def record_completion(
    session: AsyncSession,
    *,
    principal: Principal,
    enrolment: Enrolment,
    program: Program,
    attendance_rate: Decimal,
    passed: bool,
) -> Enrolment:
    may = (
        (principal.role is Role.BUREAU_ADMIN and program.district_id == principal.district_id)
        or (
            principal.role is Role.INSTITUTION_ADMIN
            and program.institution_id is not None
            and program.institution_id == principal.institution_id
        )
        or (
            principal.role is Role.SCHOOL_ADMIN
            and program.school_id is not None
            and program.school_id == principal.school_id
        )
    )
    if not may:
        raise Forbidden("Completion is recorded by the program's institution or the bureau.")
    if program.status not in ("running", "finished"):
        raise Conflict(
            f"A {program.status} program has no completions yet.", code="program-not-running"
        )
    if enrolment.status != "confirmed":
        raise Conflict(
            f"A {enrolment.status} enrolment cannot be completed.",
            code="invalid-transition",
            status_now=enrolment.status,
        )
    return await store_completion(
        session,
        enrolment=enrolment,
        program=program,
        attendance_rate=attendance_rate,
        passed=passed,
    )


async def store_completion(
    session: AsyncSession,
    *,
    enrolment: Enrolment,
    program: Program,
    attendance_rate: Decimal,
    passed: bool,
) -> Enrolment:
    """Completion of a confirmed enrolment, whoever recorded it (an API call or an assessment)."""
    enrolment.status = "completed"
    enrolment.attendance_rate = attendance_rate
    enrolment.passed = passed
    enrolment.completed_on = utcnow().astimezone(ZoneInfo(DISTRICT_TZ)).date()
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        EnrolmentCompleted(
            enrolment_id=enrolment.id,
            program_id=program.id,
            teacher_id=enrolment.teacher_id,
            school_id=enrolment.school_id,
            district_id=enrolment.district_id,
            passed=passed,
            attendance_rate=attendance_rate,
            hours=program.hours,
            mode=program.mode,
            level=program.level,
            category=program.category,
            program_title=program.title,
            completed_on=enrolment.completed_on,
        ),
    )
    return enrolment
