"""Budget execution per school and district, and the spot-check list (R23)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import extract, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.budget import journal, policy
from services.budget.models import (
    BudgetLine,
    FundPool,
    ProgramBudget,
    ProgramProjection,
    SchoolProjection,
)
from services.budget.pools import spent
from services.budget.programs import spent_by_category
from services.budget.schemas import BudgetExecution, ExecutionRow, SpotCheckRow
from shared.auth import Principal, Role
from shared.errors import Forbidden
from shared.xlsx import Yuan, xlsx_bytes

COLUMNS = ("allocated_fen", "committed_fen", "spent_fen", "paid_fen", "balance_fen")


def _scope(principal: Principal, school_id: uuid.UUID | None) -> uuid.UUID | None:
    """The school a caller's report is limited to, if any (DOMAIN.md "Who may see what")."""
    principal.require_scope("budget:read")
    match principal.role:
        case Role.BUREAU_ADMIN | Role.SERVICE:
            return principal.school_id or school_id
        case Role.SCHOOL_ADMIN:
            if school_id is not None and school_id != principal.school_id:
                raise Forbidden("A school sees only its own funds.", code="out-of-scope")
            return principal.school_id
    raise Forbidden("Budget execution is for the bureau and schools.", code="out-of-scope")


def _row(row_id: uuid.UUID, name: str, totals: dict[str, int]) -> ExecutionRow:
    return ExecutionRow(
        id=row_id,
        name=name,
        **{c: totals.get(c, 0) for c in COLUMNS},
        execution_rate=policy.execution_rate(
            totals.get("allocated_fen", 0), totals.get("spent_fen", 0)
        ),
    )


async def budget_execution(
    session: AsyncSession,
    *,
    principal: Principal,
    year: int,
    school_id: uuid.UUID | None,
    threshold: Decimal | None,
) -> BudgetExecution:
    only_school = _scope(principal, school_id)
    if school_id is not None and principal.role is not Role.SCHOOL_ADMIN:
        # A school of another district (or none known) is outside the caller's scope: refused,
        # not answered with an empty report as if it had no money.
        school = await session.get(SchoolProjection, school_id)
        if school is None or school.district_id != principal.district_id:
            raise Forbidden("This school is outside your scope.", code="out-of-scope")
    threshold = threshold if threshold is not None else policy.policy().spot_check_threshold
    query = select(FundPool).where(
        FundPool.district_id == principal.district_id, FundPool.fiscal_year == year
    )
    if only_school is not None:
        query = query.where(FundPool.school_id == only_school)
    pools = list((await session.scalars(query)).all())
    sums = await journal.balances(session, [p.id for p in pools])
    by_school: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_district: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pool in pools:
        b = sums.get(pool.id, {})
        figures = {
            "committed_fen": b.get(journal.COMMITTED, 0),
            "spent_fen": spent(b),
            "paid_fen": b.get(journal.PAID, 0) + b.get(journal.EXPENSE, 0),
            "balance_fen": b.get(journal.AVAILABLE, 0),
        }
        targets = [by_district[pool.district_id]]
        if pool.school_id is not None:
            targets.append(by_school[pool.school_id])
            by_school[pool.school_id]["allocated_fen"] += pool.amount_fen
        # Money passed from the bureau to a school is counted once in the district.
        if pool.parent_pool_id is None:
            by_district[pool.district_id]["allocated_fen"] += pool.amount_fen
        for target in targets:
            for column, value in figures.items():
                target[column] += value
    names = {
        s.id: s.name
        for s in await session.scalars(
            select(SchoolProjection).where(SchoolProjection.id.in_(list(by_school)))
        )
    }
    return BudgetExecution(
        year=year,
        threshold=threshold,
        schools=[_row(i, names.get(i, ""), t) for i, t in sorted(by_school.items(), key=str)],
        districts=[] if only_school else [_row(i, "", t) for i, t in by_district.items()],
        spot_checks=await spot_checks(
            session, principal=principal, year=year, school_id=only_school, threshold=threshold
        ),
    )


async def spot_checks(
    session: AsyncSession,
    *,
    principal: Principal,
    year: int,
    school_id: uuid.UUID | None,
    threshold: Decimal,
) -> list[SpotCheckRow]:
    """R23: programs of the year whose spending deviates from plan by more than threshold."""
    query = (
        select(ProgramProjection)
        .join(ProgramBudget, ProgramBudget.program_id == ProgramProjection.id)
        .where(
            ProgramProjection.district_id == principal.district_id,
            extract("year", ProgramProjection.starts_on) == year,
        )
        .order_by(ProgramProjection.starts_on, ProgramProjection.id)
    )
    if school_id is not None:
        query = query.where(ProgramProjection.school_id == school_id)
    out = []
    for program in await session.scalars(query):
        lines = {
            line.category: line.planned_fen
            for line in await session.scalars(
                select(BudgetLine).where(BudgetLine.program_id == program.id)
            )
        }
        actual = await spent_by_category(session, program.id)
        planned_total, actual_total = sum(lines.values()), sum(actual.values())
        total = policy.deviation(planned_total, actual_total)
        if total is None or abs(total) <= threshold:
            continue
        categories = {
            c: d
            for c, planned in lines.items()
            if (d := policy.deviation(planned, actual.get(c, 0))) is not None and abs(d) > threshold
        }
        out.append(
            SpotCheckRow(
                program_id=program.id,
                title=program.title,
                planned_fen=planned_total,
                actual_fen=actual_total,
                deviation=total,
                categories=categories,
            )
        )
    return out


# The columns of COLUMNS as a person reads them: money in 元.
MONEY_HEADER = {
    "allocated_fen": "已分配（元）",
    "committed_fen": "已承诺（元）",
    "spent_fen": "已支出（元）",
    "paid_fen": "已支付（元）",
    "balance_fen": "余额（元）",
}


def to_xlsx(report: BudgetExecution) -> bytes:
    """The same report as a workbook: schools, districts, spot checks; money in 元 with
    two decimals (the JSON keeps integer fen), rates as numbers (0.85 is 85 %)."""
    header = ["名称", *(MONEY_HEADER[c] for c in COLUMNS), "执行率", "ID"]

    def lines(rows: list) -> list[list]:
        return [
            [r.name, *(Yuan(getattr(r, c)) for c in COLUMNS), r.execution_rate, str(r.id)]
            for r in rows
        ]

    checks = [
        [c.title, Yuan(c.planned_fen), Yuan(c.actual_fen), c.deviation, str(c.program_id)]
        for c in report.spot_checks
    ]
    return xlsx_bytes(
        [
            ("学校", ["学校", *header[1:]], lines(report.schools)),
            ("区县", ["区县", *header[1:]], lines(report.districts)),
            (
                "抽查",
                ["项目", "预算（元）", "实际支出（元）", "偏差率", "项目ID"],
                checks,
            ),
        ]
    )
