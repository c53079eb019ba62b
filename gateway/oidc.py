"""Federated login: the gateway as an OpenID Connect relying party of a province's unified
identity service (统一身份认证), authorization code flow with PKCE.

The protocol is Authlib's (authorization URL, PKCE S256, code exchange) and PyJWT's (the ID
token's signature against the provider's JWKS, issuer, audience, expiry); this module only
keeps the login's state, checks the nonce and maps the person to a login by the keyed hash
of the identity number in the ID token, as enrolment stores it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from authlib.integrations.httpx_client import AsyncOAuth2Client
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts import InvalidGrant
from gateway.config import Settings
from gateway.models import Account, OidcLogin
from shared import pii
from shared.auth import Role
from shared.db import utcnow
from shared.errors import NotFound, Unavailable

STATE_MINUTES = 10


@dataclass
class Provider:
    """The provider's discovery document and keys, fetched once and kept a while."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks: jwt.PyJWKSet
    fetched_at: float


_providers: dict[str, Provider] = {}


def configured(settings: Settings) -> None:
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_redirect_uri):
        raise NotFound(
            "This district has no federated login; log in with a password.",
            message="not-found.federated-login",
        )


async def provider(settings: Settings, *, refresh: bool = False) -> Provider:
    assert settings.oidc_issuer is not None
    issuer = settings.oidc_issuer.rstrip("/")
    known = _providers.get(issuer)
    if known is not None and not refresh and time.monotonic() - known.fetched_at < 3600:
        return known
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            document = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()
            keys = (await http.get(document["jwks_uri"])).json()
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise Unavailable("The identity provider cannot be reached; try again.") from exc
    found = Provider(
        issuer=document["issuer"],
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks=jwt.PyJWKSet.from_dict(keys),
        fetched_at=time.monotonic(),
    )
    _providers[issuer] = found
    return found


def _client(settings: Settings) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        scope=settings.oidc_scope,
        redirect_uri=settings.oidc_redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post" if settings.oidc_client_secret else "none",
        timeout=10,
    )


async def start(session: AsyncSession, settings: Settings) -> str:
    """The provider's authorization URL for a new login; its state is kept for the callback."""
    configured(settings)
    found = await provider(settings)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    async with _client(settings) as client:
        url, _ = client.create_authorization_url(
            found.authorization_endpoint, state=state, nonce=nonce, code_verifier=verifier
        )
    # Old states of abandoned logins go with each new one.
    await session.execute(delete(OidcLogin).where(OidcLogin.expires_at < utcnow()))
    session.add(
        OidcLogin(
            state=state,
            nonce=nonce,
            code_verifier=verifier,
            expires_at=utcnow() + dt.timedelta(minutes=STATE_MINUTES),
        )
    )
    await session.flush()
    return url


def _keys(found: Provider, id_token: str) -> list[jwt.PyJWK]:
    """The key the token names, or (no kid, as some providers sign) every key to try."""
    kid = jwt.get_unverified_header(id_token).get("kid")
    if kid is None:
        return list(found.jwks.keys)
    return [key for key in found.jwks.keys if key.key_id == kid]


def _claims(found: Provider, id_token: str, *, audience: str, nonce: str) -> dict[str, Any]:
    claims: dict[str, Any] | None = None
    try:
        for key in _keys(found, id_token):
            try:
                claims = jwt.decode(
                    id_token,
                    key.key,
                    algorithms=["RS256", "ES256", "PS256"],
                    audience=audience,
                    issuer=found.issuer,
                    options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                )
                break
            except jwt.InvalidSignatureError:
                continue
    except jwt.PyJWTError as exc:
        raise InvalidGrant("The identity provider's answer is not valid.") from exc
    if claims is None or claims.get("nonce") != nonce:
        raise InvalidGrant("The identity provider's answer is not valid.")
    return claims


async def finish(session: AsyncSession, settings: Settings, *, code: str, state: str) -> Account:
    """The login of the person the provider vouches for, found by identity number."""
    configured(settings)
    login = await session.get(OidcLogin, state)
    if login is None or login.expires_at <= utcnow():
        raise InvalidGrant("This login has expired or was used; start again.")
    await session.delete(login)  # one use
    await session.commit()
    found = await provider(settings)
    async with _client(settings) as client:
        try:
            token = await client.fetch_token(
                found.token_endpoint, code=code, code_verifier=login.code_verifier
            )
        except Exception as exc:  # Authlib raises OAuthError or HTTP errors alike
            raise InvalidGrant("The identity provider refused the login.") from exc
    id_token = token.get("id_token")
    if not id_token:
        raise InvalidGrant("The identity provider gave no ID token.")
    assert settings.oidc_client_id is not None
    try:
        rotated = not _keys(found, id_token)
    except jwt.PyJWTError as exc:
        raise InvalidGrant("The identity provider's answer is not valid.") from exc
    if rotated:  # a key the provider made since: fetch its keys again
        found = await provider(settings, refresh=True)
    claims = _claims(found, id_token, audience=settings.oidc_client_id, nonce=login.nonce)
    number = claims.get(settings.oidc_id_number_claim)
    account = None
    if isinstance(number, str) and number.strip():
        account = await session.scalar(
            select(Account).where(
                Account.id_number_hash == pii.lookup_hash(number),
                Account.role == Role.TEACHER.value,
            )
        )
    if account is None or account.disabled:
        raise InvalidGrant("No login of this district belongs to this person.")
    return account
