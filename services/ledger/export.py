"""Entries out, in the provincial import's own columns, so a file goes back in unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.ledger.compliance import scope_of
from services.ledger.entries import REVERSAL
from services.ledger.imports import SOURCE
from services.ledger.models import LedgerEntry, TeacherProjection
from shared.auth import Principal


async def standing_entries(
    session: AsyncSession, *, principal: Principal, year: int | None, school_id: uuid.UUID | None
) -> list[Sequence[str]]:
    """Entries in force (neither reversals nor reversed) of the caller's district or school."""
    school_id = await scope_of(session, principal, school_id)
    reversal = aliased(LedgerEntry)
    query = (
        select(LedgerEntry)
        .join(TeacherProjection, TeacherProjection.id == LedgerEntry.teacher_id)
        .where(
            TeacherProjection.district_id == principal.district_id,
            LedgerEntry.source != REVERSAL,
            ~exists().where(
                and_(reversal.source == REVERSAL, reversal.reverses_id == LedgerEntry.id)
            ),
        )
        .order_by(LedgerEntry.occurred_on, LedgerEntry.id)
    )
    if school_id is not None:
        query = query.where(TeacherProjection.school_id == school_id)
    if year is not None:
        query = query.where(LedgerEntry.year == year)
    return [
        (
            e.source_ref if e.source == SOURCE else str(e.id),
            str(e.teacher_id),
            f"{e.hours:.1f}",
            e.mode,
            e.level,
            e.category,
            e.occurred_on.isoformat(),
            e.description,
        )
        for e in await session.scalars(query)
    ]
