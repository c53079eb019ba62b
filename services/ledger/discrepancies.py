"""What the provincial platform holds against what the district's ledger holds, per teacher
and year (对账).

Every entry has an origin: the province (a provincial import) or this district (completions,
recognitions; a reversal takes its original's origin). The province holds its own entries
and those of the district it accepted; the ledger holds all. The difference is what the
province does not have: reported and not answered yet (pending), rejected, or not reported.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.ledger.compliance import hours_text
from services.ledger.imports import SOURCE
from services.ledger.models import LedgerEntry, ProvincialReport, TeacherProjection

BUCKETS = ("from_province", "accepted", "pending", "rejected", "not_reported")


def _sums() -> tuple[Any, list[Any], Any]:
    """The reversal's original (joined), each bucket's sum in tenths, and the gap's."""
    original = aliased(LedgerEntry)
    origin = func.coalesce(original.source, LedgerEntry.source)
    tenths = type_coerce(LedgerEntry.hours, BigInteger)
    here = origin != SOURCE
    status = ProvincialReport.status
    conditions: dict[str, ColumnElement[bool]] = {
        "from_province": origin == SOURCE,
        "accepted": here & (status == "accepted"),
        "pending": here & (status == "sent"),
        "rejected": here & (status == "rejected"),
        "not_reported": here & status.is_(None),
    }

    def total(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, tenths), else_=0)), 0)

    sums = [total(condition).label(name) for name, condition in conditions.items()]
    gap = total(here & (status.is_(None) | (status != "accepted")))
    return original, sums, gap


async def per_teacher_year(
    session: AsyncSession,
    *,
    district_id: uuid.UUID,
    teacher_id: uuid.UUID | None = None,
    school_id: uuid.UUID | None = None,
    year: int | None = None,
    visible: ColumnElement[bool] | None = None,
    only_different: bool = False,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """A line per teacher and year: each bucket's hours, what each side holds, the gap."""
    original, sums, gap = _sums()
    query = (
        select(LedgerEntry.teacher_id, TeacherProjection.name, LedgerEntry.year, *sums)
        .join(TeacherProjection, TeacherProjection.id == LedgerEntry.teacher_id)
        .outerjoin(original, original.id == LedgerEntry.reverses_id)
        .outerjoin(ProvincialReport, ProvincialReport.entry_id == LedgerEntry.id)
        .where(TeacherProjection.district_id == district_id)
        .group_by(LedgerEntry.teacher_id, TeacherProjection.name, LedgerEntry.year)
        .order_by(LedgerEntry.teacher_id, LedgerEntry.year)
        .limit(limit)
    )
    if teacher_id is not None:
        query = query.where(LedgerEntry.teacher_id == teacher_id)
    if school_id is not None:
        query = query.where(TeacherProjection.school_id == school_id)
    if year is not None:
        query = query.where(LedgerEntry.year == year)
    if visible is not None:
        query = query.where(visible)
    if only_different:
        query = query.having(gap != 0)
    out = []
    for row in (await session.execute(query)).mappings():
        values = {name: int(row[name]) for name in BUCKETS}
        province = values["from_province"] + values["accepted"]
        ledger = province + values["pending"] + values["rejected"] + values["not_reported"]
        out.append(
            {
                "teacher_id": str(row["teacher_id"]),
                "name": row["name"],
                "year": row["year"],
                **{name: hours_text(v) for name, v in values.items()},
                "province_holds": hours_text(province),
                "ledger_holds": hours_text(ledger),
                "difference": hours_text(ledger - province),
            }
        )
    return out
