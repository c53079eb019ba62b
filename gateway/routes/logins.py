"""People's logins: code sheets, reset, disable, enable, unlock, list; one's own password."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from gateway import login_locks, logins, oidc
from gateway.accounts import granted_scopes
from gateway.models import Account
from gateway.routes.auth import issue_tokens, source_of
from gateway.schemas import (
    CodeSheetRequest,
    LoginRead,
    LoginReset,
    LoginStatus,
    PasswordChange,
    TokenResponse,
)
from shared.auth import Principal, Role, bearer_token
from shared.db import utcnow
from shared.deps import Caller, Idem, Paging, Session
from shared.errors import Conflict, Unauthorized
from shared.pagination import Page, page_of, paginate

router = APIRouter(tags=["accounts"])


def _read(account: Account, locked_until: dt.datetime | None) -> LoginRead:
    return LoginRead.model_validate(
        {
            **account.model_dump(),
            "status": logins.status_of(account, locked_until),
            "locked_until": locked_until,
        },
        from_attributes=False,
    )


@dataclass
class _Reader:
    """Reads a page of logins with their locks (from any address), fetched at once."""

    locks: dict[uuid.UUID, dt.datetime]

    def model_validate(self, account: Account) -> LoginRead:
        return _read(account, self.locks.get(account.id))


async def _reader(session: Session, accounts: list[Account]) -> _Reader:
    return _Reader(await login_locks.locked_until(session, [a.id for a in accounts], utcnow()))


async def _read_one(session: Session, account: Account) -> LoginRead:
    return (await _reader(session, [account])).model_validate(account)


@router.get("/v1/accounts", response_model=Page[LoginRead])
async def list_accounts(
    session: Session,
    caller: Caller,
    paging: Paging,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="a name, the start of a username, or a whole identity or mobile number",
        ),
    ] = None,
    role: Role | None = None,
    school_id: uuid.UUID | None = None,
    status: LoginStatus | None = None,
) -> dict[str, Any]:
    """The logins the caller manages: a school admin its teachers', the bureau its district's."""
    query = logins.accounts_query(caller, q=q, role=role, school_id=school_id, status=status)
    rows = list((await session.scalars(paginate(query, Account, paging))).all())
    return page_of(rows, paging, await _reader(session, rows))


XLSX_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {logins.XLSX: {"schema": {"type": "string", "format": "binary"}}},
        "description": "the code sheet; each code is shown in this answer only",
    }
}


@router.post(
    "/v1/accounts/activation-codes",
    response_class=Response,
    responses=XLSX_RESPONSE,
    summary="Hand out activation codes (XLSX)",
)
async def create_activation_codes(
    request: Request, body: CodeSheetRequest, session: Session, caller: Caller, idem: Idem
) -> Response:
    """New codes for the caller's teachers whose logins wait for activation, as a sheet to
    print. The codes are stored only hashed, so an `Idempotency-Key` used again is a 409: the
    sheet cannot be shown twice (`reissue` makes new codes)."""
    if await idem.replay():
        raise Conflict(
            "The codes of this request were handed out already and are shown once; ask with "
            '"reissue": true for new ones.',
            code="codes-shown-once",
        )
    content, issued = await logins.issue_codes(
        session,
        principal=caller,
        school_id=body.school_id,
        reissue=body.reissue,
        policy=request.app.state.settings.activation(),
    )
    await idem.respond(200, {"issued": issued})
    return Response(
        content,
        media_type=logins.XLSX,
        headers={
            "Content-Disposition": 'attachment; filename="activation-codes.xlsx"',
            "Cache-Control": "no-store",
            "Shixun-Codes-Issued": str(issued),
        },
    )


@router.post("/v1/accounts/{account_id}/reset", response_model=LoginReset)
async def reset_login(
    request: Request, account_id: uuid.UUID, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """A new activation code for a login (a forgotten password): its password and sessions
    end. A school admin resets its own teachers, the bureau anyone of its district."""
    if replay := await idem.replay():
        return replay
    account, code = await logins.reset(
        session,
        principal=caller,
        account_id=account_id,
        policy=request.app.state.settings.activation(),
    )
    assert account.activation_expires_at is not None
    answer = LoginReset(
        login=await _read_one(session, account),
        activation_code=None,
        expires_at=account.activation_expires_at,
    )
    # The stored replay leaves the code out: it is kept only hashed.
    await idem.respond(200, answer)
    answer.activation_code = code
    return JSONResponse(answer.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


async def _set_disabled(
    account_id: uuid.UUID, session: Session, caller: Caller, idem: Idem, disabled: bool
) -> JSONResponse:
    if replay := await idem.replay():
        return replay
    account = await logins.set_disabled(
        session, principal=caller, account_id=account_id, disabled=disabled
    )
    return await idem.respond(200, await _read_one(session, account))


@router.post("/v1/accounts/{account_id}/disable", response_model=LoginRead)
async def disable_login(
    account_id: uuid.UUID, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """No new logins or refreshes: its refresh tokens are revoked at once; an access token
    it holds works until it expires (at most 15 minutes)."""
    return await _set_disabled(account_id, session, caller, idem, True)


@router.post("/v1/accounts/{account_id}/enable", response_model=LoginRead)
async def enable_login(
    account_id: uuid.UUID, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Let a disabled login sign in again."""
    return await _set_disabled(account_id, session, caller, idem, False)


@router.post("/v1/accounts/{account_id}/unlock", response_model=LoginRead)
async def unlock_login(
    account_id: uuid.UUID, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Lift a lockout after repeated failures before it runs out."""
    if replay := await idem.replay():
        return replay
    account = await logins.unlock(session, principal=caller, account_id=account_id)
    return await idem.respond(200, await _read_one(session, account))


async def _password_caller(request: Request) -> tuple[Principal, bool]:
    """The caller and whether it holds the restricted token of an activation code."""
    token = bearer_token(request)
    try:
        return await request.app.state.verifier.verify(token), False
    except Unauthorized:
        principal = request.app.state.signer.verify(token, typ="activation")
        if principal is None:
            raise
        return principal, True


@router.post(
    "/v1/me/password",
    response_model=TokenResponse,
    summary="Set the first password, or change one's own",
)
async def change_password(
    request: Request,
    body: PasswordChange,
    session: Session,
    caller: Annotated[tuple[Principal, bool], Depends(_password_caller)],
) -> JSONResponse:
    """With the token an activation code gave: the first password (no current one). Otherwise
    `current_password` is required. Every other session ends; the answer holds new tokens."""
    principal, activating = caller
    settings = request.app.state.settings
    account = await logins.change_password(
        session,
        principal=principal,
        activating=activating,
        current_password=body.current_password,
        new_password=body.new_password,
        passwords=settings.passwords(),
        lockout=settings.lockout(),
        source=source_of(request),
    )
    tokens = await issue_tokens(
        request, session, account, scopes=granted_scopes(account, None), refresh=True
    )
    return JSONResponse(tokens.model_dump(exclude_none=True), headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/auth/oidc/start",
    status_code=302,
    response_class=Response,
    responses={302: {"description": "to the identity provider"}},
    summary="Federated login: go to the province's identity service",
)
async def oidc_start(request: Request, session: Session) -> Response:
    """Authorization code with PKCE: redirects to the provider, which comes back to
    `/v1/auth/oidc/callback`. 404 where the district has no federated login."""
    url = await oidc.start(session, request.app.state.settings)
    return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


@router.get(
    "/v1/auth/oidc/callback",
    response_model=TokenResponse,
    summary="Federated login: the provider's answer, exchanged for tokens",
)
async def oidc_callback(
    request: Request,
    session: Session,
    code: Annotated[str, Query(min_length=1, max_length=2000)],
    state: Annotated[str, Query(min_length=1, max_length=64)],
) -> JSONResponse:
    """The teacher whose identity number the provider's ID token names gets tokens, as with a
    password; a person without a login here gets the login error."""
    account = await oidc.finish(session, request.app.state.settings, code=code, state=state)
    tokens = await issue_tokens(
        request, session, account, scopes=granted_scopes(account, None), refresh=True
    )
    return JSONResponse(tokens.model_dump(exclude_none=True), headers={"Cache-Control": "no-store"})
