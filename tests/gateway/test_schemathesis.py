"""schemathesis against the merged OpenAPI document: no 5xx, and answers match the schema.

Hypothesis runs in a worker thread (it is synchronous); each generated request is sent on
the suite's event loop through the gateway, as a client would send it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, reject, settings
from schemathesis.checks import not_a_server_error
from schemathesis.openapi import from_dict
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.policy import RateLimitPolicy
from gateway.ratelimit import RateLimiter, TokenBuckets
from shared.auth import Role
from tests.harness import Suite

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Requests that change who may log in would lock the suite out of its own accounts.
SKIP = {"POST /v1/auth/logout"}


@pytest.fixture
def unlimited(suite: Suite) -> Iterator[None]:
    saved = suite.gateway_app.state.rate_limiter
    generous = RateLimitPolicy("test", 10**6, 10**6, 10**6, 10**6)
    suite.gateway_app.state.rate_limiter = RateLimiter(generous, TokenBuckets())
    yield
    suite.gateway_app.state.rate_limiter = saved


def _fuzz(schema: Any, send: Any, headers: dict[str, str]) -> list[str]:
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in SKIP:
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            try:
                response = send(
                    case.as_transport_kwargs(base_url="http://gateway", headers=headers)
                )
            except httpx.InvalidURL:
                reject()  # no HTTP client can send it (a control character in the path)
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except Exception as exc:
            failures.append(f"{label}: {str(exc)[:1500]}")
    return failures


async def test_merged_openapi_holds_under_generated_requests(suite: Suite, unlimited: None) -> None:
    document = (await suite.gateway.get("/openapi.json")).json()
    assert "x-missing-services" not in document["info"]
    schema = from_dict(document)
    loop = asyncio.get_running_loop()
    client: httpx.AsyncClient = suite.gateway

    def send(kwargs: dict[str, Any]) -> httpx.Response:
        kwargs.pop("cookies", None)
        try:
            request = client.build_request(**kwargs)
            request.read()  # a multipart body is a stream; the checks read it again
        except (TypeError, AttributeError, ValueError):
            reject()  # no HTTP client can encode it (a number where a file must be)
        future = asyncio.run_coroutine_threadsafe(client.send(request), loop)
        return future.result(timeout=60)

    headers = suite.headers(Role.BUREAU_ADMIN)
    failures = await asyncio.to_thread(_fuzz, schema, send, headers)
    assert failures == [], "\n\n".join(failures)
