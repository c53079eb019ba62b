"""Whether a teacher may take a place in a program: every enrolment rule checked in one place.

The numbers come from services.enrolment.policy; each check raises a problem with a code
naming the rule, so a refused teacher learns exactly why.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import Enrolment, Program, ProgramRating, School, Teacher
from services.enrolment.policy import POLICY, audience_violation, teacher_roles, term_of
from shared.config import DISTRICT_TZ
from shared.db import utcnow
from shared.errors import Conflict, Unprocessable


def district_today() -> dt.date:
    return utcnow().astimezone(ZoneInfo(DISTRICT_TZ)).date()


def check_open(program: Program) -> None:
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


def check_audience(program: Program, teacher: Teacher) -> None:
    roles = teacher_roles(teacher.roles, teacher.hired_on, district_today())
    problem = audience_violation(
        program.audience, stage=teacher.stage, subject=teacher.subject, roles=roles
    )
    if problem:
        raise Unprocessable(problem, code="outside-target-audience")


async def check_free(session: AsyncSession, program: Program, teacher: Teacher) -> None:
    """Not in this program already, and no other program held on any of its days (one query)."""
    clash = (
        await session.execute(
            select(Enrolment.id, Enrolment.program_id, Program.title)
            .join(Program, Program.id == Enrolment.program_id)
            .where(
                Enrolment.teacher_id == teacher.id,
                or_(
                    Enrolment.program_id == program.id,
                    and_(
                        Enrolment.status.in_(POLICY.holding_statuses),
                        Program.starts_on <= program.ends_on,
                        Program.ends_on >= program.starts_on,
                    ),
                ),
            )
            .order_by(case((Enrolment.program_id == program.id, 0), else_=1))
            .limit(1)
        )
    ).first()
    if clash is not None:
        raise clash_problem(clash.id, clash.program_id, clash.title, program.id)


def clash_problem(
    enrolment_id: uuid.UUID, clash_program_id: uuid.UUID, title: str, program_id: uuid.UUID
) -> Conflict:
    """Why a teacher's enrolment clashes: this program already, or another on the same days."""
    if clash_program_id == program_id:
        return Conflict(
            "The teacher is already enrolled in this program.",
            code="already-enrolled",
            enrolment_id=str(enrolment_id),
        )
    return Conflict(
        f"The teacher already holds {title!r}, whose dates overlap this program.",
        code="overlapping-program",
    )


async def check_r6_evaluated(session: AsyncSession, program: Program, teacher: Teacher) -> None:
    """R6: next term's programs only after rating every completed program of this term."""
    today = district_today()
    this_term = term_of(today)
    if term_of(program.starts_on) <= this_term:
        return
    completed = (
        await session.execute(
            select(Program.id, Program.ends_on, Program.title)
            .join(Enrolment, Enrolment.program_id == Program.id)
            .where(Enrolment.teacher_id == teacher.id, Enrolment.status == "completed")
        )
    ).all()
    rated = set(
        (
            await session.scalars(
                select(ProgramRating.program_id).where(ProgramRating.teacher_id == teacher.id)
            )
        ).all()
    )
    pending = [
        row for row in completed if term_of(row.ends_on) == this_term and row.id not in rated
    ]
    if pending:
        raise Conflict(
            "Evaluate this term's programs before enrolling for next term: "
            + ", ".join(row.title for row in pending)
            + ".",
            code="r6-evaluation-pending",
            program_ids=[str(row.id) for row in pending],
            policy=POLICY.version,
        )


async def away_room(session: AsyncSession, program: Program, school_id) -> bool:
    """R7: whether the school may send one more teacher away during this program's dates."""
    if program.mode not in POLICY.away_modes:
        return True
    cap = await session.scalar(select(School.max_away).where(School.id == school_id))
    if cap is None:
        return True
    # Lock the school row so concurrent requests of a capped school count one after another.
    cap = await session.scalar(
        select(School.max_away).where(School.id == school_id).with_for_update()
    )
    away = await session.scalar(
        select(func.count(func.distinct(Enrolment.teacher_id)))
        .join(Program, Program.id == Enrolment.program_id)
        .where(
            Enrolment.school_id == school_id,
            Enrolment.status.in_(POLICY.away_statuses),
            Program.mode.in_(POLICY.away_modes),
            Program.starts_on <= program.ends_on,
            Program.ends_on >= program.starts_on,
        )
    )
    return cap is None or (away or 0) < cap


async def check_away_cap(session: AsyncSession, program: Program, school_id) -> None:
    if not await away_room(session, program, school_id):
        raise Conflict(
            "The school's cap on teachers away at once is reached for these dates.",
            code="r7-away-cap",
            policy=POLICY.version,
        )
