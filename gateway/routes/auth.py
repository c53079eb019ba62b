"""Tokens, who am I, and accounts."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Annotated, Any
from urllib.parse import unquote

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway import accounts, login_locks
from gateway.models import Account
from gateway.passwords import hash_password
from gateway.schemas import (
    AccountCreate,
    AccountRead,
    Me,
    ServiceAccountCreate,
    ServiceAccountCreated,
    ServiceAccountRead,
    TokenResponse,
)
from shared.auth import Principal, Role
from shared.deps import Caller, Idem, Paging, Session
from shared.errors import BadRequest, Conflict, NotFound, Unavailable, Unprocessable
from shared.pagination import Page, page_of, paginate

GRANT_TYPES = ("password", "refresh_token", "client_credentials")
# The scope of the token an activation code gives: POST /v1/me/password and nothing else.
PASSWORD_SET = "password:set"
router = APIRouter(tags=["auth"])


@router.get("/.well-known/jwks.json", include_in_schema=False)
async def jwks(request: Request) -> dict[str, Any]:
    return request.app.state.signer.jwks()


async def issue_tokens(
    request: Request, session: Session, account: Account, *, scopes: str, refresh: bool
) -> TokenResponse:
    settings = request.app.state.settings
    ttl = settings.access_token_minutes * 60
    principal = accounts.principal_of(account, scopes)
    now = int(time.time())
    access = request.app.state.signer.access_token(principal, ttl_seconds=ttl, now=now)
    # The gateway checks this token on every request of the app; it need not verify its own.
    request.app.state.verifier.remember(access, principal, now + ttl)
    refresh_token = (
        await accounts.issue_refresh_token(session, account, days=settings.refresh_token_days)
        if refresh
        else None
    )
    return TokenResponse(
        access_token=access, expires_in=ttl, refresh_token=refresh_token, scope=scopes or None
    )


def _client_credentials(
    request: Request, client_id: str | None, client_secret: str | None
) -> tuple[str, str]:
    """From the form or HTTP Basic (RFC 6749 2.3.1)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            user, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("Malformed Basic credentials.", code="invalid-client") from exc
        return unquote(user), unquote(secret)
    if not client_id or not client_secret:
        raise BadRequest(
            "The client_credentials grant needs client_id and client_secret.",
            code="invalid-request",
        )
    return client_id, client_secret


@router.post("/v1/auth/token", response_model=TokenResponse, summary="OAuth2 token endpoint")
async def token(
    request: Request,
    session: Session,
    # Documented as the three it takes; another is OAuth's 400 unsupported-grant-type.
    grant_type: Annotated[str, Form(json_schema_extra={"enum": list(GRANT_TYPES)})],
    username: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """People use `password` (and `refresh_token`); machines use `client_credentials`.

    Teachers log in with their identity or mobile number as `username`. A login that waits
    for activation takes its activation code as `password` and answers a token of scope
    `password:set` (10 minutes, no refresh token) for `POST /v1/me/password`."""
    settings = request.app.state.settings
    refresh = True
    if grant_type == "password":
        if not username or not password:
            raise BadRequest(
                "The password grant needs username and password.", code="invalid-request"
            )
        account = await accounts.authenticate(
            session,
            username=username,
            password=password,
            lockout=settings.lockout(),
            source=source_of(request),
        )
        if accounts.pending(account):
            return _activation_token(request, account)
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise BadRequest("The refresh_token grant needs refresh_token.", code="invalid-request")
        account = await accounts.redeem_refresh_token(session, refresh_token)
    elif grant_type == "client_credentials":
        client, secret = _client_credentials(request, client_id, client_secret)
        account = await accounts.authenticate(
            session,
            username=client,
            password=secret,
            lockout=settings.lockout(),
            source=source_of(request),
            service=True,
        )
        # A client can always get a new token with its secret: no refresh token (RFC 6749 4.4.3).
        refresh = False
    else:
        raise BadRequest(f"Unsupported grant_type {grant_type!r}.", code="unsupported-grant-type")
    scopes = accounts.granted_scopes(account, scope)
    body = await issue_tokens(request, session, account, scopes=scopes, refresh=refresh)
    return JSONResponse(body.model_dump(exclude_none=True), headers={"Cache-Control": "no-store"})


def source_of(request: Request) -> str:
    """The address failed logins count under (behind a trusted proxy, the address it
    forwarded: SHIXUN_FORWARDED_ALLOW_IPS, shared/serve.py)."""
    return login_locks.source_of(request.client.host if request.client else None)


def _activation_token(request: Request, account: Account) -> JSONResponse:
    """An activation code opens a login for one thing only: setting its password. The token's
    typ is not "access", so no service and no other endpoint accepts it; it has no refresh."""
    ttl = request.app.state.settings.activation().token_minutes * 60
    token = request.app.state.signer.access_token(
        accounts.principal_of(account, PASSWORD_SET), ttl_seconds=ttl, typ="activation"
    )
    body = TokenResponse(access_token=token, expires_in=ttl, scope=PASSWORD_SET)
    return JSONResponse(body.model_dump(exclude_none=True), headers={"Cache-Control": "no-store"})


@router.post(
    "/v1/auth/revoke",
    status_code=200,
    summary="Revoke a refresh token (RFC 7009)",
    responses={200: {"content": {"application/json": {}}}},
)
async def revoke(
    session: Session,
    token: Annotated[str, Form(min_length=1, max_length=200)],
    token_type_hint: Annotated[str | None, Form(max_length=50)] = None,
) -> dict[str, str]:
    """Possession of a refresh token is what allows revoking it; unknown tokens succeed too."""
    await accounts.revoke_refresh_token(session, token)
    return {"status": "revoked"}


@router.post("/v1/auth/logout", status_code=204, summary="End every session of the caller")
async def logout(session: Session, caller: Caller) -> Response:
    """Revokes all refresh tokens of the caller; access tokens run out within minutes."""
    account_id = _account_id(caller)
    if account_id is not None:
        await accounts.revoke_all(session, account_id)
    return Response(status_code=204)


@router.get("/v1/me", response_model=Me)
async def get_me(session: Session, caller: Caller) -> Me:
    """Who the token belongs to: role, district, school or teacher, and scopes."""
    account = await session.scalar(select(Account).where(Account.id == _account_id(caller)))
    return Me(
        id=caller.subject,
        username=account.username if account else None,
        role=caller.role,
        district_id=caller.district_id,
        school_id=caller.school_id,
        institution_id=caller.institution_id,
        teacher_id=caller.teacher_id,
        scopes=sorted(caller.scopes),
    )


def _account_id(caller: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(caller.subject)
    except ValueError:
        return None


async def _lookup(request: Request, service: str, path: str) -> dict[str, Any]:
    """Ask the owning service, with the caller's own token, whether a record exists for them."""
    client: httpx.AsyncClient = request.app.state.clients[service]
    try:
        response = await client.get(
            path, headers={"Authorization": request.headers.get("authorization", "")}
        )
    except httpx.HTTPError as exc:
        raise Unavailable(f"The {service} service is unavailable; try again.") from exc
    if response.status_code in (403, 404):
        raise Unprocessable(
            f"{path.rsplit('/', 2)[-2][:-1]} not found in your district.", code="unknown-reference"
        )
    if response.status_code != 200:
        raise Unavailable(f"The {service} service answered {response.status_code}.")
    return response.json()


@router.post("/v1/accounts", status_code=201, response_model=AccountRead)
async def create_account(
    request: Request, body: AccountCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """The bureau creates accounts for people of its district."""
    caller.require(Role.BUREAU_ADMIN)
    passwords = request.app.state.settings.passwords()
    if problem := passwords.problem(body.password, identifiers=(body.username,)):
        raise Unprocessable(problem, code="weak-password", policy=passwords.version)
    # Hashed before the first query, so no database connection waits on the CPU.
    password_hash = await hash_password(body.password)
    if replay := await idem.replay():
        return replay
    account = Account(
        username=body.username,
        password_hash=password_hash,
        role=body.role.value,
        district_id=caller.district_id,
    )
    if body.role is Role.TEACHER:
        teacher = await _lookup(request, "enrolment", f"/v1/teachers/{body.teacher_id}")
        if await session.scalar(select(Account.id).where(Account.teacher_id == body.teacher_id)):
            # One login a teacher: the roster's (reset it for a new code) or this one.
            raise Conflict("This teacher has a login already.", code="teacher-has-login")
        account.teacher_id = body.teacher_id
        account.school_id = uuid.UUID(teacher["school_id"])
    elif body.role is Role.SCHOOL_ADMIN:
        await _lookup(request, "enrolment", f"/v1/schools/{body.school_id}")
        account.school_id = body.school_id
    elif body.role is Role.INSTITUTION_ADMIN:
        await _lookup(request, "enrolment", f"/v1/institutions/{body.institution_id}")
        account.institution_id = body.institution_id
    if await session.scalar(select(Account.id).where(Account.username == body.username)):
        raise Conflict("That username is taken.", code="username-taken")
    session.add(account)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same username
        raise Conflict("That username is taken.", code="username-taken") from exc
    return await idem.respond(201, AccountRead.model_validate(account))


@router.post("/v1/service-accounts", status_code=201, response_model=ServiceAccountCreated)
async def create_service_account(
    request: Request, body: ServiceAccountCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """The bureau gives a machine (the provincial platform, a school's system) a client id and
    secret with explicit scopes, limited to the district or to one school of it."""
    caller.require(Role.BUREAU_ADMIN)
    if replay := await idem.replay():
        return replay
    if body.school_id is not None:
        await _lookup(request, "enrolment", f"/v1/schools/{body.school_id}")
    account, secret = await accounts.create_service_account(
        session,
        label=body.name,
        scopes=body.scopes,
        district_id=caller.district_id,
        school_id=body.school_id,
    )
    created = ServiceAccountCreated(
        id=account.id,
        name=body.name,
        client_id=account.username,
        client_secret=None,
        scopes=sorted(account.scopes.split()),
        district_id=account.district_id,
        school_id=account.school_id,
    )
    # The stored replay leaves the secret out: it is kept only hashed, nowhere in clear.
    await idem.respond(201, created)
    created.client_secret = secret
    return JSONResponse(created.model_dump(mode="json"), status_code=201)


@router.get("/v1/service-accounts", response_model=Page[ServiceAccountRead])
async def list_service_accounts(session: Session, caller: Caller, paging: Paging) -> dict:
    """The district's service accounts (school systems, the provincial platform) and their scopes;
    bureau only."""
    caller.require(Role.BUREAU_ADMIN)
    query = select(Account).where(
        Account.role == Role.SERVICE.value, Account.district_id == caller.district_id
    )
    rows = (await session.scalars(paginate(query, Account, paging))).all()
    return page_of(list(rows), paging, ServiceAccountRead)


@router.delete("/v1/service-accounts/{account_id}", status_code=204)
async def disable_service_account(
    account_id: uuid.UUID, session: Session, caller: Caller
) -> Response:
    """The client can get no new token; the ones it holds run out within minutes."""
    caller.require(Role.BUREAU_ADMIN)
    account = await session.get(Account, account_id)
    if (
        account is None
        or account.role != Role.SERVICE.value
        or account.district_id != caller.district_id
    ):
        raise NotFound("No such service account.", message="not-found.service-account")
    account.disabled = True
    await accounts.revoke_all(session, account.id)
    return Response(status_code=204)
