"""Accounts, passwords (argon2), lockout, and refresh tokens that can be revoked."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import Account, LoginLock, RefreshToken
from gateway.passwords import DUMMY_HASH, hash_password, verify_and_update, verify_password
from gateway.policy import SCOPES, LockoutPolicy
from shared.auth import Principal, Role
from shared.config import DEFAULT_DISTRICT_ID
from shared.db import utcnow
from shared.errors import Problem


class InvalidGrant(Problem):
    """RFC 6749 error for a bad login; one message so a caller cannot probe for usernames."""

    status, code, title = 400, "invalid-grant", "Invalid grant"


class InvalidScope(Problem):
    status, code, title = 422, "invalid-scope", "Invalid scope"


def principal_of(account: Account, scopes: str | None = None) -> Principal:
    return Principal(
        subject=str(account.id),
        role=Role(account.role),
        district_id=account.district_id,
        school_id=account.school_id,
        institution_id=account.institution_id,
        teacher_id=account.teacher_id,
        scopes=frozenset((account.scopes if scopes is None else scopes).split()),
    )


async def authenticate(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    lockout: LockoutPolicy,
    source: str,
    service: bool = False,
) -> Account:
    """A person by username and password, or (service=True) a machine by client id and secret.

    Failures count per (username, source address) whether or not the username exists, and
    `lockout.failures` in a row lock that pair for `lockout.minutes`: a guesser locks only
    itself out (not the admin), and every answer is the same for known and unknown names.
    The hash is checked with no transaction open, so a storm of logins never holds the
    database's connections while it waits for a CPU.
    """
    now = utcnow()
    key = username[:100]  # the column's width; longer names never match an account anyway
    lock = await session.get(LoginLock, (key, source))
    account = await session.scalar(select(Account).where(Account.username == username))
    await session.commit()  # ends the read; expire_on_commit=False keeps the rows usable
    if lock is not None and lock.locked_until and lock.locked_until > now:
        raise InvalidGrant(
            "Too many failed logins for this username from your address; try again later.",
            code="account-locked",
            locked_until=lock.locked_until.isoformat(),
        )
    if account is None or (account.role == Role.SERVICE.value) is not service:
        await verify_password(password, DUMMY_HASH)
        valid, new_hash = False, None
    else:
        valid, new_hash = await verify_and_update(password, account.password_hash)
    if not valid or account is None or account.disabled:
        await _count_failure(session, key, source, lockout, now)
        raise InvalidGrant("The username or password is wrong.")
    if lock is not None:
        await session.execute(
            delete(LoginLock).where(LoginLock.username == key, LoginLock.source == source)
        )
    if new_hash:
        account.password_hash = new_hash
    return account


async def _count_failure(
    session: AsyncSession, username: str, source: str, lockout: LockoutPolicy, now: datetime
) -> None:
    """One more failure, counted in the database so concurrent wrong guesses all count; a
    failure long after the last one starts counting again."""
    stale = now - timedelta(minutes=lockout.minutes)
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    counted = insert(LoginLock).values(
        username=username, source=source, failures=1, last_failure_at=now
    )
    failures = await session.scalar(
        counted.on_conflict_do_update(
            index_elements=["username", "source"],
            set_={
                "failures": case(
                    (LoginLock.last_failure_at < stale, 1), else_=LoginLock.failures + 1
                ),
                "last_failure_at": now,
            },
        ).returning(LoginLock.failures)
    )
    if failures is not None and failures >= lockout.failures:
        await session.execute(
            update(LoginLock)
            .where(LoginLock.username == username, LoginLock.source == source)
            .values(failures=0, locked_until=now + timedelta(minutes=lockout.minutes))
            .execution_options(synchronize_session=False)
        )
    # The failure count must persist although the request fails.
    await session.commit()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_refresh_token(session: AsyncSession, account: Account, *, days: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            account_id=account.id,
            token_hash=_hash_token(token),
            expires_at=utcnow() + timedelta(days=days),
        )
    )
    await session.flush()
    return token


async def redeem_refresh_token(session: AsyncSession, token: str) -> Account:
    """A refresh token is used once: it is revoked as it is exchanged (rotation)."""
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _hash_token(token))
    )
    now = utcnow()
    if stored is not None and stored.revoked_at is not None:
        # A used or revoked token shown again means it leaked: end every session of the account.
        await revoke_all(session, stored.account_id)
        await session.commit()
        raise InvalidGrant("The refresh token is not valid.")
    if stored is None or stored.expires_at <= now:
        raise InvalidGrant("The refresh token is not valid.")
    account = await session.get(Account, stored.account_id)
    if account is None or account.disabled:
        raise InvalidGrant("The refresh token is not valid.")
    # Conditional, so two concurrent exchanges of one token cannot both succeed.
    used = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidGrant("The refresh token is not valid.")
    return account


async def revoke_refresh_token(session: AsyncSession, token: str) -> None:
    """RFC 7009: revoking an unknown or already revoked token succeeds silently."""
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _hash_token(token))
    )
    if stored is not None and stored.revoked_at is None:
        stored.revoked_at = utcnow()


async def revoke_all(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def granted_scopes(account: Account, requested: str | None) -> str:
    """The scopes of a token: the account's, narrowed to those requested (RFC 6749 3.3)."""
    held = set(account.scopes.split())
    if requested is None:
        return " ".join(sorted(held))
    wanted = set(requested.split())
    if not wanted <= held:
        raise InvalidGrant(
            f"The client may not have {' '.join(sorted(wanted - held))}.", code="invalid-scope"
        )
    return " ".join(sorted(wanted))


async def create_service_account(
    session: AsyncSession,
    *,
    label: str,
    scopes: list[str],
    district_id: uuid.UUID | None,
    school_id: uuid.UUID | None,
) -> tuple[Account, str]:
    """A machine client and its secret; the secret is returned once and stored only hashed."""
    unknown = sorted(set(scopes) - set(SCOPES.scopes))
    if unknown:
        raise InvalidScope(f"Unknown scopes: {', '.join(unknown)}.", known=sorted(SCOPES.scopes))
    secret = secrets.token_urlsafe(32)
    account = Account(
        username=f"svc_{secrets.token_hex(8)}",
        password_hash=await hash_password(secret),
        role=Role.SERVICE.value,
        district_id=district_id,
        school_id=school_id,
        scopes=" ".join(sorted(set(scopes))),
        label=label,
    )
    session.add(account)
    await session.flush()
    return account, secret


async def ensure_bootstrap_admin(session: AsyncSession, *, username: str, password: str) -> None:
    account = await session.scalar(select(Account).where(Account.username == username))
    if account is None:
        session.add(
            Account(
                id=uuid.uuid5(uuid.NAMESPACE_URL, f"shixun:account:{username}"),
                username=username,
                password_hash=await hash_password(password),
                role=Role.BUREAU_ADMIN.value,
                district_id=DEFAULT_DISTRICT_ID,
            )
        )
    elif not await verify_password(password, account.password_hash):
        account.password_hash = await hash_password(password)
        await session.execute(delete(LoginLock).where(LoginLock.username == username))
    await session.flush()
