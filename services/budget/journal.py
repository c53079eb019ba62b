"""The double-entry journal in integer fen: every movement of money, and every balance.

Accounts are (pool, account, ref). Debits are positive, credits negative; a transaction's
postings sum to zero. Balances are sums of postings, never stored. A transaction is never
changed: a correction is a reversing transaction. Each transaction is unique on its
source_ref, so a retried request or a redelivered event finds the first one.

Accounts of a pool:
- funding     credit side of the money the pool was given from outside (R19, R20)
- available   money neither committed nor spent
- committed   money held for confirmed enrolments
- payable     money owed to an institution (ref = institution) for actual participants
- paid        money paid to an institution (ref = institution)
- expense     money spent on a program line (ref = "<program>/<category>")
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.budget.models import FundPool, JournalPosting, JournalTransaction, infra
from shared.errors import Conflict, NotFound
from shared.events.budget import JournalPosted, Posting
from shared.messaging.outbox import add_event

FUNDING = "funding"
AVAILABLE = "available"
COMMITTED = "committed"
PAYABLE = "payable"
PAID = "paid"
EXPENSE = "expense"


@dataclass(frozen=True)
class Leg:
    pool_id: uuid.UUID
    account: str
    amount_fen: int
    ref: str = ""


class UnbalancedTransaction(ValueError):
    pass


def check_balanced(legs: Iterable[Leg]) -> None:
    """A transaction has at least two non-zero integer legs summing to zero."""
    legs = list(legs)
    if len(legs) < 2:
        raise UnbalancedTransaction("a transaction needs at least two legs")
    if any(not isinstance(leg.amount_fen, int) or leg.amount_fen == 0 for leg in legs):
        raise UnbalancedTransaction("every leg moves a non-zero whole number of fen")
    if sum(leg.amount_fen for leg in legs) != 0:
        raise UnbalancedTransaction("debits and credits differ")


def transfer(
    pool_from: uuid.UUID,
    account_from: str,
    pool_to: uuid.UUID,
    account_to: str,
    amount_fen: int,
    *,
    ref_from: str = "",
    ref_to: str = "",
) -> list[Leg]:
    """The two legs moving an amount from one account to another."""
    return [
        Leg(pool_to, account_to, amount_fen, ref_to),
        Leg(pool_from, account_from, -amount_fen, ref_from),
    ]


async def lock_pool(session: AsyncSession, pool_id: uuid.UUID) -> FundPool:
    """The pool, locked until commit: every movement out of a pool runs under this lock, so
    two concurrent movements cannot both see the same money as free (PostgreSQL row lock;
    SQLite serialises writers with BEGIN IMMEDIATE)."""
    pool = await session.scalar(
        select(FundPool)
        .where(FundPool.id == pool_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if pool is None:
        raise NotFound("No such fund pool.", code="unknown-pool")
    return pool


async def post(
    session: AsyncSession,
    *,
    kind: str,
    source_ref: str,
    legs: list[Leg],
    transaction_id: uuid.UUID | None = None,
    reverses_id: uuid.UUID | None = None,
    memo: str = "",
) -> tuple[JournalTransaction, bool]:
    """Post a balanced transaction once; (transaction, created). The same source_ref again
    with the same legs returns the first; with other legs it is a conflict."""
    check_balanced(legs)
    existing = await find(session, source_ref)
    if existing is not None:
        if sorted(await legs_of(session, existing.id), key=_key) != sorted(legs, key=_key):
            raise Conflict(
                f"{source_ref} was already posted with different amounts.",
                code="journal-ref-reused",
            )
        return existing, False
    if transaction_id is not None and await session.get(JournalTransaction, transaction_id):
        raise Conflict(f"Transaction id {transaction_id} is already used.", code="id-reused")
    txn = JournalTransaction(
        id=transaction_id or uuid.uuid4(),
        kind=kind,
        source_ref=source_ref,
        reverses_id=reverses_id,
        memo=memo,
    )
    session.add(txn)
    await session.flush()
    session.add_all(
        JournalPosting(
            transaction_id=txn.id,
            pool_id=leg.pool_id,
            account=leg.account,
            ref=leg.ref,
            amount_fen=leg.amount_fen,
        )
        for leg in legs
    )
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        JournalPosted(
            transaction_id=txn.id,
            kind=kind,
            source_ref=source_ref,
            reverses_id=reverses_id,
            postings=[
                Posting(
                    pool_id=leg.pool_id, account=leg.account, ref=leg.ref, amount_fen=leg.amount_fen
                )
                for leg in legs
            ],
        ),
    )
    return txn, True


async def reverse(
    session: AsyncSession, txn: JournalTransaction, *, kind: str, source_ref: str, memo: str = ""
) -> tuple[JournalTransaction, bool]:
    """The correction of a transaction: the same legs with opposite signs."""
    legs = [
        Leg(leg.pool_id, leg.account, -leg.amount_fen, leg.ref)
        for leg in await legs_of(session, txn.id)
    ]
    return await post(
        session, kind=kind, source_ref=source_ref, legs=legs, reverses_id=txn.id, memo=memo
    )


async def find(session: AsyncSession, source_ref: str) -> JournalTransaction | None:
    return await session.scalar(
        select(JournalTransaction).where(JournalTransaction.source_ref == source_ref)
    )


async def legs_of(session: AsyncSession, transaction_id: uuid.UUID) -> list[Leg]:
    rows = await session.scalars(
        select(JournalPosting).where(JournalPosting.transaction_id == transaction_id)
    )
    return [Leg(r.pool_id, r.account, r.amount_fen, r.ref) for r in rows]


def _key(leg: Leg) -> tuple[str, str, str, int]:
    return (str(leg.pool_id), leg.account, leg.ref, leg.amount_fen)


def transactions_of_pool(pool_id: uuid.UUID) -> Select:
    """The transactions that moved money of a pool (to paginate)."""
    touched = select(JournalPosting.transaction_id).where(JournalPosting.pool_id == pool_id)
    return select(JournalTransaction).where(JournalTransaction.id.in_(touched))


async def postings_of(
    session: AsyncSession, transaction_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[JournalPosting]]:
    out: dict[uuid.UUID, list[JournalPosting]] = defaultdict(list)
    if transaction_ids:
        rows = await session.scalars(
            select(JournalPosting)
            .where(JournalPosting.transaction_id.in_(transaction_ids))
            .order_by(JournalPosting.amount_fen.desc())
        )
        for row in rows:
            out[row.transaction_id].append(row)
    return out


async def balance(
    session: AsyncSession, pool_id: uuid.UUID, account: str, ref: str | None = None
) -> int:
    query = select(func.coalesce(func.sum(JournalPosting.amount_fen), 0)).where(
        JournalPosting.pool_id == pool_id, JournalPosting.account == account
    )
    if ref is not None:
        query = query.where(JournalPosting.ref == ref)
    return int(await session.scalar(query) or 0)


async def balances(
    session: AsyncSession, pool_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """Balance of every account kind of these pools (refs summed)."""
    ids = list(pool_ids)
    out: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if not ids:
        return out
    rows = await session.execute(
        select(JournalPosting.pool_id, JournalPosting.account, func.sum(JournalPosting.amount_fen))
        .where(JournalPosting.pool_id.in_(ids))
        .group_by(JournalPosting.pool_id, JournalPosting.account)
    )
    for pool_id, account, total in rows:
        out[pool_id][account] = int(total or 0)
    return out


async def expense_by_ref(session: AsyncSession, ref_prefix: str) -> dict[str, int]:
    """Expense balances whose ref starts with a prefix (a program's lines), by ref."""
    rows = await session.execute(
        select(JournalPosting.ref, func.sum(JournalPosting.amount_fen))
        .where(JournalPosting.account == EXPENSE, JournalPosting.ref.startswith(ref_prefix))
        .group_by(JournalPosting.ref)
    )
    return {ref: int(total or 0) for ref, total in rows}
