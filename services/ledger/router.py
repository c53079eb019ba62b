"""HTTP of the ledger."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.ledger.models import LedgerEntry
from services.ledger.schemas import EntryRead, HoursSummary
from services.ledger.summary import authorize_teacher, hours_summary
from shared.config import DISTRICT_TZ
from shared.db import utcnow
from shared.deps import Caller, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1", tags=["hours"])


@router.get("/teachers/{teacher_id}/hours", response_model=HoursSummary)
async def teacher_hours(
    teacher_id: uuid.UUID,
    session: Session,
    caller: Caller,
    year: int | None = Query(
        None, ge=1990, le=2100, description="calendar year; default this year"
    ),
) -> HoursSummary:
    await authorize_teacher(session, caller, teacher_id, "hours:read")
    year = year or utcnow().astimezone(ZoneInfo(DISTRICT_TZ)).year
    return await hours_summary(session, teacher_id=teacher_id, year=year)


@router.get("/teachers/{teacher_id}/ledger", response_model=Page[EntryRead])
async def teacher_ledger(
    teacher_id: uuid.UUID, session: Session, caller: Caller, paging: Paging
) -> dict:
    await authorize_teacher(session, caller, teacher_id, "hours:read")
    query = paginate(
        select(LedgerEntry).where(LedgerEntry.teacher_id == teacher_id), LedgerEntry, paging
    )
    return page_of(list((await session.scalars(query)).all()), paging, EntryRead)
