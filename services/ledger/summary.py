"""A teacher's hours: totals for a year and the cycle, and progress against the policy."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.models import LedgerEntry, TeacherProjection
from services.ledger.policy import DEFAULT_POLICY, RequirementPolicy, cycle_of
from services.ledger.schemas import HoursSummary, Requirement
from shared.access import ensure_in_scope
from shared.auth import Principal, Role
from shared.errors import Forbidden, NotFound

ZERO = Decimal("0.0")


async def authorize_teacher(
    session: AsyncSession, principal: Principal, teacher_id: uuid.UUID, scope: str
) -> None:
    """A teacher sees their own; schools, the bureau and scoped clients see those in scope."""
    if principal.role is Role.TEACHER and principal.teacher_id == teacher_id:
        return
    teacher = await session.get(TeacherProjection, teacher_id)
    if teacher is None:
        if principal.role is Role.TEACHER:
            raise Forbidden("A teacher sees only their own hours.", code="out-of-scope")
        raise NotFound("No such teacher.")
    principal.require_scope(scope)
    ensure_in_scope(
        principal,
        "teacher",
        district_id=teacher.district_id,
        school_id=teacher.school_id,
        teacher_id=teacher_id,
    )


async def hours_summary(
    session: AsyncSession,
    *,
    teacher_id: uuid.UUID,
    year: int,
    policy: RequirementPolicy = DEFAULT_POLICY,
) -> HoursSummary:
    first, last = cycle_of(policy, year)
    rows = (
        await session.execute(
            select(
                LedgerEntry.year,
                LedgerEntry.mode,
                LedgerEntry.level,
                LedgerEntry.category,
                func.sum(LedgerEntry.hours),
            )
            .where(
                LedgerEntry.teacher_id == teacher_id,
                LedgerEntry.year >= first,
                LedgerEntry.year <= last,
            )
            .group_by(LedgerEntry.year, LedgerEntry.mode, LedgerEntry.level, LedgerEntry.category)
        )
    ).all()
    total = cycle_total = ZERO
    by_mode: dict[str, Decimal] = {}
    by_level: dict[str, Decimal] = {}
    by_category: dict[str, Decimal] = {}
    for row_year, mode, level, category, hours in rows:
        hours = hours or ZERO
        cycle_total += hours
        if row_year != year:
            continue
        total += hours
        by_mode[mode] = by_mode.get(mode, ZERO) + hours
        by_level[level] = by_level.get(level, ZERO) + hours
        by_category[category] = by_category.get(category, ZERO) + hours
    return HoursSummary(
        teacher_id=teacher_id,
        year=year,
        policy_version=policy.version,
        total_hours=total,
        cycle={"first_year": first, "last_year": last, "hours": cycle_total},
        by_mode=by_mode,
        by_level=by_level,
        by_category=by_category,
        requirements=[
            Requirement.of("R12.annual_minimum", policy.annual_minimum_hours, total),
            Requirement.of("R10.cycle_total", policy.cycle_hours, cycle_total),
        ],
    )
