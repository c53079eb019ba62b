"""Money follows enrolment: reserve on request, release on withdrawal, owe on completion.

The choreography with enrolment: it holds a seat and asks (funding_requested); we answer
reserved or refused. Every step is unique on the enrolment, so a redelivered or repeated
event never moves money twice.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.budget import journal, policy
from services.budget.models import (
    Commitment,
    FundPool,
    ProgramProjection,
    infra,
)
from services.budget.pools import spendable
from shared.events.budget import FundingRefused, FundingReserved
from shared.events.enrolment import (
    EnrolmentCompleted,
    EnrolmentFundingRequested,
    EnrolmentWithdrawn,
)
from shared.messaging.outbox import add_event

COMMITTED = "committed"
RELEASED = "released"
PAYABLE = "payable"


async def school_pools(
    session: AsyncSession, school_id: uuid.UUID, fiscal_year: int
) -> list[FundPool]:
    """A school's pools of a year, in the order they pay (policy), each locked."""
    ids = (
        await session.scalars(
            select(FundPool.id).where(
                FundPool.school_id == school_id, FundPool.fiscal_year == fiscal_year
            )
        )
    ).all()
    pools = [await journal.lock_pool(session, pool_id) for pool_id in sorted(ids, key=str)]
    order = {source: i for i, source in enumerate(policy.SCHOOL_POOL_ORDER)}
    return sorted(pools, key=lambda p: order.get(p.source, len(order)))


async def request_funding(
    session: AsyncSession, event: EnrolmentFundingRequested
) -> FundingReserved | FundingRefused:
    """Commit the enrolment's cost in the school's pool if it has that much uncommitted."""
    pools = await school_pools(session, event.school_id, event.fiscal_year)
    # Looked up under the pools' locks, so a concurrent twin request has committed by now.
    existing = await session.get(Commitment, event.enrolment_id)
    if existing is not None:
        return await _answer_again(session, event, existing)
    best_available = 0
    for pool in pools:
        available = await spendable(session, pool)
        best_available = max(best_available, available)
        if 0 <= event.amount_fen <= available:
            return await _reserve(session, event, pool)
    if event.amount_fen < 0:
        reason = f"A cost of {event.amount_fen} fen cannot be committed."
    elif not pools:
        reason = f"The school has no training fund pool for {event.fiscal_year}."
    else:
        reason = (
            f"The school's {event.fiscal_year} training funds have {best_available} fen "
            f"uncommitted; this enrolment needs {event.amount_fen} fen."
        )
    answer = FundingRefused(
        enrolment_id=event.enrolment_id,
        program_id=event.program_id,
        school_id=event.school_id,
        amount_fen=event.amount_fen,
        available_fen=best_available,
        reason=reason,
    )
    await add_event(session, infra.outbox, answer)
    return answer


async def _reserve(
    session: AsyncSession, event: EnrolmentFundingRequested, pool: FundPool
) -> FundingReserved:
    if event.amount_fen > 0:
        await journal.post(
            session,
            kind="commitment",
            source_ref=f"commit:{event.enrolment_id}",
            legs=journal.transfer(
                pool.id,
                journal.AVAILABLE,
                pool.id,
                journal.COMMITTED,
                event.amount_fen,
                ref_to=str(event.enrolment_id),
            ),
        )
    session.add(
        Commitment(
            enrolment_id=event.enrolment_id,
            pool_id=pool.id,
            program_id=event.program_id,
            school_id=event.school_id,
            amount_fen=event.amount_fen,
            status=COMMITTED,
        )
    )
    answer = FundingReserved(
        enrolment_id=event.enrolment_id,
        program_id=event.program_id,
        school_id=event.school_id,
        pool_id=pool.id,
        amount_fen=event.amount_fen,
    )
    await add_event(session, infra.outbox, answer)
    return answer


async def _answer_again(
    session: AsyncSession, event: EnrolmentFundingRequested, commitment: Commitment
) -> FundingReserved | FundingRefused:
    """A repeated request for the same enrolment gets the same answer, moving nothing."""
    if commitment.status == COMMITTED and commitment.pool_id is not None:
        answer: FundingReserved | FundingRefused = FundingReserved(
            enrolment_id=event.enrolment_id,
            program_id=commitment.program_id,
            school_id=commitment.school_id,
            pool_id=commitment.pool_id,
            amount_fen=commitment.amount_fen,
        )
    else:
        answer = FundingRefused(
            enrolment_id=event.enrolment_id,
            program_id=event.program_id,
            school_id=event.school_id,
            amount_fen=event.amount_fen,
            available_fen=0,
            reason=f"This enrolment's funding was already {commitment.status}.",
        )
    await add_event(session, infra.outbox, answer)
    return answer


async def withdraw(session: AsyncSession, event: EnrolmentWithdrawn) -> bool:
    """Release a withdrawn enrolment's money; if its request has not arrived yet, remember
    the withdrawal so that the request, when it comes, is refused."""
    if await session.get(Commitment, event.enrolment_id) is None:
        session.add(
            Commitment(
                enrolment_id=event.enrolment_id,
                program_id=event.program_id,
                school_id=event.school_id,
                amount_fen=0,
                status=RELEASED,
            )
        )
        return False
    return await release(session, event.enrolment_id, event.reason)


async def release(session: AsyncSession, enrolment_id: uuid.UUID, reason: str) -> bool:
    """Give a withdrawn enrolment's money back to its pool; False if nothing was held."""
    commitment = await session.get(Commitment, enrolment_id)
    if commitment is None or commitment.status != COMMITTED:
        return False
    assert commitment.pool_id is not None
    await journal.lock_pool(session, commitment.pool_id)
    if commitment.amount_fen > 0:
        original = await journal.find(session, f"commit:{enrolment_id}")
        assert original is not None
        await journal.reverse(
            session, original, kind="release", source_ref=f"release:{enrolment_id}", memo=reason
        )
    commitment.status = RELEASED
    return True


async def complete(session: AsyncSession, event: EnrolmentCompleted) -> bool:
    """R22: an actual participant's cost becomes owed to the program's institution; a trainee
    who never attended releases it instead."""
    commitment = await session.get(Commitment, event.enrolment_id)
    if commitment is None or commitment.status != COMMITTED:
        return False
    if event.attendance_rate <= 0:
        return await release(session, event.enrolment_id, "completed without attending")
    assert commitment.pool_id is not None
    await journal.lock_pool(session, commitment.pool_id)
    program = await session.get(ProgramProjection, commitment.program_id)
    institution = str(program.institution_id) if program and program.institution_id else ""
    if commitment.amount_fen > 0:
        await journal.post(
            session,
            kind="payable",
            source_ref=f"payable:{event.enrolment_id}",
            legs=journal.transfer(
                commitment.pool_id,
                journal.COMMITTED,
                commitment.pool_id,
                journal.PAYABLE,
                commitment.amount_fen,
                ref_from=str(event.enrolment_id),
                ref_to=institution,
            ),
        )
    commitment.status = PAYABLE
    return True
