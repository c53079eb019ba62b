"""Programs for me: open to the teacher, free on their dates, ranked by the gaps they close.

The gaps are the ledger's (`teacher_standing`, kept from ledger.teacher.standing_changed.v1):
each requirement says how many hours are missing and which programs count toward it, so this
module only matches and adds; it never calls the ledger and knows no rule's buckets itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.enrolment.catalogue import (
    audience_condition,
    institution_names,
    item_fields,
)
from services.enrolment.eligibility import district_today
from services.enrolment.models import Enrolment, Program, Teacher, TeacherStanding
from services.enrolment.policy import POLICY, RECOMMEND, teacher_roles
from services.enrolment.programs import programs_query
from services.enrolment.schemas import ForMeItem, ForMeRead, GapClosed
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import Forbidden, NotFound


def hours_text(hours: Decimal) -> str:
    """12 rather than 12.0; 1.5 stays 1.5."""
    return f"{hours:.0f}" if hours == hours.to_integral_value() else f"{hours:.1f}"


def counts_toward(item: dict[str, Any], program: Program) -> bool:
    """Whether the program's hours count toward a requirement (the ledger's own filter)."""
    return (
        (not item.get("modes") or program.mode in item["modes"])
        and (not item.get("levels") or program.level in item["levels"])
        and (not item.get("categories") or program.category in item["categories"])
        and program.mode not in (item.get("exclude_modes") or ())
    )


@dataclass(frozen=True)
class Fit:
    program: Program
    closes: list[GapClosed]
    this_year: Decimal
    long_term: Decimal
    reason: str


def gaps_of(standing: TeacherStanding | None, year: int) -> list[dict[str, Any]]:
    """The requirements still missing hours this year; none from a standing of another year."""
    if standing is None or standing.year != year:
        return []
    return [r for r in standing.requirements if Decimal(str(r["missing_hours"])) > 0]


def fit(program: Program, gaps: list[dict[str, Any]]) -> Fit:
    closes: list[tuple[GapClosed, Decimal]] = []
    for gap in gaps:
        if counts_toward(gap, program):
            missing = Decimal(str(gap["missing_hours"]))
            closes.append(
                (
                    GapClosed(
                        rule=gap["rule"], label=gap["label"], hours=min(program.hours, missing)
                    ),
                    missing,
                )
            )
    this_year = [c for c, _ in closes if c.rule not in RECOMMEND.long_term_rules]
    long_term = [c for c, _ in closes if c.rule in RECOMMEND.long_term_rules]
    # The reason names the gap it closes most of; of equals, the narrower (fewest missing),
    # e.g. district-level hours before the annual minimum that the same hours also serve.
    pool = [(c, m) for c, m in closes if c.rule not in RECOMMEND.long_term_rules] or closes
    if pool:
        best, _ = max(pool, key=lambda cm: (cm[0].hours, -cm[1]))
        reason = RECOMMEND.reason.format(label=best.label, hours=hours_text(best.hours))
    else:
        reason = RECOMMEND.reason_without_gap.format(hours=hours_text(program.hours))
    return Fit(
        program=program,
        closes=[c for c, _ in closes],
        this_year=sum((c.hours for c in this_year), Decimal(0)),
        long_term=sum((c.hours for c in long_term), Decimal(0)),
        reason=reason,
    )


def candidates_query(principal: Principal, teacher: Teacher, now: dt.datetime):
    """Published programs still open (or opening) for enrolment, open to this teacher, and not
    on days the teacher already holds a program; their own enrolments left out too."""
    held = aliased(Program)
    clash = (
        select(Enrolment.id)
        .join(held, held.id == Enrolment.program_id)
        .where(
            Enrolment.teacher_id == teacher.id,
            or_(
                Enrolment.program_id == Program.id,
                and_(
                    Enrolment.status.in_(POLICY.holding_statuses),
                    held.starts_on <= Program.ends_on,
                    held.ends_on >= Program.starts_on,
                ),
            ),
        )
    )
    roles = sorted(teacher_roles(teacher.roles, teacher.hired_on, district_today()))
    return (
        programs_query(principal)
        .where(
            Program.status == "published",
            Program.enrol_closes_at >= now,
            *audience_condition(stage=teacher.stage, subject=teacher.subject, roles=roles),
            ~exists(clash),
        )
        .order_by(Program.starts_on, Program.id)
        .limit(RECOMMEND.candidates)
    )


async def for_me(session: AsyncSession, *, principal: Principal, limit: int) -> ForMeRead:
    if principal.role is not Role.TEACHER:
        raise Forbidden("“为我推荐”只面向教师本人。", code="teachers-only")
    teacher = await session.get(Teacher, principal.teacher_id)
    if teacher is None:
        raise NotFound("找不到这位教师的档案。", code="unknown-teacher")
    now = utcnow()
    standing = await session.get(TeacherStanding, teacher.id)
    gaps = gaps_of(standing, district_today().year)
    programs = list((await session.scalars(candidates_query(principal, teacher, now))).all())
    ranked = sorted(
        (fit(p, gaps) for p in programs),
        key=lambda f: (-f.this_year, -f.long_term, f.program.starts_on, f.program.id),
    )[:limit]
    names = await institution_names(session, [f.program for f in ranked])
    return ForMeRead(
        items=[
            ForMeItem(
                **item_fields(f.program, now=now, names=names, mine={}),
                reason=f.reason,
                closes=f.closes,
            )
            for f in ranked
        ],
        policy_version=standing.policy_version if standing else None,
        gaps_as_of=standing.as_of if standing else None,
    )


async def record_standing(
    session: AsyncSession,
    *,
    teacher_id: uuid.UUID,
    year: int,
    policy_version: str,
    requirements: list[dict[str, Any]],
    as_of: dt.datetime,
) -> None:
    """Keep the latest standing of a teacher; an older one arriving late changes nothing."""
    row = await session.get(TeacherStanding, teacher_id)
    if row is None:
        session.add(
            TeacherStanding(
                teacher_id=teacher_id,
                year=year,
                policy_version=policy_version,
                requirements=requirements,
                as_of=as_of,
            )
        )
        return
    if row.as_of >= as_of:
        return
    row.year, row.policy_version, row.requirements, row.as_of = (
        year,
        policy_version,
        requirements,
        as_of,
    )
