"""HTTP of a teacher's hours and entries."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from sqlalchemy import select

from services.ledger import province_export, transcript
from services.ledger.config import Settings
from services.ledger.models import LedgerEntry
from services.ledger.risk import today
from services.ledger.schemas import EntryRead, HoursSummary, ProvinceRejection
from services.ledger.spreadsheets import PDF, XLSX, file_responses, pick_format
from services.ledger.summary import authorize_teacher, hours_summary, visible_to
from shared.deps import Caller, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1", tags=["hours"])


@router.get("/teachers/{teacher_id}/hours", response_model=HoursSummary)
async def get_teacher_hours(
    teacher_id: uuid.UUID,
    session: Session,
    caller: Caller,
    year: int | None = Query(
        None, ge=1990, le=2100, description="calendar year; default this year"
    ),
) -> HoursSummary:
    """A teacher's hours of a year: totals by mode, level and category, credits, every
    requirement of the policy in force with what is missing, and the cycle's projection."""
    teacher = await authorize_teacher(session, caller, teacher_id, "hours:read")
    day = today()
    summary = await hours_summary(
        session,
        principal=caller,
        teacher_id=teacher_id,
        teacher=teacher,
        year=year or day.year,
        today=day,
    )
    if teacher is not None:
        summary.province_rejections = [
            ProvinceRejection.model_validate(r)
            for r in await province_export.rejections(
                session,
                district_id=teacher.district_id,
                teacher_id=teacher_id,
                visible=visible_to(caller),
            )
        ]
    return summary


@router.get("/teachers/{teacher_id}/ledger", response_model=Page[EntryRead])
async def list_teacher_ledger(
    teacher_id: uuid.UUID, session: Session, caller: Caller, paging: Paging
) -> dict:
    """The teacher's ledger entries, keyset-paginated; a teacher's own view leaves out the
    programs they have not rated yet (R17)."""
    await authorize_teacher(session, caller, teacher_id, "hours:read")
    query = paginate(
        select(LedgerEntry).where(LedgerEntry.teacher_id == teacher_id, visible_to(caller)),
        LedgerEntry,
        paging,
    )
    return page_of(list((await session.scalars(query)).all()), paging, EntryRead)


@router.get(
    "/teachers/{teacher_id}/transcript",
    response_class=Response,
    responses=file_responses(PDF, XLSX),
)
async def get_teacher_transcript(
    teacher_id: uuid.UUID,
    session: Session,
    caller: Caller,
    year: int | None = Query(None, ge=1990, le=2100, description="default this year"),
    format: Literal["pdf", "xlsx"] | None = Query(None, description="or by Accept"),
    accept: str | None = Header(None),
) -> Response:
    """The entries of the cycle and the requirements, as PDF (default) or XLSX."""
    teacher = await authorize_teacher(session, caller, teacher_id, "hours:read")
    day = today()
    summary = await hours_summary(
        session,
        principal=caller,
        teacher_id=teacher_id,
        teacher=teacher,
        year=year or day.year,
        today=day,
    )
    entries = (
        await session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.teacher_id == teacher_id,
                LedgerEntry.year >= summary.cycle.first_year,
                LedgerEntry.year <= summary.cycle.last_year,
                visible_to(caller),
            )
            .order_by(LedgerEntry.occurred_on, LedgerEntry.created_at)
        )
    ).all()
    name = f"transcript-{teacher_id}-{summary.year}"
    names = await transcript.names_of(session, teacher)
    if pick_format(format, accept, ("pdf", "xlsx")) == "xlsx":
        body = transcript.xlsx(names=names, summary=summary, entries=entries, printed=day)
        media, name = XLSX, f"{name}.xlsx"
    else:
        fonts = transcript.fonts(Settings().transcript_font)
        # Seconds of font parsing and subsetting: off the event loop, which serves on.
        body = await asyncio.to_thread(
            functools.partial(
                transcript.pdf,
                names=names,
                summary=summary,
                entries=list(entries),
                printed=day,
                fonts=fonts,
            )
        )
        media, name = PDF, f"{name}.pdf"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
