"""HTTP of fund pools (R19, R20) and payments to institutions (R22)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.budget import journal, payments, pools
from services.budget.models import FundPool, JournalTransaction
from services.budget.schemas import (
    FundCreate,
    FundRead,
    PaymentCreate,
    PaymentRead,
    PostingRead,
    TransactionRead,
)
from shared.deps import Caller, Idem, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1", tags=["funds"])


@router.post("/funds", status_code=201, response_model=FundRead)
async def create_fund(
    body: FundCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Open a fund pool of a fiscal year by its source (R19/R20), or allot one to a school."""
    if replay := await idem.replay():
        return replay
    pool, created = await pools.create_pool(session, principal=caller, data=body)
    (read,) = await pools.read_pools(session, [pool])
    return await idem.respond(201 if created else 200, read)


@router.get("/funds", response_model=Page[FundRead])
async def list_funds(
    session: Session,
    caller: Caller,
    paging: Paging,
    fiscal_year: int | None = Query(None, ge=2000, le=2100),
    school_id: uuid.UUID | None = None,
) -> dict:
    """The fund pools the caller may see with their balances in fen."""
    query = pools.pools_query(caller)
    if fiscal_year is not None:
        query = query.where(FundPool.fiscal_year == fiscal_year)
    if school_id is not None:
        query = query.where(FundPool.school_id == school_id)
    rows = list((await session.scalars(paginate(query, FundPool, paging))).all())
    page = page_of(rows, paging, FundRead)
    page["items"] = await pools.read_pools(session, rows[: paging.limit])
    return page


@router.get("/funds/{pool_id}", response_model=FundRead)
async def get_fund(pool_id: uuid.UUID, session: Session, caller: Caller) -> FundRead:
    """One fund pool: allotted, committed, spent and available, in fen."""
    pool = await pools.get_pool(session, principal=caller, pool_id=pool_id)
    (read,) = await pools.read_pools(session, [pool])
    return read


@router.get("/funds/{pool_id}/journal", response_model=Page[TransactionRead])
async def fund_journal(
    pool_id: uuid.UUID, session: Session, caller: Caller, paging: Paging
) -> dict:
    """Every movement of the pool's money, oldest first, each with all its legs."""
    await pools.get_pool(session, principal=caller, pool_id=pool_id)
    query = paginate(journal.transactions_of_pool(pool_id), JournalTransaction, paging)
    rows = list((await session.scalars(query)).all())
    legs = await journal.postings_of(session, [t.id for t in rows[: paging.limit]])
    page = page_of(rows, paging, TransactionRead)
    page["items"] = [
        t.model_copy(update={"postings": [PostingRead.model_validate(p) for p in legs[t.id]]})
        for t in page["items"]
    ]
    return page


@router.post("/funds/{pool_id}/payments", status_code=201, response_model=PaymentRead)
async def pay_institution(
    pool_id: uuid.UUID, body: PaymentCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Pay a training institution from a pool, in fen; never more than the pool holds."""
    if replay := await idem.replay():
        return replay
    read, created = await payments.pay(session, principal=caller, pool_id=pool_id, data=body)
    return await idem.respond(201 if created else 200, read)
