"""Property: whatever the order of allocations, enrolments, withdrawals, completions,
expenses and redelivered events, the journal balances and no pool goes negative."""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.budget import journal, payments, pools, programs
from services.budget.handlers import handlers
from services.budget.models import (
    BudgetModel,
    Commitment,
    FundPool,
    JournalPosting,
    ProgramProjection,
    SchoolProjection,
    infra,
)
from services.budget.schemas import BudgetPut, ExpenseCreate, FundCreate, PaymentCreate
from shared.auth import Principal, Role
from shared.db import Database
from shared.errors import Problem
from shared.events import Event
from shared.events.enrolment import (
    EnrolmentCompleted,
    EnrolmentFundingRequested,
    EnrolmentWithdrawn,
)
from shared.messaging.inbox import apply_once

YEAR = 2026
DISTRICT = uuid.uuid4()
BUREAU = Principal(subject="property", role=Role.BUREAU_ADMIN, district_id=DISTRICT)
SCHOOLS = [uuid.uuid4() for _ in range(3)]
PROGRAM = uuid.uuid4()
INSTITUTION = uuid.uuid4()
CATEGORIES = ["expert_fees", "transport"]

amounts = st.integers(min_value=1, max_value=400_00)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("allocate"), st.integers(0, 2), amounts),
        st.tuples(st.just("enrol"), st.integers(0, 2), amounts),
        st.tuples(st.just("withdraw"), st.integers(0, 50)),
        st.tuples(st.just("complete"), st.integers(0, 50), st.booleans()),
        st.tuples(st.just("expense"), st.sampled_from(CATEGORIES), amounts),
        st.tuples(st.just("correct"), st.integers(0, 50)),
        st.tuples(st.just("pay"), st.integers(0, 2), amounts),
        st.tuples(st.just("redeliver"), st.integers(0, 50)),
    ),
    max_size=30,
)


async def _try(database: Database, action) -> None:
    """Run one domain action in its own transaction; a refusal changes nothing."""
    async with database.sessions() as session:
        try:
            await action(session)
            await session.commit()
        except Problem:
            await session.rollback()


async def _apply(database: Database, event: Event) -> None:
    await apply_once(database, infra, "budget", handlers.handlers[event.subject], event)


async def _check(database: Database) -> None:
    async with database.sessions() as session:
        total = await session.scalar(select(func.coalesce(func.sum(JournalPosting.amount_fen), 0)))
        assert total == 0, "debits and credits differ"
        unbalanced = await session.scalar(
            select(func.count()).select_from(
                select(JournalPosting.transaction_id)
                .group_by(JournalPosting.transaction_id)
                .having(func.sum(JournalPosting.amount_fen) != 0)
                .subquery()
            )
        )
        assert unbalanced == 0, "a transaction does not balance"
        all_pools = list((await session.scalars(select(FundPool))).all())
        sums = await journal.balances(session, [p.id for p in all_pools])
        for pool in all_pools:
            b = sums.get(pool.id, {})
            for account in (journal.AVAILABLE, journal.COMMITTED, journal.PAYABLE):
                assert b.get(account, 0) >= 0, f"{account} of a pool went negative"
            if pool.owner_kind == "bureau":
                untouched_share = pool.school_share_fen - await pools.allocated_out(
                    session, pool.id
                )
                assert b.get(journal.AVAILABLE, 0) >= untouched_share
        held = await session.scalar(
            select(func.coalesce(func.sum(Commitment.amount_fen), 0)).where(
                Commitment.status == "committed"
            )
        )
        committed = sum(sums.get(p.id, {}).get(journal.COMMITTED, 0) for p in all_pools)
        assert held == committed


async def _scenario(url: str, ops: list[tuple]) -> None:
    database = Database(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(BudgetModel.metadata.create_all)
    async with database.sessions() as session:
        session.add_all(SchoolProjection(id=s, district_id=DISTRICT, name="校") for s in SCHOOLS)
        session.add(
            ProgramProjection(
                id=PROGRAM,
                district_id=DISTRICT,
                institution_id=INSTITUTION,
                title="培训",
                status="published",
                starts_on=dt.date(YEAR, 9, 1),
                ends_on=dt.date(YEAR, 9, 2),
            )
        )
        await session.commit()
    bureau_id = uuid.uuid4()

    async def open_bureau_pool(session) -> None:
        data = FundCreate(id=bureau_id, fiscal_year=YEAR, source="payroll", basis_fen=1_000_000)
        await pools.create_pool(session, principal=BUREAU, data=data)
        program = await session.get(ProgramProjection, PROGRAM)
        lines = {c: 300_00 for c in CATEGORIES}
        await programs.set_budget(
            session,
            principal=BUREAU,
            program=program,
            data=BudgetPut(pool_id=bureau_id, lines=lines),
        )

    await _try(database, open_bureau_pool)
    for school in SCHOOLS[:2]:  # two schools also set aside their own money (R20)

        async def own_pool(session, school=school) -> None:
            data = FundCreate(
                fiscal_year=YEAR, source="public_funds", school_id=school, basis_fen=2_000_00
            )
            await pools.create_pool(session, principal=BUREAU, data=data)

        await _try(database, own_pool)
    requests: list[EnrolmentFundingRequested] = []
    delivered: list[Event] = []
    expenses: list[uuid.UUID] = []
    for op in ops:
        match op:
            case ("allocate", school, amount):

                async def allocate(session, school=school, amount=amount) -> None:
                    data = FundCreate(
                        fiscal_year=YEAR,
                        source="bureau_allocation",
                        school_id=SCHOOLS[school],
                        parent_pool_id=bureau_id,
                        amount_fen=amount,
                    )
                    await pools.create_pool(session, principal=BUREAU, data=data)

                await _try(database, allocate)
            case ("enrol", school, amount):
                event = EnrolmentFundingRequested(
                    enrolment_id=uuid.uuid4(),
                    program_id=PROGRAM,
                    teacher_id=uuid.uuid4(),
                    school_id=SCHOOLS[school],
                    district_id=DISTRICT,
                    amount_fen=amount,
                    fiscal_year=YEAR,
                )
                requests.append(event)
                delivered.append(event)
                await _apply(database, event)
            case ("withdraw", k) if requests:
                r = requests[k % len(requests)]
                event = EnrolmentWithdrawn(**_facts(r), reason="leave")
                delivered.append(event)
                await _apply(database, event)
            case ("complete", k, attended) if requests:
                r = requests[k % len(requests)]
                event = EnrolmentCompleted(
                    **_facts(r),
                    passed=attended,
                    attendance_rate=Decimal("0.9" if attended else "0"),
                    hours=Decimal("8.0"),
                    mode="centralized",
                    level="district",
                    category="self_selected",
                    program_title="培训",
                    completed_on=dt.date(YEAR, 9, 2),
                )
                delivered.append(event)
                await _apply(database, event)
            case ("expense", category, amount):
                expense_id = uuid.uuid4()

                async def spend(
                    session, category=category, amount=amount, expense_id=expense_id
                ) -> None:
                    program = await session.get(ProgramProjection, PROGRAM)
                    data = ExpenseCreate(
                        id=expense_id,
                        category=category,
                        amount_fen=amount,
                        spent_on=dt.date(YEAR, 9, 1),
                    )
                    await programs.record_expense(
                        session, principal=BUREAU, program=program, data=data
                    )

                if await _try(database, spend):
                    expenses.append(expense_id)
            case ("correct", k) if expenses:

                async def correct(session, wrong=expenses[k % len(expenses)]) -> None:
                    program = await session.get(ProgramProjection, PROGRAM)
                    data = ExpenseCreate(
                        id=uuid.uuid4(), reverses_id=wrong, spent_on=dt.date(YEAR, 9, 3)
                    )
                    await programs.record_expense(
                        session, principal=BUREAU, program=program, data=data
                    )

                await _try(database, correct)
            case ("pay", school, amount):

                async def pay(session, school=school, amount=amount) -> None:
                    pool_ids = await session.scalars(
                        select(FundPool.id).where(FundPool.school_id == SCHOOLS[school])
                    )
                    for pool_id in pool_ids.all():
                        data = PaymentCreate(
                            id=uuid.uuid4(), institution_id=INSTITUTION, amount_fen=amount
                        )
                        await payments.pay(session, principal=BUREAU, pool_id=pool_id, data=data)
                        return

                await _try(database, pay)
            case ("redeliver", k) if delivered:
                await _apply(database, delivered[k % len(delivered)])
        await _check(database)
    await database.dispose()


def _facts(r: EnrolmentFundingRequested) -> dict:
    return {
        "enrolment_id": r.enrolment_id,
        "program_id": r.program_id,
        "teacher_id": r.teacher_id,
        "school_id": r.school_id,
        "district_id": r.district_id,
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
async def test_property_journal_balances_and_no_pool_goes_negative(ops: list[tuple]) -> None:
    # Async, on the session's loop: a blocking run would starve the suite's NATS links.
    with tempfile.TemporaryDirectory() as tmp:
        await _scenario(f"sqlite+aiosqlite:///{Path(tmp) / 'budget.db'}", ops)
