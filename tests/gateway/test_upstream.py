"""The gateway's calls to services: a saturated service is answered with a quick 503 and
Retry-After, and a request that never reached the service is sent once more."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from gateway.clients.services import SERVICES, ServiceClients, UpstreamLimits
from tests.harness import Suite

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def upstream(suite: Suite) -> Iterator[Callable[..., None]]:
    """Put services answering with `handler` behind the gateway, within `limits`."""
    saved = suite.gateway_app.state.clients

    def install(handler: Handler, limits: UpstreamLimits | None = None) -> None:
        transport = httpx.MockTransport(handler)
        suite.gateway_app.state.clients = ServiceClients(
            {
                name: httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
                for name in SERVICES
            },
            limits,
        )

    yield install
    suite.gateway_app.state.clients = saved


async def test_a_saturated_service_is_answered_503_quickly(suite: Suite, upstream) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.0)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    upstream(slow, UpstreamLimits(in_flight=1, queue=10, queue_seconds=0.2))
    headers = suite.headers()
    started = time.perf_counter()
    first, *rest = await asyncio.gather(
        *(suite.gateway.get("/v1/programs", headers=headers) for _ in range(3))
    )
    assert first.status_code == 200
    for response in rest:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/overloaded")
    assert time.perf_counter() - started < 1.9  # the refused ones did not wait their turn


async def test_beyond_the_queue_bound_the_gateway_refuses_at_once(suite: Suite, upstream) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.5)
        return httpx.Response(200, json={})

    upstream(slow, UpstreamLimits(in_flight=1, queue=1, queue_seconds=5))
    headers = suite.headers()
    answers = await asyncio.gather(
        *(suite.gateway.get("/v1/programs", headers=headers) for _ in range(4))
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 503, 503]


def _failing_once(error: type[httpx.HTTPError]) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise error("first try failed", request=request)
        return httpx.Response(201, json={"ok": True})

    return handler, seen


async def test_a_request_that_could_not_connect_is_sent_once_more(suite: Suite, upstream) -> None:
    handler, seen = _failing_once(httpx.ConnectError)
    upstream(handler)
    response = await suite.gateway.post("/v1/schools", headers=suite.headers(), json={})
    assert response.status_code == 201
    assert len(seen) == 2


async def test_a_dropped_post_is_repeated_only_with_an_idempotency_key(
    suite: Suite, upstream
) -> None:
    handler, seen = _failing_once(httpx.RemoteProtocolError)
    upstream(handler)
    refused = await suite.gateway.post("/v1/schools", headers=suite.headers(), json={})
    assert refused.status_code == 503
    assert len(seen) == 1

    handler, seen = _failing_once(httpx.RemoteProtocolError)
    upstream(handler)
    headers = suite.headers() | {"Idempotency-Key": "retry-me"}
    repeated = await suite.gateway.post("/v1/schools", headers=headers, json={})
    assert repeated.status_code == 201
    assert len(seen) == 2
    assert {r.headers["idempotency-key"] for r in seen} == {"retry-me"}
