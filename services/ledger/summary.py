"""A teacher's hours: totals, progress against every requirement, and a pace projection."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import balances, policies
from services.ledger.models import LedgerEntry, RatedProgram, TeacherProjection
from services.ledger.policy import checks, cycle_of, is_new_teacher, pace
from services.ledger.schemas import HoursSummary, Outlook, PolicyRef, Requirement
from shared.access import ensure_in_scope
from shared.auth import Principal, Role
from shared.errors import Forbidden, NotFound


async def authorize_teacher(
    session: AsyncSession, principal: Principal, teacher_id: uuid.UUID, scope: str
) -> TeacherProjection | None:
    """A teacher sees their own; schools, the bureau and scoped clients see those in scope."""
    teacher = await session.get(TeacherProjection, teacher_id)
    if principal.role is Role.TEACHER and principal.teacher_id == teacher_id:
        return teacher
    if teacher is None:
        if principal.role is Role.TEACHER:
            raise Forbidden("A teacher sees only their own hours.", code="out-of-scope")
        raise NotFound("No such teacher.", message="not-found.teacher")
    principal.require_scope(scope)
    ensure_in_scope(
        principal,
        "teacher",
        district_id=teacher.district_id,
        school_id=teacher.school_id,
        teacher_id=teacher_id,
    )
    return teacher


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """R17: a teacher sees a program's hours only once they have rated it; others see all."""
    if principal.role is not Role.TEACHER:
        return true()
    return or_(
        LedgerEntry.program_id.is_(None),
        exists().where(
            and_(
                RatedProgram.teacher_id == LedgerEntry.teacher_id,
                RatedProgram.program_id == LedgerEntry.program_id,
            )
        ),
    )


async def withheld_programs(
    session: AsyncSession, principal: Principal, teacher_id: uuid.UUID
) -> list[uuid.UUID]:
    if principal.role is not Role.TEACHER:
        return []
    rows = await session.scalars(
        select(LedgerEntry.program_id)
        .where(LedgerEntry.teacher_id == teacher_id, ~visible_to(principal))
        .distinct()
    )
    return sorted(rows.all())


async def hours_summary(
    session: AsyncSession,
    *,
    principal: Principal,
    teacher_id: uuid.UUID,
    teacher: TeacherProjection | None,
    year: int,
    today: dt.date,
) -> HoursSummary:
    district_id = teacher.district_id if teacher else principal.district_id
    hired_year = teacher.hired_year if teacher else None
    # The version in force at the year's end judges the year.
    policy = await policies.in_force(session, district_id, dt.date(year, 12, 31))
    rules = policy.rules
    first, last = cycle_of(rules, year, hired_year)
    # Pre-service hours (R11) may lie before the cycle for a teacher still new.
    low = min(first, hired_year) if is_new_teacher(rules, year, hired_year) else first
    entries = (
        await session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.teacher_id == teacher_id,
                LedgerEntry.year >= low,
                LedgerEntry.year <= max(last, year),
                visible_to(principal),
            )
        )
    ).all()
    per_year = {y: d for (_, y), d in balances.recompute(entries).items()}
    totals = balances.totals_from_years(rules, per_year, year=year, hired_year=hired_year)
    by_mode: dict[str, Decimal] = {}
    by_level: dict[str, Decimal] = {}
    by_category: dict[str, Decimal] = {}
    credits = Decimal("0.0")
    for entry in entries:
        if entry.year != year:
            continue
        by_mode[entry.mode] = by_mode.get(entry.mode, Decimal("0.0")) + entry.hours
        by_level[entry.level] = by_level.get(entry.level, Decimal("0.0")) + entry.hours
        by_category[entry.category] = by_category.get(entry.category, Decimal("0.0")) + entry.hours
        credits += entry.credits
    found = checks(
        rules,
        totals,
        year=year,
        hired_year=hired_year,
        is_trainer=bool(teacher and teacher.is_trainer),
    )
    outlook = pace(rules, first_year=first, cycle_total=totals.cycle_total, today=today)
    return HoursSummary(
        teacher_id=teacher_id,
        year=year,
        policy_version=policy.label,
        policy=PolicyRef(
            id=policy.id,
            version=policy.label,
            effective_from=policy.effective_from,
            name=policy.name,
            number=policy.number,
        ),
        total_hours=Decimal(totals.year_total) / 10,
        credits=credits,
        cycle={"first_year": first, "last_year": last, "hours": Decimal(totals.cycle_total) / 10},
        by_mode=by_mode,
        by_level=by_level,
        by_category=by_category,
        requirements=[Requirement.of(c) for c in found],
        missing=[c.rule for c in found if not c.met],
        projection=Outlook(
            elapsed_years=outlook.elapsed_years,
            projected_cycle_hours=Decimal(outlook.projected) / 10,
            required_cycle_hours=rules.cycle_hours,
            on_track=outlook.on_track,
        ),
        withheld_programs=await withheld_programs(session, principal, teacher_id),
    )
