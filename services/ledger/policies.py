"""Publishing and finding the requirement policy in force for a district on a date."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.models import RequirementPolicyVersion, infra
from services.ledger.policy import DEFAULT_POLICY, Policy, PolicyRules
from shared.auth import Principal, Role
from shared.errors import NotFound
from shared.events.ledger import PolicyPublished
from shared.messaging.outbox import add_event


def as_policy(row: RequirementPolicyVersion) -> Policy:
    return Policy(
        id=str(row.id),
        label=f"district/{row.version}",
        effective_from=row.effective_from,
        rules=PolicyRules.model_validate_json(row.rules),
        name=row.name or "中小学教师继续教育学时要求",
        number=row.version,
    )


async def in_force(session: AsyncSession, district_id: uuid.UUID | None, on: dt.date) -> Policy:
    """The district's latest version effective on `on`; the seeds' defaults before any."""
    if district_id is None:
        return DEFAULT_POLICY
    row = await session.scalar(
        select(RequirementPolicyVersion)
        .where(
            RequirementPolicyVersion.district_id == district_id,
            RequirementPolicyVersion.effective_from <= on,
        )
        .order_by(
            RequirementPolicyVersion.effective_from.desc(),
            RequirementPolicyVersion.version.desc(),
        )
        .limit(1)
    )
    return as_policy(row) if row is not None else DEFAULT_POLICY


async def versions(session: AsyncSession, district_id: uuid.UUID) -> list[Policy]:
    """Every version of a district, latest effective first (for bulk work over many dates)."""
    rows = await session.scalars(
        select(RequirementPolicyVersion)
        .where(RequirementPolicyVersion.district_id == district_id)
        .order_by(
            RequirementPolicyVersion.effective_from.desc(),
            RequirementPolicyVersion.version.desc(),
        )
    )
    return [as_policy(row) for row in rows]


def pick(versions: list[Policy], on: dt.date) -> Policy:
    """From `versions()`, the one in force on `on`, as in_force() would answer."""
    return next((p for p in versions if p.effective_from <= on), DEFAULT_POLICY)


async def publish(
    session: AsyncSession,
    *,
    principal: Principal,
    effective_from: dt.date,
    rules: PolicyRules,
    note: str,
    name: str = "",
) -> RequirementPolicyVersion:
    """A new version for the bureau's own district; earlier versions stay as they were."""
    principal.require(Role.BUREAU_ADMIN)
    district_id = principal.district_id
    assert district_id is not None
    latest = await session.scalar(
        select(func.max(RequirementPolicyVersion.version)).where(
            RequirementPolicyVersion.district_id == district_id
        )
    )
    row = RequirementPolicyVersion(
        district_id=district_id,
        version=(latest or 0) + 1,
        effective_from=effective_from,
        name=name,
        note=note,
        rules=rules.model_dump_json(),
        published_by=principal.subject,
    )
    session.add(row)
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        PolicyPublished(
            policy_id=row.id,
            district_id=district_id,
            version=row.version,
            effective_from=effective_from,
        ),
    )
    return row


async def get(
    session: AsyncSession, *, principal: Principal, policy_id: uuid.UUID
) -> RequirementPolicyVersion:
    principal.require_scope("hours:read")  # a client reads the rules with the hours
    row = await session.get(RequirementPolicyVersion, policy_id)
    if row is None:
        raise NotFound("No such policy.", message="not-found.policy")
    if row.district_id != principal.district_id:
        # Policies are public within their district and invisible outside it.
        raise NotFound("No such policy.", message="not-found.policy")
    return row


def listing(principal: Principal) -> Select:
    principal.require_scope("hours:read")
    return select(RequirementPolicyVersion).where(
        RequirementPolicyVersion.district_id == principal.district_id
    )
