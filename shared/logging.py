"""Structured logs carrying the request id of whatever request or event caused them, and each
request's latency in the metrics (shared/metrics.py)."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from typing import Any

import structlog
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import observe_request, route_of
from shared.telemetry import HEADERS, configure_tracing, current_trace_id, span

REQUEST_ID_HEADER = "x-request-id"


class StandardError:
    """Writes each line to whatever `sys.stderr` is when it is written (structlog's
    PrintLogger keeps the stream it was made with, and takes a lock through a weak
    dictionary each time a logger is made: once a log line here)."""

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = failure = msg


STDERR = StandardError()


def configure_logging(service: str, *, json: bool = False, level: int = logging.INFO) -> None:
    """Logs, and traces when configured (shared/telemetry.py): a log line names its trace."""
    configure_tracing(service)
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
        logger_factory=lambda *_: STDERR,
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


class RequestIdMiddleware:
    """Takes X-Request-ID from the caller or makes one, logs the request, echoes the id."""

    def __init__(self, app: ASGIApp, service: str = "") -> None:
        self.app = app
        self.part = service
        # Not bound here: a logger bound before the lifespan's configure_logging keeps the
        # default configuration (the console renderer) for good, whatever SHIXUN_LOG_JSON says.
        self.log = structlog.get_logger("http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(REQUEST_ID_HEADER.encode())
        request_id = incoming.decode("latin-1")[:128] if incoming else uuid.uuid4().hex
        carrier = None
        if b"traceparent" in headers:  # the caller's trace, continued (shared/telemetry.py)
            carrier = {
                k: headers[k.encode()].decode("latin-1") for k in HEADERS if k.encode() in headers
            }
        with span(scope["method"], carrier=carrier, kind=SpanKind.SERVER) as current:
            trace_id = current_trace_id() if carrier or current else None
            tokens = structlog.contextvars.bind_contextvars(
                request_id=request_id, **({"trace_id": trace_id} if trace_id else {})
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
                if current is not None:
                    route = route_of(scope)
                    current.update_name(f"{scope['method']} {route}")
                    current.set_attribute("http.route", route)
                    current.set_attribute("http.response.status_code", status)
                if scope["path"] not in ("/healthz", "/readyz"):
                    self.log.info(
                        "request",
                        service=self.part,
                        method=scope["method"],
                        path=scope["path"],
                        status=status,
                        ms=round(seconds * 1000, 1),
                    )
                structlog.contextvars.reset_contextvars(**tokens)
