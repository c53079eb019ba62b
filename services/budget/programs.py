"""Program budgets by category (R21), expenses against them under ring-fencing (R23), and
final accounts with variance per category (R22)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.budget import funding, journal, policy
from services.budget.models import (
    BudgetLine,
    Commitment,
    Expense,
    JournalTransaction,
    ProgramBudget,
    ProgramProjection,
    infra,
)
from services.budget.pools import spendable
from services.budget.schemas import (
    BudgetApprove,
    BudgetPut,
    BudgetRead,
    CategoryAccount,
    ExpenseCreate,
    FinalAccounts,
    LineRead,
)
from shared.access import ensure_in_scope
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events.budget import ProgramBudgetSet
from shared.messaging.outbox import add_event


async def authorize_program(
    session: AsyncSession, principal: Principal, program_id: uuid.UUID, *, write: bool
) -> ProgramProjection:
    """The bureau and the program's institution manage its budget (R22); the school of a
    school-based program may read it."""
    program = await session.get(ProgramProjection, program_id)
    if program is None:
        raise NotFound("The budget service knows no such program (yet).", code="unknown-program")
    if write:
        principal.require(Role.BUREAU_ADMIN, Role.INSTITUTION_ADMIN)
    principal.require_scope("budget:write" if write else "budget:read")
    ensure_in_scope(
        principal,
        "program",
        district_id=program.district_id,
        school_id=program.school_id,
        institution_id=program.institution_id,
    )
    return program


def _ref(program_id: uuid.UUID, category: str) -> str:
    return f"{program_id}/{category}"


async def spent_by_category(session: AsyncSession, program_id: uuid.UUID) -> dict[str, int]:
    by_ref = await journal.expense_by_ref(session, f"{program_id}/")
    return {ref.split("/", 1)[1]: total for ref, total in by_ref.items()}


async def set_budget(
    session: AsyncSession, *, principal: Principal, program: ProgramProjection, data: BudgetPut
) -> ProgramBudget:
    rules = policy.policy()
    planned = data.lines.planned()
    for category in planned:
        policy.ensure_training_category(rules, category)
    pool = await journal.lock_pool(session, data.pool_id)
    budget = await session.get(ProgramBudget, program.id)
    by_bureau = principal.role is Role.BUREAU_ADMIN
    # Only the bureau chooses which pool pays: otherwise an institution could point its own
    # program at any pool whose id it has seen (issue 12). It may revise the lines.
    if not by_bureau and (budget is None or budget.pool_id != pool.id):
        raise Forbidden(
            "Only the bureau chooses the pool that pays a program; ask it to set the budget.",
            code="pool-set-by-bureau",
        )
    if pool.district_id != program.district_id or (
        pool.owner_kind == "school" and pool.school_id != program.school_id
    ):
        raise Unprocessable(
            "This pool cannot pay for this program: a school's pool pays only its own "
            "school-based programs, the bureau's only programs of its district.",
            code="pool-not-for-program",
        )
    spent = await spent_by_category(session, program.id)
    if budget is not None and budget.pool_id != pool.id and any(spent.values()):
        raise Conflict(
            "Money was already spent from another pool; the paying pool cannot change.",
            code="pool-fixed",
        )
    for category, total in spent.items():
        if total > planned.get(category, 0):
            raise Unprocessable(
                f"{total} fen were already spent on {category}; its line cannot be lower (R23).",
                code="line-below-spent",
                category=category,
                spent_fen=total,
            )
    if budget is None:
        budget = ProgramBudget(program_id=program.id, pool_id=pool.id, version=1)
        session.add(budget)
    else:
        budget.pool_id = pool.id
        budget.version += 1
        budget.updated_at = utcnow()
        await session.execute(delete(BudgetLine).where(BudgetLine.program_id == program.id))
    if by_bureau:  # the bureau's own plan needs no second approval
        budget.approved_version, budget.approved_by = budget.version, principal.subject
    await session.flush()
    session.add_all(
        BudgetLine(program_id=program.id, category=c, planned_fen=fen) for c, fen in planned.items()
    )
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        ProgramBudgetSet(
            program_id=program.id, pool_id=pool.id, version=budget.version, lines=planned
        ),
    )
    return budget


async def read_budget(session: AsyncSession, program: ProgramProjection) -> BudgetRead:
    budget = await session.get(ProgramBudget, program.id)
    if budget is None:
        raise NotFound("This program has no budget yet.", code="no-budget")
    lines = await _lines(session, program.id)
    spent = await spent_by_category(session, program.id)
    rows = [
        LineRead(
            category=c,
            planned_fen=planned,
            spent_fen=spent.get(c, 0),
            remaining_fen=planned - spent.get(c, 0),
        )
        for c, planned in lines.items()
    ]
    return BudgetRead(
        program_id=program.id,
        pool_id=budget.pool_id,
        version=budget.version,
        approved_version=budget.approved_version,
        lines=rows,
        planned_fen=sum(lines.values()),
        spent_fen=sum(spent.values()),
    )


async def approve_budget(
    session: AsyncSession, *, principal: Principal, program: ProgramProjection, data: BudgetApprove
) -> ProgramBudget:
    """The bureau approves the version it read; a revision since then is a 409."""
    principal.require(Role.BUREAU_ADMIN)
    budget = await session.get(ProgramBudget, program.id)
    if budget is None:
        raise NotFound("This program has no budget yet.", code="no-budget")
    if budget.version != data.version:
        raise Conflict(
            f"The budget is at version {budget.version}; read it again before approving.",
            code="budget-changed",
            version=budget.version,
        )
    budget.approved_version, budget.approved_by = budget.version, principal.subject
    await session.flush()
    return budget


async def _lines(session: AsyncSession, program_id: uuid.UUID) -> dict[str, int]:
    rows = await session.scalars(
        select(BudgetLine).where(BudgetLine.program_id == program_id).order_by(BudgetLine.category)
    )
    return {r.category: r.planned_fen for r in rows}


async def record_expense(
    session: AsyncSession, *, principal: Principal, program: ProgramProjection, data: ExpenseCreate
) -> tuple[Expense, bool]:
    """Spend on a line. R23: training categories only, never past the line or the pool."""
    budget = await session.get(ProgramBudget, program.id)
    if budget is None:
        raise Unprocessable("Set the program's budget before spending.", code="no-budget")
    if data.reverses_id is None:  # a correction gives money back and is always allowed
        _ensure_may_spend(program, budget)
    # Every expense of a program moves money of its budget's pool: under that pool's lock a
    # concurrent retry of the same expense sees the first one.
    pool = await journal.lock_pool(session, budget.pool_id)
    existing = await session.get(Expense, data.id)
    if existing is not None:
        same = (existing.program_id, existing.reverses_id) == (program.id, data.reverses_id) and (
            data.reverses_id is not None
            or (existing.category, existing.amount_fen) == (data.category, data.amount_fen)
        )
        if not same:
            raise Conflict("A different expense already has this id.", code="id-reused")
        return existing, False
    if data.reverses_id is not None:
        return await _reverse_expense(
            session, principal=principal, program=program, data=data
        ), True
    assert data.category is not None and data.amount_fen is not None
    policy.ensure_training_category(policy.policy(), data.category)
    planned = (await _lines(session, program.id)).get(data.category)
    if planned is None:
        raise Unprocessable(
            f"The budget has no {data.category} line; spend only on planned lines (R23).",
            code="no-budget-line",
        )
    left_on_line = planned - (await spent_by_category(session, program.id)).get(data.category, 0)
    if data.amount_fen > left_on_line:
        raise Unprocessable(
            f"The {data.category} line has {left_on_line} fen left; {data.amount_fen} fen "
            "would overspend it (R23).",
            code="line-overspent",
            available_fen=left_on_line,
        )
    left_in_pool = await spendable(session, pool)
    if data.amount_fen > left_in_pool:
        raise Unprocessable(
            f"The fund pool has {left_in_pool} fen uncommitted; {data.amount_fen} fen would "
            "overspend it (R23).",
            code="pool-overspent",
            available_fen=left_in_pool,
        )
    txn, _ = await journal.post(
        session,
        kind="expense",
        source_ref=f"expense:{data.id}",
        legs=journal.transfer(
            pool.id,
            journal.AVAILABLE,
            pool.id,
            journal.EXPENSE,
            data.amount_fen,
            ref_to=_ref(program.id, data.category),
        ),
        memo=data.description,
    )
    return await _add_expense(
        session, principal, program, data, pool.id, data.category, data.amount_fen, txn.id
    ), True


def _ensure_may_spend(program: ProgramProjection, budget: ProgramBudget) -> None:
    if program.status not in policy.SPENDING_STATUSES:
        raise Unprocessable(
            f"The program is {program.status}; money is spent only on approved programs.",
            code="program-not-approved",
        )
    if budget.approved_version != budget.version:
        raise Unprocessable(
            f"Version {budget.version} of the budget awaits the bureau's approval.",
            code="budget-not-approved",
        )


async def _reverse_expense(
    session: AsyncSession, *, principal: Principal, program: ProgramProjection, data: ExpenseCreate
) -> Expense:
    """A correction: the original stays, a reversing transaction gives its money back."""
    original = await session.get(Expense, data.reverses_id)
    if original is None or original.program_id != program.id:
        raise NotFound("This program has no such expense.", code="unknown-expense")
    if original.reverses_id is not None:
        raise Unprocessable(
            "A reversal is not reversed; record the expense again.", code="bad-reversal"
        )
    if await session.scalar(select(Expense.id).where(Expense.reverses_id == original.id)):
        raise Conflict("This expense was already reversed.", code="already-reversed")
    txn = await session.get(JournalTransaction, original.transaction_id)
    assert txn is not None
    reversal, _ = await journal.reverse(
        session,
        txn,
        kind="expense_reversal",
        source_ref=f"expense:{data.id}",
        memo=data.description,
    )
    return await _add_expense(
        session,
        principal,
        program,
        data,
        original.pool_id,
        original.category,
        -original.amount_fen,
        reversal.id,
        reverses_id=original.id,
    )


async def _add_expense(
    session: AsyncSession,
    principal: Principal,
    program: ProgramProjection,
    data: ExpenseCreate,
    pool_id: uuid.UUID,
    category: str,
    amount_fen: int,
    transaction_id: uuid.UUID,
    reverses_id: uuid.UUID | None = None,
) -> Expense:
    expense = Expense(
        id=data.id,
        program_id=program.id,
        pool_id=pool_id,
        category=category,
        amount_fen=amount_fen,
        reverses_id=reverses_id,
        spent_on=data.spent_on,
        description=data.description,
        transaction_id=transaction_id,
        created_by=principal.subject,
    )
    session.add(expense)
    await session.flush()
    return expense


async def final_accounts(session: AsyncSession, program: ProgramProjection) -> FinalAccounts:
    """R22: plan against actual per category, and what participants cost the schools."""
    lines = await _lines(session, program.id)
    spent = await spent_by_category(session, program.id)
    categories = []
    for category in sorted(set(lines) | set(spent)):
        planned, actual = lines.get(category, 0), spent.get(category, 0)
        categories.append(
            CategoryAccount(
                category=category,
                planned_fen=planned,
                actual_fen=actual,
                variance_fen=actual - planned,
                variance_rate=policy.deviation(planned, actual),
            )
        )
    planned_total, actual_total = sum(lines.values()), sum(spent.values())
    participants, owed = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Commitment.amount_fen), 0)).where(
                Commitment.program_id == program.id, Commitment.status == funding.PAYABLE
            )
        )
    ).one()
    return FinalAccounts(
        program_id=program.id,
        title=program.title,
        status=program.status,
        categories=categories,
        planned_fen=planned_total,
        actual_fen=actual_total,
        variance_fen=actual_total - planned_total,
        variance_rate=policy.deviation(planned_total, actual_total),
        participants_paid_for=int(participants),
        per_participant_fen=program.cost_per_participant_fen,
        payable_to_institution_fen=int(owed),
    )
