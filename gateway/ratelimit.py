"""Rate limits: a token bucket per account (people and service clients alike) and, for
requests without a valid token, per client address.

Authenticated traffic is not limited by address because a school's teachers often share
one NAT address. Buckets live in this process; with several gateway replicas each enforces
its share (documented in docs/gateway.md).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.policy import RateLimitPolicy
from shared.auth import TokenVerifier
from shared.errors import PROBLEM_JSON, Problem, problem_body
from shared.i18n import language_of

EXEMPT_PREFIXES = ("/healthz", "/readyz", "/docs", "/.well-known/")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self.max_keys = max_keys

    def take(self, key: str, *, per_minute: int, burst: int, now: float | None = None) -> float:
        """Take one token; 0 if allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        rate = per_minute / 60
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._evict(now, rate, burst)
            bucket = self._buckets[key] = _Bucket(tokens=burst, updated=now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate

    def _evict(self, now: float, rate: float, burst: int) -> None:
        """Forget buckets that have refilled completely: they hold no information."""
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * rate >= burst]
        for key in full:
            del self._buckets[key]


@dataclass
class RateLimiter:
    """The policy in force and its buckets; on app.state so it can be tuned at run time."""

    policy: RateLimitPolicy
    buckets: TokenBuckets


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _key(self, scope: Scope, policy: RateLimitPolicy) -> tuple[str, int, int] | None:
        """The bucket of this request and its rate and burst; None for an exempt account."""
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        kind, _, token = auth.partition(" ")
        verifier: TokenVerifier | None = getattr(scope["app"].state, "verifier", None)
        if kind.lower() == "bearer" and token and verifier is not None:
            try:
                principal = await verifier.verify(token.strip())
            except Problem:
                pass  # an invalid token counts against the address; the endpoint says 401
            else:
                # The endpoint takes the caller from here instead of verifying again.
                scope.setdefault("state", {})["principal"] = principal
                if principal.subject in policy.unlimited_accounts:
                    return None
                p = policy
                return f"account:{principal.subject}", p.account_per_minute, p.account_burst
        client = scope.get("client")
        address = client[0] if client else "unknown"
        return f"client:{address}", policy.client_per_minute, policy.client_burst

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter: RateLimiter | None = (
            getattr(scope["app"].state, "rate_limiter", None) if "app" in scope else None
        )
        if limiter is None or scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        bucket = await self._key(scope, limiter.policy)
        if bucket is None:
            await self.app(scope, receive, send)
            return
        key, per_minute, burst = bucket
        wait = limiter.buckets.take(key, per_minute=per_minute, burst=burst)
        if not wait:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(wait)))
        body = json.dumps(
            problem_body(
                429,
                "rate-limited",
                f"Slow down; try again in {retry_after} s.",
                language_of(scope),
                instance=scope["path"],
                params={"retry_after": retry_after},
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"retry-after", retry_after.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
