"""The gateway's edges: rate limits, CORS, ETags on proxied GETs, request ids and trace context."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from gateway.policy import RateLimitPolicy
from gateway.ratelimit import RateLimiter, TokenBuckets
from shared.auth import Role
from tests.gateway.helpers import admin, school
from tests.harness import Suite

# One token a minute: nothing refills while a slow machine runs the test.
TIGHT = RateLimitPolicy(
    version="test", account_per_minute=1, account_burst=3, client_per_minute=1, client_burst=2
)


def test_token_bucket_refills_at_its_rate() -> None:
    buckets = TokenBuckets()
    take = lambda now: buckets.take("k", per_minute=60, burst=2, now=now)  # noqa: E731
    assert take(0.0) == 0 and take(0.0) == 0
    assert take(0.0) == pytest.approx(1.0)  # one token a second
    assert take(0.5) == pytest.approx(0.5)
    assert take(1.0) == 0


@pytest.fixture
def tight_limits(suite: Suite) -> Iterator[None]:
    saved = suite.gateway_app.state.rate_limiter
    suite.gateway_app.state.rate_limiter = RateLimiter(TIGHT, TokenBuckets())
    yield
    suite.gateway_app.state.rate_limiter = saved


async def test_rate_limit_per_account_with_retry_after(suite: Suite, tight_limits: None) -> None:
    one, other = suite.headers(Role.BUREAU_ADMIN), suite.headers(Role.BUREAU_ADMIN)
    statuses = [(await suite.gateway.get("/v1/me", headers=one)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await suite.gateway.get("/v1/me", headers=one)
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    # Another account (behind the same address) is not held back.
    assert (await suite.gateway.get("/v1/me", headers=other)).status_code == 200


async def test_rate_limit_per_client_without_a_token(suite: Suite, tight_limits: None) -> None:
    statuses = [
        (
            await suite.gateway.post(
                "/v1/auth/token", data={"grant_type": "password", "username": "x", "password": "y"}
            )
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [400, 400, 429]
    # A forged token does not escape the address's bucket.
    forged = await suite.gateway.get("/v1/me", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 429


async def test_cors_allows_configured_origins_only(suite: Suite) -> None:
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = await suite.gateway.options(
        "/v1/me", headers={"Origin": "http://localhost:3000", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    refused = await suite.gateway.options(
        "/v1/me", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers
    simple = await suite.gateway.get("/healthz", headers={"Origin": "http://localhost:3000"})
    assert "ETag" in simple.headers["access-control-expose-headers"]


async def test_proxied_get_has_an_etag_that_changes_with_the_record(suite: Suite) -> None:
    bureau = await admin(suite)
    own = await school(suite, bureau)
    teacher = (
        await suite.gateway.post(
            "/v1/teachers",
            headers=bureau,
            json={"name": "孙老师", "school_id": own["id"], "stage": "primary", "subject": "体育"},
        )
    ).json()
    url = f"/v1/teachers/{teacher['id']}"
    first = await suite.gateway.get(url, headers=bureau)
    etag = first.headers["etag"]
    unchanged = await suite.gateway.get(url, headers={**bureau, "If-None-Match": etag})
    assert unchanged.status_code == 304
    await suite.gateway.patch(url, headers=bureau, json={"subject": "美术"})
    changed = await suite.gateway.get(url, headers={**bureau, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["subject"] == "美术"
    assert changed.headers["etag"] != etag


async def test_request_id_and_trace_context_reach_the_service_and_its_event(suite: Suite) -> None:
    trace_id, request_id = secrets.token_hex(16), f"req-{secrets.token_hex(4)}"
    parent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    response = await suite.gateway.post(
        "/v1/schools",
        headers={**(await admin(suite)), "traceparent": parent, "X-Request-ID": request_id},
        json={"name": "追踪小学", "stage": "primary"},
    )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == request_id
    app = suite.apps["enrolment"]
    outbox = app.state.tables.outbox
    async with app.state.database.sessions() as session:
        rows = (await session.execute(select(outbox.c.payload, outbox.c.headers))).all()
    headers = next(json.loads(h) for p, h in rows if response.json()["id"] in p)
    assert headers["X-Request-ID"] == request_id
    # Tracing is off here: no span of ours, the caller's context is carried on as it came
    # (tests/shared/test_tracing.py follows one trace with tracing on).
    assert headers["traceparent"] == parent


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/v1/schools", {"json": {"name": "一\x00小", "stage": "primary"}}),
        ("/v1/service-accounts", {"json": {"name": "a\x00", "scopes": ["hours:read"]}}),
        ("/v1/schools?cursor=%00", {}),
    ],
)
async def test_nul_characters_are_refused_at_the_edge(
    suite: Suite, path: str, kwargs: dict
) -> None:
    method = "GET" if "?" in path else "POST"
    response = await suite.gateway.request(method, path, headers=await admin(suite), **kwargs)
    assert response.status_code == 400
    assert response.json()["type"].endswith("nul-character")


async def test_nul_in_a_form_is_refused(suite: Suite) -> None:
    response = await suite.gateway.post(
        "/v1/auth/token", data={"grant_type": "password", "username": "a\x00", "password": "x"}
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("nul-character")


def test_binary_uploads_may_hold_nul_bytes() -> None:
    from shared.edge import holds_nul

    assert not holds_nul(b"", "multipart/form-data; boundary=x", b"PK\x03\x04\x00\x00")
    assert holds_nul(b"", "application/json", b'{"a": "\\u0000"}')
    assert not holds_nul(b"", "application/json", b'{"a": "\\\\u0000"}')  # an escaped backslash
