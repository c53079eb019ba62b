"""R8 as a report: teachers without district-level-or-above training in the last years."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.directory import teachers_query
from services.enrolment.eligibility import district_today
from services.enrolment.models import Enrolment, Program, School, Teacher
from services.enrolment.policy import POLICY
from shared.access import in_scope
from shared.auth import Principal, Role
from shared.errors import Forbidden


def _qualifying():
    return (
        select(Enrolment.teacher_id)
        .join(Program, Program.id == Enrolment.program_id)
        .where(
            Enrolment.status == "completed",
            Enrolment.passed.is_(True),
            Program.level.in_(POLICY.r8_levels),
        )
    )


def r8_cutoff(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - POLICY.r8_years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - POLICY.r8_years, day=28)


def training_gaps_query(principal: Principal, school_id: uuid.UUID | None) -> Select:
    if principal.role not in (Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN):
        raise Forbidden("The R8 report is for the bureau and school admins.")
    cutoff = r8_cutoff(district_today())
    recent = (
        _qualifying()
        .where(Enrolment.teacher_id == Teacher.id, Enrolment.completed_on >= cutoff)
        .exists()
    )
    query = teachers_query(principal).where(~recent)
    if school_id is not None:
        query = query.where(Teacher.school_id == school_id)
    return query


async def ensure_school_in_scope(
    session: AsyncSession, principal: Principal, school_id: uuid.UUID | None
) -> None:
    """A report on a named school is refused outside the caller's scope, not answered empty."""
    if school_id is None:
        return
    school = await session.get(School, school_id)
    if school is None or not in_scope(
        principal, district_id=school.district_id, school_id=school.id
    ):
        raise Forbidden("This school is outside your scope.", code="out-of-scope")


async def last_qualifying(
    session: AsyncSession, teacher_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dt.date]:
    rows = await session.execute(
        select(Enrolment.teacher_id, func.max(Enrolment.completed_on))
        .join(Program, Program.id == Enrolment.program_id)
        .where(
            Enrolment.teacher_id.in_(teacher_ids),
            Enrolment.status == "completed",
            Enrolment.passed.is_(True),
            Program.level.in_(POLICY.r8_levels),
        )
        .group_by(Enrolment.teacher_id)
    )
    return dict(rows.all())
