"""Lockout per (account, source address): failed logins from one address lock the account
from that address only, so a guesser locks itself out, never the account's owner.

There is no lock of the whole account: a lock anyone can trigger is a way to lock the admin
out (docs/security.md says why no global threshold either). A locked login answers like a
wrong password or an unknown username, so a lock tells nobody that the username exists.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid

from sqlalchemy import ColumnElement, case, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import Account, LoginLock
from gateway.policy import LockoutPolicy


def source_of(host: str | None) -> str:
    """The address failures are counted under. An IPv6 host owns a whole /64, so counting
    single IPv6 addresses would give it 2^64 fresh counters."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


async def lock_of(session: AsyncSession, account_id: uuid.UUID, source: str) -> LoginLock | None:
    """The failures of this account from this source, if any (None for most logins)."""
    return await session.get(LoginLock, (account_id, source))


def holds(lock: LoginLock | None, now: dt.datetime) -> bool:
    return lock is not None and lock.locked_until is not None and lock.locked_until > now


async def count_failure(
    session: AsyncSession,
    account_id: uuid.UUID,
    source: str,
    policy: LockoutPolicy,
    now: dt.datetime,
) -> None:
    """One more failure of this account from this source, in one upsert so concurrent wrong
    guesses all count. A failure after an expired lock, or long after the previous failure,
    starts the count again; the failure that reaches the threshold sets the lock."""
    until = now + dt.timedelta(minutes=policy.minutes)
    restart = or_(
        LoginLock.last_failure_at < now - dt.timedelta(minutes=policy.minutes),
        LoginLock.locked_until <= now,
    )
    failures = case((restart, 1), else_=LoginLock.failures + 1)
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(LoginLock).values(
        account_id=account_id,
        source=source,
        failures=1,
        last_failure_at=now,
        locked_until=until if policy.failures <= 1 else None,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "source"],
            set_={
                "failures": failures,
                "last_failure_at": now,
                "locked_until": case(
                    (failures >= policy.failures, until),
                    (restart, None),
                    else_=LoginLock.locked_until,
                ),
            },
        )
    )
    # The failure count must persist although the request fails.
    await session.commit()


async def clear(session: AsyncSession, account_id: uuid.UUID, source: str | None = None) -> None:
    """Forget the failures of the account from this source (a success), or from every source
    (an unlock, a reset, a new password)."""
    condition = LoginLock.account_id == account_id
    if source is not None:
        condition = condition & (LoginLock.source == source)
    await session.execute(delete(LoginLock).where(condition))


def is_locked(now: dt.datetime) -> ColumnElement[bool]:
    """Accounts locked from at least one address (the `locked` status of the lists)."""
    return Account.id.in_(  # type: ignore[attr-defined]
        select(LoginLock.account_id).where(LoginLock.locked_until > now)
    )


async def locked_until(
    session: AsyncSession, account_ids: list[uuid.UUID], now: dt.datetime
) -> dict[uuid.UUID, dt.datetime]:
    """Until when each of these accounts is locked from some address (the latest lock)."""
    if not account_ids:
        return {}
    rows = await session.execute(
        select(LoginLock.account_id, func.max(LoginLock.locked_until))
        .where(LoginLock.account_id.in_(account_ids), LoginLock.locked_until > now)  # type: ignore[attr-defined]
        .group_by(LoginLock.account_id)
    )
    return {account_id: until for account_id, until in rows}
