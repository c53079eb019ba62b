"""Compliance of a school or a district for a year and its cycle (R10–R15, R18).

It reads the per-teacher, per-year balances, never the entries. One query sums each
teacher's year and cycle; the shares are counted in the database from policy.RULE_TABLE
(so 100,000 teachers never cross into Python), and only the teachers listed as short are
evaluated one by one with policy.checks, from the same table.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import policies
from services.ledger.models import TeacherBalance, TeacherProjection
from services.ledger.policy import (
    RULE_TABLE,
    Check,
    DegreeTarget,
    Policy,
    Totals,
    checks,
    degrees_from,
    tenths,
)
from shared.auth import Principal, Role
from shared.errors import Forbidden, NotFound

T = TeacherProjection.__table__
B = TeacherBalance.__table__
TOTALS = tuple(Totals.__dataclass_fields__)


@dataclass
class TeacherRow:
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    name: str
    totals: Totals
    found: list[Check] = field(default_factory=list)

    @property
    def missing(self) -> dict[str, int]:
        return {c.rule: c.missing for c in self.found if not c.met}


def hours_text(tenths_value: int) -> str:
    return f"{Decimal(tenths_value) / 10:.1f}"


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


async def scope_of(
    session: AsyncSession, principal: Principal, school_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The school a report or an export covers, or None for the caller's whole district.

    The bureau sees its district or one school of it; a school admin only its own school; a
    client with hours:read its school if bound to one, else its district or a school of it.
    A school the ledger knows in another district is not found, never reported empty.
    """
    match principal.role:
        case Role.BUREAU_ADMIN:
            pass
        case Role.SCHOOL_ADMIN:
            if school_id is not None and school_id != principal.school_id:
                raise Forbidden("A school sees only its own teachers.", code="out-of-scope")
            return principal.school_id
        case Role.SERVICE:
            principal.require_scope("hours:read")
            if principal.school_id is not None:
                if school_id is not None and school_id != principal.school_id:
                    raise Forbidden("This client sees only its own school.", code="out-of-scope")
                return principal.school_id
        case _:
            raise Forbidden(f"A {principal.role.value} may not read these hours.")
    if school_id is not None:
        elsewhere = await session.scalar(
            select(T.c.id)
            .where(T.c.school_id == school_id, T.c.district_id != principal.district_id)
            .limit(1)
        )
        if elsewhere is not None:
            raise NotFound("No such school in your district.", code="unknown-school")
    return school_id


def totals_query(
    policy: Policy,
    *,
    district_id: uuid.UUID,
    school_id: uuid.UUID | None,
    year: int,
    in_id_order: bool = False,
) -> Select:
    """Per teacher: the Totals fields for `year`, each teacher in their own cycle (R10).

    By default only the years a rule reads are joined (fastest over a whole district);
    `in_id_order` joins a plain window of years instead, which PostgreSQL walks along both
    primary keys, so a LIMIT in teacher-id order stops early.
    """
    rules = policy.rules
    n = rules.cycle_years
    start = literal(rules.cycle_start_year)
    anchor = case((T.c.hired_year > start, T.c.hired_year), else_=start)
    if not rules.cycle_from_hire_date:
        anchor = start
    first = literal(year) - (((literal(year) - anchor) % n) + n) % n
    in_cycle = and_(B.c.year >= first, B.c.year <= first + (n - 1))
    in_pre = and_(
        T.c.hired_year.is_not(None),
        B.c.year >= T.c.hired_year,
        B.c.year < T.c.hired_year + rules.pre_service_years,
    )
    this_year = B.c.year == year
    span = max(n, rules.pre_service_years)
    window = and_(B.c.year > year - span, B.c.year < year + span)

    def total(condition: Any, column: Any, name: str) -> Any:
        return func.coalesce(func.sum(case((condition, column), else_=0)), 0).label(name)

    query = (
        select(
            T.c.id,
            T.c.school_id,
            T.c.name,
            T.c.stage,
            T.c.degree,
            T.c.hired_year,
            T.c.is_trainer,
            total(this_year, B.c.total, "year_total"),
            total(this_year, B.c.centralized, "year_centralized"),
            total(this_year, B.c.self_selected, "year_self_selected"),
            total(this_year, B.c.district_level, "year_district_level"),
            total(this_year, B.c.school_based, "year_school_based"),
            total(in_cycle, B.c.total, "cycle_total"),
            total(in_cycle, B.c.school_based, "cycle_school_based"),
            total(in_pre, B.c.total, "pre_service"),
            total(this_year, B.c.credits, "year_credits"),
        )
        .select_from(
            T.outerjoin(
                B,
                and_(B.c.teacher_id == T.c.id, window if in_id_order else or_(in_cycle, in_pre)),
            )
        )
        .where(T.c.district_id == district_id)
        .group_by(T.c.id)
    )
    if school_id is not None:
        query = query.where(T.c.school_id == school_id)
    return query


def rule_conditions(policy: Policy, t: Any, year: int) -> list[tuple[str, Any, Any]]:
    """RULE_TABLE as SQL: for each rule, who owes it and whether they have met it."""
    rules = policy.rules
    applies = {
        None: true(),
        "new_teacher": and_(
            t.c.hired_year.is_not(None),
            t.c.hired_year <= year,
            t.c.hired_year > year - rules.pre_service_years,
        ),
        "trainer": t.c.is_trainer == True,  # noqa: E712 - SQL, not Python truth
    }
    out = []
    for spec in RULE_TABLE:
        if spec.achieved == "cycle_school_based_credits":
            ratio = tenths(rules.hours_per_credit["school_based"])
            achieved = t.c.cycle_school_based * 10 / ratio  # integer division, as credit_tenths
        else:
            achieved = t.c[spec.achieved]
        met = achieved >= tenths(getattr(rules, spec.required))
        out.append((spec.rule, applies[spec.applies], met))
    return out


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def teacher_row(policy: Policy, row: Any, year: int) -> TeacherRow:
    """One teacher of a per-teacher query, evaluated by policy.checks."""
    totals = Totals(*(int(row[name]) for name in TOTALS))
    found = checks(
        policy.rules,
        totals,
        year=year,
        hired_year=row["hired_year"],
        is_trainer=bool(row["is_trainer"]),
    )
    return TeacherRow(row["id"], row["school_id"], row["name"], totals, found)


async def teacher_rows(
    session: AsyncSession, *, policy: Policy, query: Select, year: int
) -> list[TeacherRow]:
    """Teachers one by one, each evaluated by policy.checks (for lists and downloads)."""
    return [teacher_row(policy, row, year) for row in (await session.execute(query)).mappings()]


async def stream_teacher_rows(
    session: AsyncSession, *, policy: Policy, query: Select, year: int, size: int = 5000
) -> AsyncIterator[list[TeacherRow]]:
    """The same, `size` teachers at a time from a server-side cursor: a province's teachers
    never sit in memory together."""
    result = await session.stream(query.execution_options(yield_per=size))
    async for part in result.mappings().partitions(size):
        yield [teacher_row(policy, row, year) for row in part]


async def per_teacher(
    session: AsyncSession, *, principal: Principal, year: int, school_id: uuid.UUID | None
) -> tuple[Select, Policy]:
    """The per-teacher query of a report (its line per teacher download) and the policy that
    judges the year, without the report's aggregates."""
    school_id = await scope_of(session, principal, school_id)
    if principal.district_id is None:
        raise Forbidden("This caller has no district.")
    policy = await policies.in_force(session, principal.district_id, dt.date(year, 12, 31))
    query = totals_query(policy, district_id=principal.district_id, school_id=school_id, year=year)
    return query, policy


async def report(
    session: AsyncSession,
    *,
    principal: Principal,
    year: int,
    school_id: uuid.UUID | None,
    shortfall_limit: int,
) -> tuple[dict[str, Any], Select, Policy]:
    """The report's body, plus the per-teacher query and policy for a full download."""
    school_id = await scope_of(session, principal, school_id)
    district_id = principal.district_id
    if district_id is None:
        raise Forbidden("This caller has no district.")
    # The version in force at the year's end judges the year.
    policy = await policies.in_force(session, district_id, dt.date(year, 12, 31))
    rules = policy.rules
    per_teacher = totals_query(policy, district_id=district_id, school_id=school_id, year=year)
    t = per_teacher.subquery("t")
    conditions = rule_conditions(policy, t, year)
    compliant = and_(*(or_(not_(owes), met) for _, owes, met in conditions))
    columns: list[Any] = [
        t.c.school_id,
        t.c.stage,
        func.count().label("teachers"),
        _count(compliant).label("compliant"),
        _count(t.c.year_centralized >= tenths(rules.centralized_hours)).label("centralized"),
        func.sum(t.c.year_total).label("year_hours"),
        func.sum(t.c.cycle_total).label("cycle_hours"),
        func.sum(t.c.year_credits).label("year_credits"),
    ]
    for rule, owes, met in conditions:
        columns += [_count(owes).label(f"{rule}:owe"), _count(and_(owes, met)).label(f"{rule}:met")]
    for i, target in enumerate(rules.degree_targets):
        columns.append(_count(t.c.degree.in_(degrees_from(target.degree))).label(f"degree{i}"))
    if (await session.connection()).dialect.name == "postgresql":
        # A district's per-teacher sums sort and hash in memory, not in temporary files.
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
    grouped = (
        await session.execute(select(*columns).group_by(t.c.school_id, t.c.stage))
    ).mappings()
    totals: dict[str, int] = {}
    schools: dict[uuid.UUID, dict[str, int]] = {}
    stages: dict[str, dict[str, int]] = {}
    for row in grouped:
        school = schools.setdefault(row["school_id"], {})
        stage = stages.setdefault(row["stage"], {})
        for key, value in row.items():
            if key in ("school_id", "stage"):
                continue
            value = int(value or 0)
            totals[key] = totals.get(key, 0) + value
            school[key] = school.get(key, 0) + value
            stage[key] = stage.get(key, 0) + value
    n = totals.get("teachers", 0)
    ordered = totals_query(
        policy, district_id=district_id, school_id=school_id, year=year, in_id_order=True
    ).subquery("t")
    short_compliant = and_(
        *(or_(not_(owes), met) for _, owes, met in rule_conditions(policy, ordered, year))
    )
    short_query = (
        select(ordered).where(not_(short_compliant)).order_by(ordered.c.id).limit(shortfall_limit)
    )
    short = await teacher_rows(session, policy=policy, query=short_query, year=year)
    r14_share = Decimal(totals.get("centralized", 0)) / n if n else Decimal(0)
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
        "compliant": totals.get("compliant", 0),
        "compliant_share": _share(totals.get("compliant", 0), n),
        "rules": [
            {
                "rule": rule,
                "applicable": totals.get(f"{rule}:owe", 0),
                "met": totals.get(f"{rule}:met", 0),
                "share": _share(totals.get(f"{rule}:met", 0), totals.get(f"{rule}:owe", 0)),
            }
            for rule, _, _ in conditions
            if totals.get(f"{rule}:owe", 0)
        ],
        "r14": {
            "threshold_hours": hours_text(tenths(rules.centralized_hours)),
            "target_share": f"{rules.centralized_share:.4f}",
            "teachers": totals.get("centralized", 0),
            "share": f"{r14_share:.4f}",
            "met": n > 0 and r14_share >= rules.centralized_share,
        },
        "r18": [
            degree_share(
                target,
                stages.get(target.stage, {}).get("teachers", 0),
                stages.get(target.stage, {}).get(f"degree{i}", 0),
            )
            for i, target in enumerate(rules.degree_targets)
        ],
        "averages": {
            "year_hours": hours_text(totals.get("year_hours", 0) // n if n else 0),
            "cycle_hours": hours_text(totals.get("cycle_hours", 0) // n if n else 0),
            "year_credits": hours_text(totals.get("year_credits", 0) // n if n else 0),
        },
        "schools": [
            {
                "school_id": str(sid),
                "teachers": s["teachers"],
                "compliant": s["compliant"],
                "compliant_share": _share(s["compliant"], s["teachers"]),
                "r14_share": _share(s["centralized"], s["teachers"]),
                "average_year_hours": hours_text(s["year_hours"] // s["teachers"]),
            }
            for sid, s in sorted(schools.items(), key=lambda kv: str(kv[0]))
        ],
        "shortfall": {
            "count": n - totals.get("compliant", 0),
            "items": [
                {
                    "teacher_id": str(r.teacher_id),
                    "school_id": str(r.school_id),
                    "name": r.name,
                    "missing": {rule: hours_text(v) for rule, v in sorted(r.missing.items())},
                }
                for r in short
            ],
        },
    }
    return body, per_teacher, policy
