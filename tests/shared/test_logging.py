"""Request logs follow the configuration made at start-up, whenever the middleware was built."""

from __future__ import annotations

import json

import httpx
import pytest
import structlog
from starlette.types import Receive, Scope, Send

from shared.logging import RequestIdMiddleware, configure_logging


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_request_lines_are_json_when_configured_after_the_app_is_built(
    capsys: pytest.CaptureFixture[str],
) -> None:
    saved = structlog.get_config()
    # As uvicorn does: the middleware stack exists before the lifespan configures logging.
    app = RequestIdMiddleware(hello, service="enrolment")
    try:
        configure_logging("enrolment", json=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/v1/programs", headers={"x-request-id": "abc"})
    finally:
        structlog.configure(**saved)
    assert answer.status_code == 204
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    request = next(line for line in lines if line.get("event") == "request")
    assert request["service"] == "enrolment"
    assert request["request_id"] == "abc"
    assert request["status"] == 204 and request["path"] == "/v1/programs"
