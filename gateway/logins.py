"""Teachers' logins: made from enrolment's events, opened with a one-time activation code,
managed by the school and the bureau.

A login is made without a code. Its code is made when the school or the bureau hands codes
out (`issue_codes`, the code sheet) or resets the login (`reset`), so a code exists in clear
only in that one answer; the database keeps its keyed hash. Codes carry 80 random bits, so a
fast keyed hash (HMAC-SHA256) protects them as well as argon2 would protect a password: no
one can try 2^80 guesses, and the lockout stops online guessing long before.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import login_locks
from gateway.accounts import (
    ID_NUMBER,
    MOBILE,
    activation_hash,
    pending,
    revoke_all,
)
from gateway.models import Account, KnownSchool
from gateway.passwords import DUMMY_HASH, hash_password, verify_password
from gateway.policy import ActivationPolicy, LockoutPolicy, PasswordPolicy
from shared import pii
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from shared.events.enrolment import TeacherLoginsRequested, TeacherMobileChanged, TeacherUpdated
from shared.xlsx import xlsx_bytes

# No 0/O, 1/I/L: a code is read off paper and typed on a phone.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_CHARS = 16  # 16 characters of 31: 79 bits
SHANGHAI = ZoneInfo("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_CHARS, 4))


def status_of(account: Account, locked_until: dt.datetime | None) -> str:
    """`locked_until`: the latest lock of the account from some address (login_locks)."""
    if account.disabled:
        return "disabled"
    if locked_until is not None:
        return "locked"
    return "pending" if pending(account) else "active"


# --- made from enrolment's events ---


async def _free(session: AsyncSession, column: Any, owners: dict[str, uuid.UUID]) -> None:
    """Enrolment keeps identifiers unique; the latest event wins if another login still holds
    one (a mobile number moved from one teacher to another)."""
    for start in range(0, len(owners), 500):
        part = list(owners)[start : start + 500]
        held = await session.execute(
            select(Account.id, column, Account.teacher_id).where(column.in_(part))
        )
        stale = [row[0] for row in held if row[2] != owners[row[1]]]
        if stale:
            await session.execute(
                update(Account)
                .where(Account.id.in_(stale))  # type: ignore[attr-defined]
                .values({column.key: None})
                .execution_options(synchronize_session=False)
            )


async def on_logins_requested(session: AsyncSession, event: TeacherLoginsRequested) -> None:
    """Make the teachers' logins, pending their activation; a teacher asked for again keeps its
    login, with refreshed identifiers. A chunk of an import is a few statements, not a few
    per teacher."""
    logins = {login.teacher_id: login for login in event.logins}
    await _free(
        session,
        Account.id_number_hash,
        {x.id_number_hash: x.teacher_id for x in logins.values() if x.id_number_hash},
    )
    await _free(
        session,
        Account.mobile_hash,
        {x.mobile_hash: x.teacher_id for x in logins.values() if x.mobile_hash},
    )
    existing = (
        await session.scalars(
            select(Account).where(Account.teacher_id.in_(list(logins)))  # type: ignore[union-attr]
        )
    ).all()
    for account in existing:
        login = logins.pop(account.teacher_id)  # type: ignore[arg-type]
        account.name = login.name
        account.district_id = login.district_id
        account.school_id = login.school_id
        account.id_number_hash = login.id_number_hash
        account.id_number_masked = login.id_number_masked
        account.mobile_hash = login.mobile_hash
        account.mobile_masked = login.mobile_masked
    await session.flush()
    if not logins:
        return
    now = utcnow()
    await session.execute(
        insert(Account),
        [
            {
                "id": uuid.uuid4(),
                "username": f"teacher-{login.teacher_id}",
                "password_hash": "",
                "role": Role.TEACHER.value,
                "district_id": login.district_id,
                "school_id": login.school_id,
                "teacher_id": login.teacher_id,
                "scopes": "",
                "disabled": False,
                "created_at": now,
                "name": login.name,
                "id_number_hash": login.id_number_hash,
                "id_number_masked": login.id_number_masked,
                "mobile_hash": login.mobile_hash,
                "mobile_masked": login.mobile_masked,
            }
            for login in logins.values()
        ],
    )


async def on_mobile_changed(session: AsyncSession, event: TeacherMobileChanged) -> None:
    if event.mobile_hash:
        await _free(session, Account.mobile_hash, {event.mobile_hash: event.teacher_id})
    await session.execute(
        update(Account)
        .where(Account.teacher_id == event.teacher_id)
        .values(mobile_hash=event.mobile_hash, mobile_masked=event.mobile_masked)
        .execution_options(synchronize_session=False)
    )


async def on_teacher_updated(session: AsyncSession, event: TeacherUpdated) -> None:
    """A teacher who moves to another school is managed by that school from now on."""
    await session.execute(
        update(Account)
        .where(Account.teacher_id == event.teacher_id, Account.role == Role.TEACHER.value)
        .values(name=event.name, school_id=event.school_id, district_id=event.district_id)
        .execution_options(synchronize_session=False)
    )


# --- who manages whom ---


def managed(principal: Principal) -> ColumnElement[bool]:
    """The logins a caller manages: a school admin its school's teachers, the bureau every
    person of its district. Service accounts have their own endpoints."""
    if principal.role is Role.BUREAU_ADMIN and principal.district_id is not None:
        return and_(
            Account.district_id == principal.district_id, Account.role != Role.SERVICE.value
        )
    if principal.role is Role.SCHOOL_ADMIN and principal.school_id is not None:
        return and_(
            Account.role == Role.TEACHER.value,
            Account.school_id == principal.school_id,
            Account.district_id == principal.district_id,
        )
    raise Forbidden("Logins are managed by the bureau and by school admins.")


def accounts_query(
    principal: Principal,
    *,
    q: str | None = None,
    role: Role | None = None,
    school_id: uuid.UUID | None = None,
    status: str | None = None,
) -> Select:
    query = select(Account).where(managed(principal))
    if role is not None:
        query = query.where(Account.role == role.value)
    if school_id is not None:
        query = query.where(Account.school_id == school_id)
    if q:
        q = q.strip()
        if ID_NUMBER.match(q):
            query = query.where(Account.id_number_hash == pii.lookup_hash(q))
        elif MOBILE.match(q):
            query = query.where(Account.mobile_hash == pii.lookup_hash(q))
        else:
            query = query.where(
                or_(
                    Account.name.icontains(q, autoescape=True),  # type: ignore[union-attr]
                    Account.username.istartswith(q, autoescape=True),
                )
            )
    locked = login_locks.is_locked(utcnow())
    match status:
        case "disabled":
            query = query.where(Account.disabled.is_(True))  # type: ignore[attr-defined]
        case "locked":
            query = query.where(Account.disabled.is_(False), locked)  # type: ignore[attr-defined]
        case "pending":
            query = query.where(Account.disabled.is_(False), Account.password_hash == "")  # type: ignore[attr-defined]
        case "active":
            query = query.where(Account.disabled.is_(False), Account.password_hash != "")  # type: ignore[attr-defined]
    return query


async def managed_account(
    session: AsyncSession, *, principal: Principal, account_id: uuid.UUID
) -> Account:
    account = await session.scalar(
        select(Account).where(Account.id == account_id, managed(principal))
    )
    if account is None:
        raise NotFound("No such login among those you manage.", message="not-found.login")
    return account


# --- what the school and the bureau do ---


async def reset(
    session: AsyncSession, *, principal: Principal, account_id: uuid.UUID, policy: ActivationPolicy
) -> tuple[Account, str]:
    """A new activation code; the password and every session end, a lockout is lifted."""
    account = await managed_account(session, principal=principal, account_id=account_id)
    if account.role == Role.BUREAU_ADMIN.value and str(account.id) == principal.subject:
        raise Conflict("Change your own password with your current one.", code="own-login")
    code = new_code()
    now = utcnow()
    account.password_hash = ""
    account.activation_hash = activation_hash(code)
    account.activation_issued_at = now
    account.activation_expires_at = now + dt.timedelta(days=policy.code_days)
    account.activation_used_at = None
    await login_locks.clear(session, account.id)
    await revoke_all(session, account.id)
    await session.flush()
    return account, code


async def set_disabled(
    session: AsyncSession, *, principal: Principal, account_id: uuid.UUID, disabled: bool
) -> Account:
    """Disabling revokes every refresh token at once; access tokens run out (15 minutes)."""
    account = await managed_account(session, principal=principal, account_id=account_id)
    if disabled and str(account.id) == principal.subject:
        raise Conflict("You cannot disable your own login.", code="own-login")
    account.disabled = disabled
    if disabled:
        await revoke_all(session, account.id)
    await session.flush()
    return account


async def unlock(session: AsyncSession, *, principal: Principal, account_id: uuid.UUID) -> Account:
    """Lift the account's locks, from every address."""
    account = await managed_account(session, principal=principal, account_id=account_id)
    await login_locks.clear(session, account.id)
    await session.flush()
    return account


async def issue_codes(
    session: AsyncSession,
    *,
    principal: Principal,
    school_id: uuid.UUID | None,
    reissue: bool,
    policy: ActivationPolicy,
) -> tuple[bytes, int]:
    """The code sheet (XLSX) of the caller's teachers whose logins wait for activation.

    Each code is shown in this answer only. Without `reissue` only logins never handed a code
    are included, so a second download gives the teachers added since; with it every login
    still waiting gets a new code and the old ones stop working (a lost sheet).
    """
    condition = managed(principal)
    if school_id is not None:
        if principal.role is Role.SCHOOL_ADMIN and school_id != principal.school_id:
            raise Forbidden(
                "A school hands out the codes of its own teachers.", code="out-of-scope"
            )
        school = await session.get(KnownSchool, school_id)
        if school is None or school.district_id != principal.district_id:
            raise NotFound("No such school in your district.", message="not-found.school")
        condition = and_(condition, Account.school_id == school_id)
    query = select(Account).where(
        condition,
        Account.role == Role.TEACHER.value,
        Account.password_hash == "",
        Account.disabled.is_(False),  # type: ignore[attr-defined]
    )
    if not reissue:
        query = query.where(Account.activation_issued_at.is_(None))  # type: ignore[union-attr]
    rows = (await session.scalars(query.order_by(Account.school_id, Account.name))).all()
    now = utcnow()
    expires = now + dt.timedelta(days=policy.code_days)
    codes = {account.id: new_code() for account in rows}
    if rows:
        await session.execute(
            update(Account),
            [
                {
                    "id": account.id,
                    "activation_hash": activation_hash(codes[account.id]),
                    "activation_issued_at": now,
                    "activation_expires_at": expires,
                    "activation_used_at": None,
                }
                for account in rows
            ],
        )
    return _sheet(rows, codes, expires), len(rows)


def _sheet(rows: list[Account] | tuple[Account, ...], codes: dict, expires: dt.datetime) -> bytes:
    until = expires.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    how = "用身份证号或手机号和激活码登录，首次登录须设置密码"
    header = ["学校id", "姓名", "身份证号", "手机号", "激活码", "有效期至", "登录方式"]
    lines = [
        [
            str(account.school_id),
            account.name or "",
            account.id_number_masked or "",
            account.mobile_masked or "",
            codes[account.id],
            until,
            how,
        ]
        for account in rows
    ]
    return xlsx_bytes([("激活码", header, lines)])


# --- what a person does ---


async def change_password(
    session: AsyncSession,
    *,
    principal: Principal,
    activating: bool,
    current_password: str | None,
    new_password: str,
    passwords: PasswordPolicy,
    lockout: LockoutPolicy,
    source: str,
) -> Account:
    """Set the first password (with the activation token) or change it (with the current one).

    Every other session ends, and the account's locks are lifted. No transaction stays open
    while argon2 runs.
    """
    if principal.role is Role.SERVICE:
        raise Forbidden("A client's secret is replaced by the bureau, not changed here.")
    try:
        account = await session.get(Account, uuid.UUID(principal.subject))
    except ValueError:
        account = None
    lock = await login_locks.lock_of(session, account.id, source) if account else None
    await session.commit()
    if activating:
        if account is None or not pending(account) or account.disabled:
            raise Conflict(
                "The activation code was already used: this login has a password; change it "
                "with the current one.",
                code="activation-code-used",
            )
    else:
        if not current_password:
            raise BadRequest("Give the current password to change it.", code="wrong-password")
        if account is None or pending(account):
            await verify_password(current_password, DUMMY_HASH)
            raise BadRequest("The current password is wrong.", code="wrong-password")
        now = utcnow()
        if login_locks.holds(lock, now):  # the caller is signed in: it may learn of the lock
            raise BadRequest(
                "The account is locked after repeated failures; try again later.",
                code="account-locked",
            )
        if not await verify_password(current_password, account.password_hash):
            await login_locks.count_failure(session, account.id, source, lockout, now)
            raise BadRequest("The current password is wrong.", code="wrong-password")
    identifiers = (account.username,)
    if problem := passwords.problem(new_password, identifiers=identifiers):
        raise Unprocessable(problem, code="weak-password", policy=passwords.version)
    new_hash = await hash_password(new_password)
    values: dict[str, object] = {"password_hash": new_hash}
    if activating:
        values["activation_used_at"] = utcnow()
    condition = Account.id == account.id
    if activating:  # conditional: two uses of one activation token cannot both set a password
        condition = and_(condition, Account.password_hash == "")
    changed = await session.execute(
        update(Account).where(condition).values(values).execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The activation code was already used.", code="activation-code-used")
    await login_locks.clear(session, account.id)
    await revoke_all(session, account.id)
    await session.refresh(account)
    return account
