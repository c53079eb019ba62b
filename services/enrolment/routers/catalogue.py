"""HTTP of the catalogue a teacher browses on a phone (and anyone who may see programs)."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, Query, Request

from services.enrolment import catalogue, for_me
from services.enrolment.schemas import (
    AudienceRole,
    CatalogueDetail,
    CatalogueItem,
    CatalogueSort,
    Category,
    ForMeRead,
    Level,
    Mode,
    Stage,
    StatusFilter,
)
from shared.deps import Caller, Session
from shared.pagination import Page

router = APIRouter(prefix="/v1", tags=["catalogue"])


@router.get("/catalogue", response_model=Page[CatalogueItem])
async def browse(
    request: Request,
    session: Session,
    caller: Caller,
    q: str | None = Query(
        None,
        description=f"Chinese or ASCII words in the title or description (≤ {catalogue.MAX_QUERY})",
    ),
    stage: Stage | None = None,
    subject: str | None = Query(None, max_length=50),
    role: AudienceRole | None = None,
    mode: Mode | None = None,
    level: Level | None = None,
    category: Category | None = None,
    institution_id: uuid.UUID | None = None,
    status: StatusFilter = None,
    date_from: dt.date | None = Query(None, description="runs on or after this day"),
    date_to: dt.date | None = Query(None, description="runs on or before this day"),
    open_now: bool = Query(False, description="published and inside its enrolment window"),
    seats_left: bool = Query(False, description="has a free seat"),
    sort: CatalogueSort = CatalogueSort.STARTS_ON,
    limit: int = Query(20, ge=1, le=200),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
) -> dict:
    """Published programs (current ones unless `status` says otherwise), filtered and sorted;
    `popularity` puts the most seats taken first."""
    catalogue.reject_unknown(request.query_params.keys())
    filters = catalogue.Filters(
        q=q,
        stage=stage,
        subject=subject,
        role=role,
        mode=mode,
        level=level,
        category=category,
        institution_id=institution_id,
        status=status,
        date_from=date_from,
        date_to=date_to,
        open_now=open_now,
        seats_left=seats_left,
    )
    return await catalogue.browse(
        session, principal=caller, filters=filters, sort=sort, limit=limit, cursor=cursor
    )


@router.get("/catalogue/for-me", response_model=ForMeRead)
async def programs_for_me(
    request: Request, session: Session, caller: Caller, limit: int = Query(3, ge=1, le=20)
) -> ForMeRead:
    """Programs open to me and free on my dates, ranked by the hours gaps they close."""
    catalogue.reject_unknown(request.query_params.keys(), frozenset({"limit"}))
    return await for_me.for_me(session, principal=caller, limit=limit)


@router.get("/catalogue/{program_id}", response_model=CatalogueDetail)
async def program_detail(
    program_id: uuid.UUID, session: Session, caller: Caller
) -> CatalogueDetail:
    """One program with its place, expert team and, for a teacher, each enrolment rule."""
    return await catalogue.detail(session, principal=caller, program_id=program_id)
