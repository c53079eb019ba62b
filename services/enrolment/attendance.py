"""Attendance per session, the program's roster, and the participation rate of R5."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import Attendance, Enrolment, Program, Teacher, infra
from services.enrolment.policy import POLICY, participation_met
from services.enrolment.programs import get_program
from services.enrolment.schemas import (
    AttendanceCreate,
    ParticipationRead,
    ParticipationRow,
    RosterEntry,
)
from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, Unprocessable
from shared.events.enrolment import AttendanceRecorded
from shared.messaging.outbox import add_event

# Who should attend after selection: trainees holding a confirmed place or completed; an
# approved leave or a substitution removes a trainee from the expected (R5).
EXPECTED = ("confirmed", "completed")
RATE = Decimal("0.001")


def runs_program(principal: Principal, program: Program) -> bool:
    """The program's institution, its bureau, or the school of a school-based program."""
    match principal.role:
        case Role.BUREAU_ADMIN:
            return principal.district_id == program.district_id
        case Role.INSTITUTION_ADMIN:
            return program.institution_id is not None and (
                principal.institution_id == program.institution_id
            )
        case Role.SCHOOL_ADMIN:
            return program.school_id is not None and principal.school_id == program.school_id
    return False


async def record(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, data: AttendanceCreate
) -> int:
    program = await get_program(session, principal=principal, program_id=program_id)
    if not runs_program(principal, program):
        raise Forbidden("Attendance is taken by whoever runs the program.")
    if program.status != "running":
        raise Conflict(f"A {program.status} program has no sessions.", code="program-not-running")
    if not program.starts_on <= data.session_on <= program.ends_on:
        raise Unprocessable("The session is outside the program's dates.", code="session-date")
    marks = {eid: True for eid in data.present} | {eid: False for eid in data.absent}
    if len(marks) != len(data.present) + len(data.absent):
        raise Unprocessable("A trainee is both present and absent.", code="attendance-twice")
    enrolments = (
        await session.scalars(
            select(Enrolment).where(
                Enrolment.id.in_(list(marks)),
                Enrolment.program_id == program.id,
                Enrolment.status.in_(EXPECTED),
            )
        )
    ).all()
    if len(enrolments) != len(marks):
        raise Unprocessable(
            "Some enrolments are not trainees of this program.", code="unknown-enrolment"
        )
    existing = {
        row.enrolment_id: row
        for row in (
            await session.scalars(
                select(Attendance).where(
                    Attendance.program_id == program.id,
                    Attendance.session_on == data.session_on,
                    Attendance.enrolment_id.in_(list(marks)),
                )
            )
        ).all()
    }
    for enrolment_id, present in marks.items():
        if enrolment_id in existing:
            existing[enrolment_id].present = present  # a correction of the same session
        else:
            session.add(
                Attendance(
                    program_id=program.id,
                    enrolment_id=enrolment_id,
                    session_on=data.session_on,
                    present=present,
                )
            )
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        AttendanceRecorded(
            program_id=program.id,
            session_on=data.session_on,
            present=len(data.present),
            absent=len(data.absent),
        ),
    )
    return len(marks)


def _visible_school(principal: Principal, program: Program) -> uuid.UUID | None:
    """None when the caller sees every school's trainees; else the one school it may see."""
    if runs_program(principal, program):
        return None
    if principal.role is Role.SCHOOL_ADMIN and principal.school_id is not None:
        return principal.school_id
    raise Forbidden("The roster is for the program's runners and the trainees' schools.")


async def roster(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID
) -> list[RosterEntry]:
    program = await get_program(session, principal=principal, program_id=program_id)
    school_id = _visible_school(principal, program)
    query = (
        select(Enrolment, Teacher.name)
        .join(Teacher, Teacher.id == Enrolment.teacher_id)
        .where(
            Enrolment.program_id == program.id,
            Enrolment.status.in_(("confirmed", "completed", "pending_funds", "on_leave")),
        )
        .order_by(Enrolment.created_at, Enrolment.id)
    )
    if school_id is not None:
        query = query.where(Enrolment.school_id == school_id)
    rows = (await session.execute(query)).all()
    marks = await _marks(session, program.id)
    out = []
    for enrolment, name in rows:
        sessions = marks.get(enrolment.id, [])
        attended = sum(sessions)
        out.append(
            RosterEntry(
                enrolment_id=enrolment.id,
                teacher_id=enrolment.teacher_id,
                teacher_name=name,
                school_id=enrolment.school_id,
                status=enrolment.status,
                sessions=len(sessions),
                attended=attended,
                attendance_rate=(
                    (Decimal(attended) / len(sessions)).quantize(RATE, ROUND_HALF_UP)
                    if sessions
                    else None
                ),
            )
        )
    return out


async def _marks(session: AsyncSession, program_id: uuid.UUID) -> dict[uuid.UUID, list[bool]]:
    marks: dict[uuid.UUID, list[bool]] = defaultdict(list)
    for enrolment_id, present in (
        await session.execute(
            select(Attendance.enrolment_id, Attendance.present).where(
                Attendance.program_id == program_id
            )
        )
    ).all():
        marks[enrolment_id].append(present)
    return marks


def _row(school_id: uuid.UUID | None, expected: int, actual: int) -> ParticipationRow:
    rate = (Decimal(actual) / expected).quantize(RATE, ROUND_HALF_UP) if expected else None
    return ParticipationRow(
        school_id=school_id,
        expected=expected,
        actual=actual,
        rate=rate,
        met=participation_met(expected, actual),
    )


async def participation(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID
) -> ParticipationRead:
    """R5: actual participants ÷ those who should attend, per program and per school.

    A trainee participated when completed or present at one session at least.
    """
    program = await get_program(session, principal=principal, program_id=program_id)
    only_school = _visible_school(principal, program)
    enrolments = (
        await session.scalars(
            select(Enrolment).where(
                Enrolment.program_id == program.id, Enrolment.status.in_(EXPECTED)
            )
        )
    ).all()
    marks = await _marks(session, program.id)
    expected: dict[uuid.UUID, int] = defaultdict(int)
    actual: dict[uuid.UUID, int] = defaultdict(int)
    for enrolment in enrolments:
        expected[enrolment.school_id] += 1
        if enrolment.status == "completed" or any(marks.get(enrolment.id, [])):
            actual[enrolment.school_id] += 1
    schools = sorted(expected, key=str)
    if only_school is not None:
        schools = [s for s in schools if s == only_school]
    return ParticipationRead(
        program_id=program.id,
        policy=POLICY.version,
        min_rate=POLICY.min_participation_rate,
        overall=(
            _row(None, sum(expected.values()), sum(actual.values()))
            if only_school is None
            else None
        ),
        by_school=[_row(s, expected[s], actual[s]) for s in schools],
    )
