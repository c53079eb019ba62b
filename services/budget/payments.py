"""Paying institutions what a pool owes them for actual participants (R22)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.budget import journal
from services.budget.schemas import PaymentCreate, PaymentRead
from shared.access import ensure_in_scope
from shared.auth import Principal, Role
from shared.errors import Unprocessable


async def pay(
    session: AsyncSession, *, principal: Principal, pool_id: uuid.UUID, data: PaymentCreate
) -> tuple[PaymentRead, bool]:
    """Pay part or all of what is owed; the client's id makes a retry a no-op."""
    principal.require(Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN)
    pool = await journal.lock_pool(session, pool_id)
    ensure_in_scope(principal, "fund pool", district_id=pool.district_id, school_id=pool.school_id)
    ref = str(data.institution_id)
    legs = journal.transfer(
        pool.id, journal.PAYABLE, pool.id, journal.PAID, data.amount_fen, ref_from=ref, ref_to=ref
    )
    source_ref = f"payment:{data.id}"
    owed = await journal.balance(session, pool.id, journal.PAYABLE, ref)
    already = await journal.find(session, source_ref)
    if already is None and data.amount_fen > owed:
        raise Unprocessable(
            f"The pool owes this institution {owed} fen; {data.amount_fen} fen cannot be paid.",
            code="overpayment",
            payable_fen=owed,
        )
    _, created = await journal.post(
        session, kind="payment", source_ref=source_ref, legs=legs, transaction_id=data.id
    )
    left = await journal.balance(session, pool.id, journal.PAYABLE, ref)
    read = PaymentRead(
        id=data.id,
        pool_id=pool.id,
        institution_id=data.institution_id,
        amount_fen=data.amount_fen,
        payable_left_fen=left,
    )
    return read, created
