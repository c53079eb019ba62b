"""Accounts, passwords (argon2), lockout, and refresh tokens that can be revoked."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import login_locks
from gateway.models import Account, RefreshToken
from gateway.passwords import DUMMY_HASH, hash_password, verify_and_update, verify_password
from gateway.policy import SCOPES, LockoutPolicy
from shared import pii
from shared.auth import OPS_SCOPE, Principal, Role
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


ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
# The purpose under which activation codes are hashed (shared.pii.keyed_hash).
ACTIVATION = "activation-code"


def activation_hash(code: str) -> str:
    """Keyed hash of an activation code, however it was typed (case, spaces, dashes)."""
    return pii.keyed_hash(ACTIVATION, re.sub(r"[\s-]", "", code).upper())


def pending(account: Account) -> bool:
    """A login made for a teacher that has no password yet: only its activation code opens it."""
    return account.password_hash == ""


def _login_matches(login: str) -> ColumnElement[bool]:
    """Staff log in with a username; teachers also with their identity or mobile number,
    found by its keyed hash as enrolment stores it."""
    if ID_NUMBER.match(login):
        return or_(Account.id_number_hash == pii.lookup_hash(login), Account.username == login)
    if MOBILE.match(login):
        return or_(Account.mobile_hash == pii.lookup_hash(login), Account.username == login)
    return Account.username == login


def _code_matches(account: Account, code: str) -> bool:
    if account.activation_hash is None:
        return False
    return hmac.compare_digest(account.activation_hash, activation_hash(code))


async def authenticate(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    lockout: LockoutPolicy,
    source: str,
    service: bool = False,
) -> Account:
    """A person by username (or identity or mobile number) and password, or (service=True) a
    machine by client id and secret.

    A login that has no password yet opens with its activation code instead; the caller
    gives it a token that may only set the password (`pending`). Failures count per
    (account, source address) and lock the account from that address only
    (gateway/login_locks.py). An unknown username, a wrong password and a locked login answer
    alike, each after one argon2 verification, so neither the answer nor its timing tells
    whether a username exists or is locked. The hash is checked with no transaction open, so
    a storm of logins never holds the database's connections while it waits for a CPU.
    """
    login = username.strip()
    found = (await session.scalars(select(Account).where(_login_matches(login)).limit(2))).all()
    # A staff username that looks like a number loses to the teacher whose number it is.
    account = next((a for a in found if a.username != login), found[0] if found else None)
    now = utcnow()
    lock = await login_locks.lock_of(session, account.id, source) if account else None
    await session.commit()  # ends the read; expire_on_commit=False keeps `account` usable
    wrong_kind = account is not None and (account.role == Role.SERVICE.value) is not service
    if account is None or wrong_kind or login_locks.holds(lock, now):
        await verify_password(password, DUMMY_HASH)
        raise InvalidGrant("The username or password is wrong.")
    if pending(account):
        await verify_password(password, DUMMY_HASH)  # as slow as a password login
        if not _code_matches(account, password) or account.disabled:
            await login_locks.count_failure(session, account.id, source, lockout, now)
            raise InvalidGrant("The username or password is wrong.")
        # Only the holder of the code learns this: the code is right but too old.
        if account.activation_expires_at is None or account.activation_expires_at <= now:
            raise InvalidGrant(
                "This activation code has expired; ask your school for a new one.",
                code="activation-code-expired",
            )
        return account
    valid, new_hash = await verify_and_update(password, account.password_hash)
    if not valid or account.disabled:
        await login_locks.count_failure(session, account.id, source, lockout, now)
        if not account.disabled and account.activation_used_at and _code_matches(account, password):
            raise InvalidGrant(
                "This activation code was already used to set a password; log in with that "
                "password, or ask your school to reset the login.",
                code="activation-code-used",
            )
        raise InvalidGrant("The username or password is wrong.")
    if lock is not None:
        await login_locks.clear(session, account.id, source)
    if new_hash:
        account.password_hash = new_hash
    return account


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
                scopes=OPS_SCOPE,  # the installation's admin is its operator
            )
        )
    else:
        if not await verify_password(password, account.password_hash):
            account.password_hash = await hash_password(password)
            await login_locks.clear(session, account.id)
        if OPS_SCOPE not in account.scopes.split():
            account.scopes = " ".join(sorted({*account.scopes.split(), OPS_SCOPE}))
    await session.flush()
