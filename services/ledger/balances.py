"""Per-teacher, per-year balances: a projection of the entries, kept in the same transaction.

The buckets are facts of an entry (its mode, level, category), so the projection never
depends on a policy version; the policy only sets the thresholds that are compared with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.models import LedgerEntry, TeacherBalance
from services.ledger.policy import DISTRICT_LEVEL_OR_ABOVE, PolicyRules, Totals, cycle_of

BUCKETS = ("total", "centralized", "self_selected", "district_level", "school_based", "credits")


@dataclass
class Delta:
    """What one or more entries add to a teacher's year, in tenths."""

    total: int = 0
    centralized: int = 0
    self_selected: int = 0
    district_level: int = 0
    school_based: int = 0
    credits: int = 0
    entries: int = 0

    def add(self, *, hours: int, credits: int, mode: str, level: str, category: str) -> None:
        self.total += hours
        self.credits += credits
        self.entries += 1
        if mode == "centralized":
            self.centralized += hours
        if category == "self_selected" and mode != "school_based":
            # R12: self-selected hours exclude school-based and mandatory ones.
            self.self_selected += hours
        if level in DISTRICT_LEVEL_OR_ABOVE:
            self.district_level += hours
        if mode == "school_based":
            self.school_based += hours


def delta_of(entry: LedgerEntry) -> Delta:
    delta = Delta()
    delta.add(
        hours=int(entry.hours * 10),
        credits=int(entry.credits * 10),
        mode=entry.mode,
        level=entry.level,
        category=entry.category,
    )
    return delta


COLUMNS = ("teacher_id", "year", *BUCKETS, "entries")
UNNEST_UPSERT = f"""
INSERT INTO teacher_balance ({", ".join(COLUMNS)})
SELECT * FROM unnest($1::uuid[], $2::int[], {", ".join(f"${i}::bigint[]" for i in range(3, 10))})
ON CONFLICT (teacher_id, year) DO UPDATE SET
{", ".join(f"{c} = teacher_balance.{c} + excluded.{c}" for c in (*BUCKETS, "entries"))}
"""


async def apply(session: AsyncSession, deltas: dict[tuple[uuid.UUID, int], Delta]) -> None:
    """Add deltas to the balances with one upsert (PostgreSQL and SQLite alike)."""
    if not deltas:
        return
    rows = [
        {"teacher_id": teacher_id, "year": year, **vars(delta)}
        for (teacher_id, year), delta in deltas.items()
    ]
    connection = await session.connection()
    if connection.dialect.name == "postgresql" and len(rows) > 50:
        # Thousands of rows from an import: one statement over arrays, not one per row.
        raw = await connection.get_raw_connection()
        await raw.driver_connection.execute(
            UNNEST_UPSERT, *([row[c] for row in rows] for c in COLUMNS)
        )
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(TeacherBalance)
    table = TeacherBalance.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=["teacher_id", "year"],
        set_={name: table.c[name] + stmt.excluded[name] for name in (*BUCKETS, "entries")},
    )
    await session.execute(stmt, rows)


async def by_year(
    session: AsyncSession, teacher_id: uuid.UUID, first: int, last: int
) -> dict[int, TeacherBalance]:
    rows = await session.scalars(
        select(TeacherBalance).where(
            TeacherBalance.teacher_id == teacher_id,
            TeacherBalance.year >= first,
            TeacherBalance.year <= last,
        )
    )
    return {row.year: row for row in rows}


def totals_from_years(
    rules: PolicyRules, years: dict[int, Delta], *, year: int, hired_year: int | None
) -> Totals:
    """A teacher's Totals for `year` from per-year sums (balances or a recomputation)."""
    first, last = cycle_of(rules, year, hired_year)
    this = years.get(year, Delta())
    cycle = [d for y, d in years.items() if first <= y <= last]
    pre = (
        [d for y, d in years.items() if hired_year <= y < hired_year + rules.pre_service_years]
        if hired_year is not None
        else []
    )
    return Totals(
        year_total=this.total,
        year_centralized=this.centralized,
        year_self_selected=this.self_selected,
        year_district_level=this.district_level,
        year_school_based=this.school_based,
        cycle_total=sum(d.total for d in cycle),
        cycle_school_based=sum(d.school_based for d in cycle),
        pre_service=sum(d.total for d in pre),
    )


def recompute(entries: Iterable[LedgerEntry]) -> dict[tuple[uuid.UUID, int], Delta]:
    """Balances recomputed from the entries alone (what the projection must always equal)."""
    out: dict[tuple[uuid.UUID, int], Delta] = {}
    for entry in entries:
        out.setdefault((entry.teacher_id, entry.year), Delta())
        d = delta_of(entry)
        acc = out[(entry.teacher_id, entry.year)]
        for name in (*BUCKETS, "entries"):
            setattr(acc, name, getattr(acc, name) + getattr(d, name))
    return out
