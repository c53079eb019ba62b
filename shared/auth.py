"""Who is calling: JWT verification against the gateway's JWKS, giving a Principal.

Every service verifies tokens itself (zero trust); the gateway only signs them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import jwt
from fastapi import Request

from shared import jws
from shared.errors import Forbidden, Unauthorized

ALGORITHM = jws.ALGORITHM
MAX_CACHED_TOKENS = 100_000
# The parts that verify tokens; each accepts only tokens naming it in `aud`.
PARTS = ("gateway", "enrolment", "ledger", "budget", "feedback")
# The scope of the deployment's operators (dead letters): a bureau admin's account holds it
# (the bootstrap admin does); no client can be given it (gateway.policy.SCOPES).
OPS_SCOPE = "ops"


def audience_of(part: str, base: str) -> str:
    """The audience one part verifies: `<SHIXUN_JWT_AUDIENCE>:<part>` (shixun:ledger)."""
    return f"{base}:{part}"


class Role(StrEnum):
    TEACHER = "teacher"
    SCHOOL_ADMIN = "school_admin"
    INSTITUTION_ADMIN = "institution_admin"
    BUREAU_ADMIN = "bureau_admin"
    SERVICE = "service"


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


@dataclass(frozen=True)
class Principal:
    """The caller and the scope it may act in (DOMAIN.md, "Who may see what")."""

    subject: str
    role: Role
    district_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    teacher_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        try:
            role = Role(claims["role"])
        except (KeyError, ValueError) as exc:
            raise Unauthorized("The token names no known role.") from exc
        return cls(
            subject=str(claims["sub"]),
            role=role,
            district_id=_uuid(claims.get("district_id")),
            school_id=_uuid(claims.get("school_id")),
            institution_id=_uuid(claims.get("institution_id")),
            teacher_id=_uuid(claims.get("teacher_id")),
            scopes=frozenset(str(claims.get("scope", "")).split()),
        )

    def claims(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sub": self.subject, "role": self.role.value}
        for name in ("district_id", "school_id", "institution_id", "teacher_id"):
            value = getattr(self, name)
            if value:
                out[name] = str(value)
        if self.scopes:
            out["scope"] = " ".join(sorted(self.scopes))
        return out

    @property
    def is_bureau(self) -> bool:
        return self.role is Role.BUREAU_ADMIN

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(f"A {self.role.value} may not do this.")

    def require_operator(self) -> None:
        """The deployment's own records (dead letters) hold events of every district: only a
        bureau admin holding the ops scope sees them."""
        if self.role is not Role.BUREAU_ADMIN or OPS_SCOPE not in self.scopes:
            raise Forbidden("Only an operator (a bureau admin with the ops scope) may do this.")

    def require_scope(self, scope: str) -> None:
        """Service accounts act only within the scopes they were given."""
        if self.role is Role.SERVICE and scope not in self.scopes:
            raise Forbidden(f"This client lacks the scope {scope!r}.")


class TokenVerifier:
    """Verifies ES256 tokens with keys from a JWKS document, refreshed on an unknown key id."""

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        http: httpx.AsyncClient | None = None,
        refresh_interval: float = 10.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self._http = http
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._refresh_interval = refresh_interval
        self._lock = asyncio.Lock()
        # token -> (principal, exp): an app sends the same token for its whole life, and an
        # ES256 verification costs more than the rest of a small request.
        self._verified: dict[str, tuple[Principal, float]] = {}

    def use_http(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._refresh_interval and self._keys:
                return
            client = self._http or httpx.AsyncClient(timeout=5)
            try:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
                jwks = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, jwt.PyJWKSetError, ValueError) as exc:
                raise Unauthorized("Token keys are unavailable; try again shortly.") from exc
            finally:
                if self._http is None:
                    await client.aclose()
            self._keys = {key.key_id: key for key in jwks.keys if key.key_id}
            self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        """The token's principal; each token is verified once and remembered until `exp`."""
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() < cached[1]:
                return cached[0]
            del self._verified[token]
        principal, expires = await self._verify(token)
        self.remember(token, principal, expires)
        return principal

    def remember(self, token: str, principal: Principal, expires: float) -> None:
        """A token known to be valid until `expires` (the gateway's own, as it mints one)."""
        if len(self._verified) >= MAX_CACHED_TOKENS:
            self._forget_expired()
        self._verified[token] = (principal, expires)

    def _forget_expired(self) -> None:
        now = time.time()
        for token in [t for t, (_, exp) in self._verified.items() if exp <= now]:
            del self._verified[token]
        if len(self._verified) >= MAX_CACHED_TOKENS:
            self._verified.clear()  # all live: start over rather than grow without bound

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            kid = jws.header_of(token).get("kid")
        except jws.InvalidToken as exc:
            raise Unauthorized("The bearer token is malformed.") from exc
        if not isinstance(kid, str):
            raise Unauthorized("The token names no signing key.")
        if kid not in self._keys:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("The token was signed by an unknown key.")
        try:
            claims = jws.decode(token, key.key, audience=self.audience, issuer=self.issuer)
        except jws.ExpiredToken as exc:
            raise Unauthorized("The token has expired.") from exc
        except jws.InvalidToken as exc:
            raise Unauthorized("The token is not valid.") from exc
        if claims.get("typ") != "access":
            raise Unauthorized("Only access tokens are accepted here.")
        return Principal.from_claims(claims), float(claims["exp"])


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A bearer token is required.")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(bearer_token(request))
    request.state.principal = principal
    return principal
