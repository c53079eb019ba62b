"""R4: leave and substitution of a confirmed trainee, effective once school and institution agree.

A leave frees the seat for the waitlist; a substitution hands the seat (and the school's quota
place) to a colleague of the same school who fits the program's audience.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.eligibility import check_audience, check_free, check_r6_evaluated
from services.enrolment.enrolments import end_enrolment, facts, get_enrolment, seat_granted
from services.enrolment.models import Enrolment, LeaveRequest, Program, Teacher, infra
from services.enrolment.schemas import LeaveParty, LeaveRequestCreate
from shared.access import in_scope
from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events.enrolment import EnrolmentWithdrawn, LeaveDecided, LeaveRequested
from shared.messaging.outbox import add_event

LEAVE_STATUSES = ("confirmed", "pending_funds")
OPEN_PROGRAM = ("published", "enrolment_closed", "running")


async def request_leave(
    session: AsyncSession,
    *,
    principal: Principal,
    enrolment_id: uuid.UUID,
    data: LeaveRequestCreate,
) -> LeaveRequest:
    enrolment, program = await get_enrolment(
        session, principal=principal, enrolment_id=enrolment_id, for_update=True
    )
    if principal.role not in (Role.TEACHER, Role.SCHOOL_ADMIN, Role.BUREAU_ADMIN):
        raise Forbidden("The trainee, the school or the bureau files a leave request.")
    if enrolment.status not in LEAVE_STATUSES or program.status not in OPEN_PROGRAM:
        raise Conflict(
            f"A {enrolment.status} enrolment of a {program.status} program takes no leave.",
            code="invalid-transition",
            status_now=enrolment.status,
        )
    pending = await session.scalar(
        select(LeaveRequest.id).where(
            LeaveRequest.enrolment_id == enrolment.id, LeaveRequest.status == "pending"
        )
    )
    if pending is not None:
        raise Conflict("A leave request is already pending.", code="leave-pending")
    if data.substitute_teacher_id is not None:
        await _check_substitute(session, program, enrolment, data.substitute_teacher_id)
    leave = LeaveRequest(
        enrolment_id=enrolment.id,
        program_id=program.id,
        school_id=enrolment.school_id,
        district_id=enrolment.district_id,
        kind=data.kind.value,
        reason=data.reason,
        substitute_teacher_id=data.substitute_teacher_id,
    )
    session.add(leave)
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        LeaveRequested(
            leave_request_id=leave.id,
            enrolment_id=enrolment.id,
            program_id=program.id,
            school_id=enrolment.school_id,
            kind=leave.kind,
            substitute_teacher_id=leave.substitute_teacher_id,
        ),
    )
    return leave


async def _check_substitute(
    session: AsyncSession, program: Program, enrolment: Enrolment, teacher_id: uuid.UUID
) -> Teacher:
    # Locked and counted like any teacher who gets an enrolment (enrolments.enrol, rush.py).
    substitute = await session.get(Teacher, teacher_id, with_for_update=True)
    if substitute is None or substitute.school_id != enrolment.school_id:
        raise Unprocessable(
            "A substitute is a colleague of the same school.", code="substitute-other-school"
        )
    check_audience(program, substitute)
    await check_free(session, program, substitute)
    # R6 holds for a substitute as for anyone who takes a place of next term.
    await check_r6_evaluated(session, program, substitute)
    return substitute


def _may_decide(
    principal: Principal, party: LeaveParty, leave: LeaveRequest, program: Program
) -> bool:
    if party is LeaveParty.SCHOOL:
        return principal.role is Role.SCHOOL_ADMIN and principal.school_id == leave.school_id
    if program.institution_id is None:
        # A program without an institution is run by the bureau, which decides in its place.
        return principal.role is Role.BUREAU_ADMIN and principal.district_id == leave.district_id
    return (
        principal.role is Role.INSTITUTION_ADMIN
        and principal.institution_id == program.institution_id
    )


async def get_leave(
    session: AsyncSession, *, principal: Principal, leave_id: uuid.UUID, for_update: bool = False
) -> tuple[LeaveRequest, Program]:
    query = select(LeaveRequest).where(LeaveRequest.id == leave_id)
    if for_update:
        query = query.with_for_update()
    leave = await session.scalar(query)
    program = await session.get(Program, leave.program_id) if leave else None
    enrolment = await session.get(Enrolment, leave.enrolment_id) if leave else None
    if (
        leave is None
        # A trainee's leave is no roster system's business: no scope grants it.
        or principal.role is Role.SERVICE
        or program is None
        or enrolment is None
        or not in_scope(
            principal,
            district_id=leave.district_id,
            school_id=leave.school_id,
            teacher_id=enrolment.teacher_id,
            institution_id=program.institution_id,
        )
    ):
        raise NotFound("No such leave request.", message="not-found.leave")
    return leave, program


async def decide(
    session: AsyncSession,
    *,
    principal: Principal,
    leave_id: uuid.UUID,
    party: LeaveParty,
    approve: bool,
) -> LeaveRequest:
    leave, program = await get_leave(
        session, principal=principal, leave_id=leave_id, for_update=True
    )
    if not _may_decide(principal, party, leave, program):
        raise Forbidden(f"Only the {party.value} of this trainee decides as {party.value}.")
    if leave.status != "pending":
        raise Conflict(f"The request is already {leave.status}.", code="leave-decided")
    field = "school_approved" if party is LeaveParty.SCHOOL else "institution_approved"
    if getattr(leave, field) is not None:
        raise Conflict(f"The {party.value} has already decided.", code="leave-decided")
    setattr(leave, field, approve)
    if not approve:
        leave.status = "rejected"
    elif leave.school_approved and leave.institution_approved:
        await _take_effect(session, leave, program)
        leave.status = "approved"
    await session.flush()
    if leave.status != "pending":
        await add_event(
            session,
            infra.outbox,
            LeaveDecided(
                leave_request_id=leave.id,
                enrolment_id=leave.enrolment_id,
                program_id=leave.program_id,
                school_id=leave.school_id,
                kind=leave.kind,
                approved=leave.status == "approved",
                substitute_enrolment_id=leave.substitute_enrolment_id,
            ),
        )
    return leave


async def _take_effect(session: AsyncSession, leave: LeaveRequest, program: Program) -> None:
    enrolment = await session.scalar(
        select(Enrolment).where(Enrolment.id == leave.enrolment_id).with_for_update()
    )
    assert enrolment is not None
    if enrolment.status not in LEAVE_STATUSES:
        raise Conflict(
            f"The enrolment is {enrolment.status} now.",
            code="invalid-transition",
            status_now=enrolment.status,
        )
    if leave.kind == "leave":
        reason = f"leave: {leave.reason}"
        await end_enrolment(session, program, enrolment, status="on_leave", reason=reason)
    else:
        assert leave.substitute_teacher_id is not None
        substitute = await _check_substitute(
            session, program, enrolment, leave.substitute_teacher_id
        )
        # The seat and the quota place pass to the colleague; nothing returns to the pool.
        substitute.placements += 1
        replacement = Enrolment(
            program_id=program.id,
            teacher_id=substitute.id,
            school_id=substitute.school_id,
            district_id=substitute.district_id,
            status="confirmed",
            holds_quota=enrolment.holds_quota,
        )
        enrolment.holds_quota = False
        enrolment.status = "substituted"
        reason = f"substituted: {leave.reason}"
        enrolment.reason = reason
        session.add(replacement)
        await session.flush()
        await seat_granted(session, program, replacement)
        leave.substitute_enrolment_id = replacement.id
    await add_event(
        session,
        infra.outbox,
        EnrolmentWithdrawn(**facts(enrolment), reason=reason, was_confirmed=True),
    )
