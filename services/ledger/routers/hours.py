"""HTTP of a teacher's hours and entries."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.ledger.models import LedgerEntry
from services.ledger.risk import today
from services.ledger.schemas import EntryRead, HoursSummary
from services.ledger.summary import authorize_teacher, hours_summary, visible_to
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
    teacher = await authorize_teacher(session, caller, teacher_id, "hours:read")
    day = today()
    return await hours_summary(
        session,
        principal=caller,
        teacher_id=teacher_id,
        teacher=teacher,
        year=year or day.year,
        today=day,
    )


@router.get("/teachers/{teacher_id}/ledger", response_model=Page[EntryRead])
async def teacher_ledger(
    teacher_id: uuid.UUID, session: Session, caller: Caller, paging: Paging
) -> dict:
    await authorize_teacher(session, caller, teacher_id, "hours:read")
    query = paginate(
        select(LedgerEntry).where(LedgerEntry.teacher_id == teacher_id, visible_to(caller)),
        LedgerEntry,
        paging,
    )
    return page_of(list((await session.scalars(query)).all()), paging, EntryRead)
