"""Structured logs carrying the request id of whatever request or event caused them, and each
request's latency in the metrics (shared/metrics.py)."""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import observe_request

REQUEST_ID_HEADER = "x-request-id"
TRACEPARENT_HEADER = "traceparent"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def configure_logging(service: str, *, json: bool = False, level: int = logging.INFO) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


def current_traceparent() -> str | None:
    return structlog.contextvars.get_contextvars().get("traceparent")


def child_traceparent(incoming: str | None) -> str:
    """W3C trace context: continue the caller's trace with a span of our own, or start one."""
    match = _TRACEPARENT.match(incoming or "")
    trace_id, flags = (match.group(1), match.group(3)) if match else (secrets.token_hex(16), "01")
    if trace_id == "0" * 32:
        trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


class RequestIdMiddleware:
    """Takes X-Request-ID from the caller or makes one, logs the request, echoes the id."""

    def __init__(self, app: ASGIApp, service: str = "") -> None:
        self.app = app
        self.part = service
        self.log = structlog.get_logger("http").bind(service=service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(REQUEST_ID_HEADER.encode())
        request_id = incoming.decode("latin-1")[:128] if incoming else uuid.uuid4().hex
        parent = headers.get(TRACEPARENT_HEADER.encode(), b"").decode("latin-1")
        traceparent = child_traceparent(parent)
        tokens = structlog.contextvars.bind_contextvars(
            request_id=request_id, traceparent=traceparent, trace_id=traceparent[3:35]
        )
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            observe_request(self.part, scope, status, seconds)
            if scope["path"] not in ("/healthz", "/readyz"):
                self.log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round(seconds * 1000, 1),
                )
            structlog.contextvars.reset_contextvars(**tokens)
