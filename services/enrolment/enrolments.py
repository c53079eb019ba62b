"""Enrolments: a teacher's place in a program, from selection to completion."""

from __future__ import annotations

import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import Enrolment, Program, Teacher, infra
from services.enrolment.programs import get_program
from shared.access import ensure_in_scope, in_scope
from shared.auth import Principal, Role
from shared.config import DISTRICT_TZ
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events.enrolment import EnrolmentCompleted, EnrolmentConfirmed
from shared.messaging.outbox import add_event


async def enrol(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, teacher_id: uuid.UUID
) -> Enrolment:
    program = await get_program(session, principal=principal, program_id=program_id)
    teacher = await session.get(Teacher, teacher_id)
    if teacher is None:
        raise Unprocessable("The teacher does not exist.", code="unknown-teacher")
    if principal.role not in (Role.TEACHER, Role.SCHOOL_ADMIN, Role.BUREAU_ADMIN):
        raise Forbidden("Teachers enrol themselves; schools and the bureau may enrol them.")
    ensure_in_scope(
        principal,
        "teacher",
        district_id=teacher.district_id,
        school_id=teacher.school_id,
        teacher_id=teacher.id,
    )
    if program.status != "published":
        raise Conflict(
            f"The program is {program.status}, not open for enrolment.", code="program-not-open"
        )
    now = utcnow()
    if not program.enrol_opens_at <= now <= program.enrol_closes_at:
        raise Conflict(
            "The enrolment window is closed.",
            code="enrolment-window-closed",
            enrol_opens_at=program.enrol_opens_at.isoformat(),
            enrol_closes_at=program.enrol_closes_at.isoformat(),
        )
    existing = await session.scalar(
        select(Enrolment.id).where(
            Enrolment.program_id == program.id, Enrolment.teacher_id == teacher.id
        )
    )
    if existing is not None:
        raise Conflict(
            "The teacher is already enrolled in this program.",
            code="already-enrolled",
            enrolment_id=str(existing),
        )
    # The seat is taken by one conditional UPDATE: the database, not the process, decides.
    taken = await session.execute(
        update(Program)
        .where(Program.id == program.id, Program.seats_taken < Program.capacity)
        .values(seats_taken=Program.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    enrolment = Enrolment(
        program_id=program.id,
        teacher_id=teacher.id,
        school_id=teacher.school_id,
        district_id=teacher.district_id,
        status="confirmed" if taken.rowcount == 1 else "waitlisted",
    )
    if enrolment.status == "waitlisted":
        waiting = await session.scalar(
            select(func.count()).where(
                Enrolment.program_id == program.id, Enrolment.status == "waitlisted"
            )
        )
        enrolment.waitlist_position = (waiting or 0) + 1
    session.add(enrolment)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "The teacher is already enrolled in this program.", code="already-enrolled"
        ) from exc
    if enrolment.status == "confirmed":
        await add_event(
            session,
            infra.outbox,
            EnrolmentConfirmed(
                enrolment_id=enrolment.id,
                program_id=program.id,
                teacher_id=teacher.id,
                school_id=teacher.school_id,
                district_id=teacher.district_id,
            ),
        )
    return enrolment


def can_see_enrolment(principal: Principal, enrolment: Enrolment, program: Program) -> bool:
    return in_scope(
        principal,
        district_id=enrolment.district_id,
        school_id=enrolment.school_id,
        teacher_id=enrolment.teacher_id,
        institution_id=program.institution_id,
    )


async def get_enrolment(
    session: AsyncSession, *, principal: Principal, enrolment_id: uuid.UUID
) -> tuple[Enrolment, Program]:
    enrolment = await session.get(Enrolment, enrolment_id)
    program = await session.get(Program, enrolment.program_id) if enrolment else None
    if enrolment is None or program is None or not can_see_enrolment(principal, enrolment, program):
        raise NotFound("No such enrolment.")
    return enrolment, program


def enrolments_query(principal: Principal):
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
