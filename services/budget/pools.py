"""Fund pools: opening them under R19/R20, their balances, and who may see them."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.budget import journal, policy
from services.budget.models import FundPool, SchoolProjection, infra
from services.budget.schemas import FundCreate, FundRead, Source
from shared.access import ensure_in_scope
from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events.budget import FundPoolCreated
from shared.messaging.outbox import add_event


async def _school(session: AsyncSession, school_id: uuid.UUID) -> SchoolProjection:
    school = await session.get(SchoolProjection, school_id)
    if school is None:
        raise Unprocessable(
            "The budget service knows no such school (yet); register it first.",
            code="unknown-school",
        )
    return school


async def allocated_out(session: AsyncSession, pool_id: uuid.UUID) -> int:
    """What a bureau pool has passed on to schools."""
    total = await session.scalar(
        select(func.coalesce(func.sum(FundPool.amount_fen), 0)).where(
            FundPool.parent_pool_id == pool_id
        )
    )
    return int(total or 0)


async def spendable(session: AsyncSession, pool: FundPool) -> int:
    """Money a pool may still commit or spend itself. A bureau pool keeps the schools' share
    (R19) that it has not passed on yet out of its own reach."""
    available = await journal.balance(session, pool.id, journal.AVAILABLE)
    if pool.owner_kind == "bureau":
        available -= pool.school_share_fen - await allocated_out(session, pool.id)
    return max(available, 0)


async def create_pool(
    session: AsyncSession, *, principal: Principal, data: FundCreate
) -> tuple[FundPool, bool]:
    """Open a pool; (pool, created). The same client id and body again returns the pool."""
    if data.id is not None and (existing := await session.get(FundPool, data.id)) is not None:
        ensure_in_scope(
            principal, "fund pool", district_id=existing.district_id, school_id=existing.school_id
        )
        if (existing.source, existing.fiscal_year, existing.school_id) != (
            data.source.value,
            data.fiscal_year,
            data.school_id,
        ):
            raise Conflict("A different fund pool already has this id.", code="id-reused")
        return existing, False
    rules = policy.policy(data.policy_version)
    pool_id = data.id or uuid.uuid4()
    if data.source is Source.PAYROLL:
        pool = _payroll_pool(principal, data, rules, pool_id)
    else:
        school = await _school(session, data.school_id)
        ensure_in_scope(principal, "school", district_id=school.district_id, school_id=school.id)
        if data.source is Source.PUBLIC_FUNDS:
            pool = _public_funds_pool(principal, data, rules, pool_id, school)
        else:
            principal.require(Role.BUREAU_ADMIN)
            pool = await _allocation_pool(session, principal, data, pool_id, school)
    duplicate = await session.scalar(
        select(FundPool.id).where(
            FundPool.owner_id == pool.owner_id,
            FundPool.fiscal_year == pool.fiscal_year,
            FundPool.source == pool.source,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"This owner already has a {pool.source} pool for {pool.fiscal_year} ({duplicate}).",
            code="pool-exists",
            pool_id=str(duplicate),
        )
    try:
        async with session.begin_nested():
            session.add(pool)
            await session.flush()
    except IntegrityError as exc:
        # A concurrent request opened the same pool (or used the same id) first.
        raise Conflict(
            f"This owner already has a {pool.source} pool for {pool.fiscal_year}.",
            code="pool-exists",
        ) from exc
    if pool.parent_pool_id is None:
        legs = journal.transfer(
            pool.id, journal.FUNDING, pool.id, journal.AVAILABLE, pool.amount_fen
        )
        kind, ref = "fund", f"fund:{pool.id}"
    else:
        legs = journal.transfer(
            pool.parent_pool_id, journal.AVAILABLE, pool.id, journal.AVAILABLE, pool.amount_fen
        )
        kind, ref = "allocation", f"allocation:{pool.id}"
    if pool.amount_fen > 0:
        await journal.post(session, kind=kind, source_ref=ref, legs=legs)
    await add_event(
        session,
        infra.outbox,
        FundPoolCreated(
            pool_id=pool.id,
            district_id=pool.district_id,
            owner_kind=pool.owner_kind,
            school_id=pool.school_id,
            fiscal_year=pool.fiscal_year,
            source=pool.source,
            amount_fen=pool.amount_fen,
            rule=pool.rule,
            policy_version=pool.policy_version,
            parent_pool_id=pool.parent_pool_id,
        ),
    )
    return pool, True


def _payroll_pool(
    principal: Principal, data: FundCreate, rules: policy.FundingPolicy, pool_id: uuid.UUID
) -> FundPool:
    """R19: the bureau's special fund is a share of total payroll."""
    principal.require(Role.BUREAU_ADMIN)
    assert principal.district_id is not None and data.basis_fen is not None
    if data.amount_fen is not None:
        raise Unprocessable(
            "A payroll pool's amount is computed from the payroll (R19); do not send amount_fen.",
            code="amount-computed",
        )
    amount = policy.bureau_fund_fen(rules, data.basis_fen)
    return FundPool(
        id=pool_id,
        district_id=principal.district_id,
        owner_kind="bureau",
        owner_id=principal.district_id,
        fiscal_year=data.fiscal_year,
        source=data.source.value,
        basis_fen=data.basis_fen,
        amount_fen=amount,
        school_share_fen=policy.school_share_fen(rules, amount),
        rule=policy.R19_BUREAU,
        policy_version=rules.version,
        created_by=principal.subject,
    )


def _public_funds_pool(
    principal: Principal,
    data: FundCreate,
    rules: policy.FundingPolicy,
    pool_id: uuid.UUID,
    school: SchoolProjection,
) -> FundPool:
    """R20: a school sets aside at least a share of its public-funds budget."""
    principal.require(Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN)
    assert data.basis_fen is not None
    minimum = policy.school_minimum_fen(rules, data.basis_fen)
    amount = data.amount_fen if data.amount_fen is not None else minimum
    if amount < minimum:
        raise Unprocessable(
            f"A school sets aside at least {rules.school_public_funds_rate:.0%} of its "
            f"public-funds budget for training (R20): {minimum} fen, not {amount}.",
            code="below-minimum",
            params={
                "rate": f"{rules.school_public_funds_rate:.0%}",
                "minimum": f"{minimum / 100:,.2f}",
                "amount": f"{amount / 100:,.2f}",
            },
            minimum_fen=minimum,
        )
    return FundPool(
        id=pool_id,
        district_id=school.district_id,
        owner_kind="school",
        owner_id=school.id,
        school_id=school.id,
        fiscal_year=data.fiscal_year,
        source=data.source.value,
        basis_fen=data.basis_fen,
        amount_fen=amount,
        rule=policy.R20_SCHOOL,
        policy_version=rules.version,
        created_by=principal.subject,
    )


async def _allocation_pool(
    session: AsyncSession,
    principal: Principal,
    data: FundCreate,
    pool_id: uuid.UUID,
    school: SchoolProjection,
) -> FundPool:
    """R19: the bureau passes its schools' share on, never more than that share."""
    assert data.parent_pool_id is not None and data.amount_fen is not None
    parent = await journal.lock_pool(session, data.parent_pool_id)
    ensure_in_scope(principal, "fund pool", district_id=parent.district_id)
    if parent.owner_kind != "bureau" or parent.fiscal_year != data.fiscal_year:
        raise Unprocessable(
            "Allocate from the bureau's pool of the same fiscal year.", code="bad-parent-pool"
        )
    if parent.district_id != school.district_id:
        raise Unprocessable("The school is not in this pool's district.", code="bad-parent-pool")
    left = parent.school_share_fen - await allocated_out(session, parent.id)
    if data.amount_fen > left:
        raise Unprocessable(
            f"Only {left} fen of the schools' share (R19) is left to allocate; "
            f"{data.amount_fen} fen were asked.",
            code="share-exceeded",
            available_fen=left,
        )
    return FundPool(
        id=pool_id,
        district_id=school.district_id,
        owner_kind="school",
        owner_id=school.id,
        school_id=school.id,
        fiscal_year=data.fiscal_year,
        source=data.source.value,
        amount_fen=data.amount_fen,
        parent_pool_id=parent.id,
        rule=policy.R19_SCHOOL_SHARE,
        policy_version=parent.policy_version,
        created_by=principal.subject,
    )


def pools_query(principal: Principal) -> Select:
    """The pools a caller may see (DOMAIN.md "Who may see what")."""
    principal.require_scope("budget:read")
    query = select(FundPool)
    match principal.role:
        case Role.BUREAU_ADMIN | Role.SERVICE:
            query = query.where(FundPool.district_id == principal.district_id)
            if principal.school_id is not None:
                query = query.where(FundPool.school_id == principal.school_id)
        case Role.SCHOOL_ADMIN:
            query = query.where(FundPool.school_id == principal.school_id)
        case _:
            raise Forbidden("Fund pools are for the bureau and schools.", code="out-of-scope")
    return query


async def get_pool(session: AsyncSession, *, principal: Principal, pool_id: uuid.UUID) -> FundPool:
    pool = await session.get(FundPool, pool_id)
    if pool is None:
        raise NotFound("No such fund pool.", code="unknown-pool")
    principal.require_scope("budget:read")
    ensure_in_scope(principal, "fund pool", district_id=pool.district_id, school_id=pool.school_id)
    return pool


async def read_pools(session: AsyncSession, pools: list[FundPool]) -> list[FundRead]:
    sums = await journal.balances(session, [p.id for p in pools])
    out = []
    for pool in pools:
        b = sums.get(pool.id, {})
        out.append(
            FundRead.model_validate(pool).model_copy(
                update={
                    "available_fen": b.get(journal.AVAILABLE, 0),
                    "committed_fen": b.get(journal.COMMITTED, 0),
                    "payable_fen": b.get(journal.PAYABLE, 0),
                    "spent_fen": spent(b),
                    "paid_fen": b.get(journal.PAID, 0) + b.get(journal.EXPENSE, 0),
                    "allocated_to_schools_fen": await allocated_out(session, pool.id),
                }
            )
        )
    return out


def spent(b: dict[str, int]) -> int:
    """Executed money: spent on lines, or owed or paid to institutions for participants."""
    return b.get(journal.EXPENSE, 0) + b.get(journal.PAYABLE, 0) + b.get(journal.PAID, 0)
