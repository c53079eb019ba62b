"""Compliance of a school or a district for a year and its cycle (R10–R15, R18).

It reads the per-teacher, per-year balances, never the entries, so a district of 100,000
teachers answers in one grouped query; every rule is then evaluated by policy.checks.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import policies
from services.ledger.models import TeacherBalance, TeacherProjection
from services.ledger.policy import (
    Check,
    DegreeTarget,
    Policy,
    Totals,
    checks,
    holds_degree,
    takes_centralized,
)
from shared.auth import Principal, Role
from shared.errors import Forbidden

T = TeacherProjection.__table__
B = TeacherBalance.__table__


@dataclass
class TeacherRow:
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    name: str
    stage: str
    degree: str
    totals: Totals
    year_credits: int
    found: list[Check] = field(default_factory=list)

    @property
    def missing(self) -> dict[str, int]:
        return {c.rule: c.missing for c in self.found if not c.met}


def hours_text(tenths: int) -> str:
    return f"{Decimal(tenths) / 10:.1f}"


def _share(part: int, whole: int) -> str:
    return f"{(Decimal(part) / whole if whole else Decimal(0)):.4f}"


def degree_share(target: DegreeTarget, teachers: int, holding: int) -> dict[str, Any]:
    """R18: the share of a stage's teachers holding the target degree, against the target."""
    share = Decimal(holding) / teachers if teachers else Decimal(0)
    return {
        "stage": target.stage,
        "degree": target.degree,
        "target_share": f"{target.share:.4f}",
        "teachers": teachers,
        "holding": holding,
        "share": f"{share:.4f}",
        "met": teachers > 0 and share >= target.share,
    }


def scope_of(principal: Principal, school_id: uuid.UUID | None) -> uuid.UUID | None:
    """The bureau sees its district or one school of it; a school admin only its own school."""
    match principal.role:
        case Role.BUREAU_ADMIN:
            return school_id
        case Role.SCHOOL_ADMIN:
            if school_id is not None and school_id != principal.school_id:
                raise Forbidden("A school sees only its own compliance.", code="out-of-scope")
            return principal.school_id
        case Role.SERVICE:
            principal.require_scope("reports:read")
            if principal.school_id is not None:
                return principal.school_id
            return school_id
    raise Forbidden(f"A {principal.role.value} may not read compliance reports.")


async def teacher_rows(
    session: AsyncSession,
    *,
    policy: Policy,
    district_id: uuid.UUID,
    school_id: uuid.UUID | None,
    year: int,
) -> list[TeacherRow]:
    rules = policy.rules
    n = rules.cycle_years
    start = literal(rules.cycle_start_year)
    if rules.cycle_from_hire_date:
        anchor = case((T.c.hired_year > start, T.c.hired_year), else_=start)
    else:
        anchor = start
    offset = (((literal(year) - anchor) % n) + n) % n
    first = literal(year) - offset
    in_cycle = and_(B.c.year >= first, B.c.year <= first + (n - 1))
    in_pre = and_(
        T.c.hired_year.is_not(None),
        B.c.year >= T.c.hired_year,
        B.c.year < T.c.hired_year + rules.pre_service_years,
    )
    this_year = B.c.year == year

    def total(condition: Any, column: Any) -> Any:
        return func.coalesce(func.sum(case((condition, column), else_=0)), 0)

    span = max(n, rules.pre_service_years)
    query = (
        select(
            T.c.id,
            T.c.school_id,
            T.c.name,
            T.c.stage,
            T.c.degree,
            T.c.hired_year,
            T.c.is_trainer,
            total(this_year, B.c.total),
            total(this_year, B.c.centralized),
            total(this_year, B.c.self_selected),
            total(this_year, B.c.district_level),
            total(this_year, B.c.school_based),
            total(in_cycle, B.c.total),
            total(in_cycle, B.c.school_based),
            total(in_pre, B.c.total),
            total(this_year, B.c.credits),
        )
        .select_from(
            T.outerjoin(
                B,
                and_(
                    B.c.teacher_id == T.c.id,
                    B.c.year >= year - span,
                    B.c.year <= year + span,
                ),
            )
        )
        .where(T.c.district_id == district_id)
        .group_by(T.c.id)
    )
    if school_id is not None:
        query = query.where(T.c.school_id == school_id)
    out = []
    for row in (await session.execute(query)).all():
        totals = Totals(*(int(v) for v in row[7:15]))
        found = checks(rules, totals, year=year, hired_year=row[5], is_trainer=bool(row[6]))
        out.append(TeacherRow(row[0], row[1], row[2], row[3], row[4], totals, int(row[15]), found))
    return out


async def report(
    session: AsyncSession,
    *,
    principal: Principal,
    year: int,
    school_id: uuid.UUID | None,
    shortfall_limit: int,
) -> tuple[dict[str, Any], list[TeacherRow]]:
    school_id = scope_of(principal, school_id)
    district_id = principal.district_id
    if district_id is None:
        raise Forbidden("This caller has no district.")
    # The version in force at the year's end judges the year.
    policy = await policies.in_force(session, district_id, dt.date(year, 12, 31))
    rules = policy.rules
    rows = await teacher_rows(
        session, policy=policy, district_id=district_id, school_id=school_id, year=year
    )
    applicable: dict[str, int] = {}
    met: dict[str, int] = {}
    schools: dict[uuid.UUID, dict[str, int]] = {}
    centralized = year_sum = cycle_sum = credit_sum = 0
    stages: dict[str, list[int]] = {}
    short: list[TeacherRow] = []
    for teacher in rows:
        compliant = True
        for check in teacher.found:
            compliant = compliant and check.met
            applicable[check.rule] = applicable.get(check.rule, 0) + 1
            if check.met:
                met[check.rule] = met.get(check.rule, 0) + 1
        took = takes_centralized(rules, teacher.totals)
        centralized += took
        year_sum += teacher.totals.year_total
        cycle_sum += teacher.totals.cycle_total
        credit_sum += teacher.year_credits
        school = schools.setdefault(
            teacher.school_id, {"teachers": 0, "compliant": 0, "centralized": 0, "hours": 0}
        )
        school["teachers"] += 1
        school["compliant"] += compliant
        school["centralized"] += took
        school["hours"] += teacher.totals.year_total
        counts = stages.setdefault(teacher.stage, [0, 0])
        counts[0] += 1
        if not compliant:
            short.append(teacher)
        for target in rules.degree_targets:
            if target.stage == teacher.stage and holds_degree(teacher.degree, target.degree):
                counts[1] += 1
    n = len(rows)
    r14_share = Decimal(centralized) / n if n else Decimal(0)
    body: dict[str, Any] = {
        "district_id": str(district_id),
        "school_id": str(school_id) if school_id else None,
        "year": year,
        "policy": {
            "id": policy.id,
            "version": policy.label,
            "effective_from": policy.effective_from.isoformat(),
        },
        "teachers": n,
        "compliant": n - len(short),
        "compliant_share": _share(n - len(short), n),
        "rules": [
            {
                "rule": rule,
                "applicable": count,
                "met": met.get(rule, 0),
                "share": _share(met.get(rule, 0), count),
            }
            for rule, count in sorted(applicable.items())
        ],
        "r14": {
            "threshold_hours": hours_text(int(rules.centralized_hours * 10)),
            "target_share": f"{rules.centralized_share:.4f}",
            "teachers": centralized,
            "share": f"{r14_share:.4f}",
            "met": n > 0 and r14_share >= rules.centralized_share,
        },
        "r18": [
            degree_share(target, *stages.get(target.stage, [0, 0]))
            for target in rules.degree_targets
        ],
        "averages": {
            "year_hours": hours_text(year_sum // n if n else 0),
            "cycle_hours": hours_text(cycle_sum // n if n else 0),
            "year_credits": hours_text(credit_sum // n if n else 0),
        },
        "schools": [
            {
                "school_id": str(sid),
                "teachers": s["teachers"],
                "compliant": s["compliant"],
                "compliant_share": _share(s["compliant"], s["teachers"]),
                "r14_share": _share(s["centralized"], s["teachers"]),
                "average_year_hours": hours_text(s["hours"] // s["teachers"]),
            }
            for sid, s in sorted(schools.items(), key=lambda kv: str(kv[0]))
        ],
        "shortfall": {
            "count": len(short),
            "items": [
                {
                    "teacher_id": str(t.teacher_id),
                    "school_id": str(t.school_id),
                    "name": t.name,
                    "missing": {rule: hours_text(v) for rule, v in sorted(t.missing.items())},
                }
                for t in short[:shortfall_limit]
            ],
        },
    }
    return body, rows
