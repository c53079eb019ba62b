"""Posting hours to the ledger, once per source."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.models import LedgerEntry, infra
from shared.events.ledger import EntryPosted
from shared.messaging.outbox import add_event


async def post_entry(
    session: AsyncSession,
    *,
    teacher_id: uuid.UUID,
    hours: Decimal,
    source: str,
    source_ref: str,
    mode: str,
    level: str,
    category: str,
    occurred_on: dt.date,
    program_id: uuid.UUID | None = None,
    description: str = "",
) -> LedgerEntry:
    """Post an entry; the same (source, source_ref) posted again returns the first entry."""
    existing = await session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.source == source, LedgerEntry.source_ref == source_ref
        )
    )
    if existing is not None:
        return existing
    entry = LedgerEntry(
        teacher_id=teacher_id,
        hours=hours,
        source=source,
        source_ref=source_ref,
        mode=mode,
        level=level,
        category=category,
        year=occurred_on.year,
        occurred_on=occurred_on,
        program_id=program_id,
        description=description,
    )
    session.add(entry)
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        EntryPosted(
            entry_id=entry.id,
            teacher_id=teacher_id,
            hours=hours,
            source=source,
            source_ref=source_ref,
            mode=mode,
            level=level,
            category=category,
            year=entry.year,
            occurred_on=occurred_on,
            program_id=program_id,
        ),
    )
    return entry
