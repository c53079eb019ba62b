"""Forwarding /v1 requests to the service that owns them (gateway/routing.py).

Forwarding is most of what the gateway does on selection day, so it is an ASGI middleware
inside the edge middlewares (CORS, request id, rate limit, path and NUL checks) that sends
the request on as it came, without FastAPI's routing, a Request object or httpx's models:
together they had cost more than half of a forwarded request (py-spy,
docs/performance.md). Paths of the gateway's own endpoints go on to its routes.
"""

from __future__ import annotations

import re

import httpx
import structlog
from fastapi import APIRouter, Request
from opentelemetry.trace import SpanKind
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.clients.services import ServiceClients
from gateway.etag import etag_of, matches
from gateway.routing import service_for
from shared.errors import NotFound, Problem, Unavailable
from shared.logging import current_request_id
from shared.metrics import FORWARDED_TO
from shared.paths import decoded_path, encoded_path, path_segments, raw_path_of
from shared.telemetry import inject, span

log = structlog.get_logger("proxy")

FORWARD_REQUEST = frozenset(
    {
        b"authorization",
        b"content-type",
        b"accept",
        b"accept-language",
        b"idempotency-key",
        b"if-none-match",
        b"if-match",
        b"user-agent",
    }
)
FORWARD_RESPONSE = frozenset(
    {
        "content-type",
        "content-disposition",
        "location",
        "etag",
        "retry-after",
        "idempotent-replayed",
        "cache-control",
        "www-authenticate",
    }
)
CATCH_ALL = "/v1/{path:path}"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

router = APIRouter()


@router.api_route(CATCH_ALL, methods=METHODS, include_in_schema=False)
async def no_endpoint(request: Request) -> None:
    """A /v1 path that neither a service nor the gateway answers."""
    raise NotFound(
        f"No endpoint {decoded_path(path_segments(raw_path_of(request.scope)))}.",
        message="not-found.endpoint",
    )


class ForwardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._own: list[re.Pattern[str]] | None = None

    def _gateway_answers(self, scope: Scope, path: str) -> bool:
        """Whether one of the gateway's own routes (accounts, tokens, webhooks…) has it."""
        if self._own is None:
            self._own = [
                route.path_regex
                for route in scope["app"].router.routes
                if getattr(route, "path", CATCH_ALL) != CATCH_ALL and hasattr(route, "path_regex")
            ]
        return any(pattern.match(path) for pattern in self._own)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/v1/")
            or scope["method"] not in METHODS
        ):
            await self.app(scope, receive, send)
            return
        # Routed on the path as the service will decode it, sent as the raw path encoded once
        # (RefuseOddPathMiddleware has refused paths that do not split cleanly).
        segments = path_segments(raw_path_of(scope))
        public_path = decoded_path(segments)
        service = service_for(public_path)
        if service is None or self._gateway_answers(scope, public_path):
            await self.app(scope, receive, send)
            return
        scope[FORWARDED_TO] = service  # the route label of its latency (shared/metrics.py)
        try:
            response = await _forward(scope, receive, service, segments)
        except Problem as problem:
            response = problem.response(instance=public_path)
        await response(scope, receive, send)


async def _forward(scope: Scope, receive: Receive, service: str, segments: list[str]) -> Response:
    body = await _body(receive)
    method = scope["method"]
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in scope["headers"]
        if name in FORWARD_REQUEST
    ]
    if request_id := current_request_id():
        headers.append(("x-request-id", request_id))
    target = encoded_path(segments)
    if query := scope.get("query_string"):
        target += "?" + query.decode("latin-1")
    clients: ServiceClients = scope["app"].state.clients
    try:
        with span(f"forward to {service}", kind=SpanKind.CLIENT):
            headers.extend(inject({}).items())  # the caller's trace, or our span in it
            upstream = await clients.exchange(service, method, target, headers, body)
    except httpx.HTTPError as exc:
        log.warning("upstream failed", service=service, error=repr(exc))
        raise Unavailable(
            f"The {service} service is unavailable; try again shortly.", service=service
        ) from exc
    out = {k: v for k, v in upstream.headers if k in FORWARD_RESPONSE}
    if method == "GET" and upstream.status == 200:
        # The app polls these: an ETag lets it ask "changed?" and get an empty 304 back.
        out.setdefault("etag", etag_of(upstream.content))
        out.setdefault("cache-control", "private, no-cache")
        out["vary"] = "Authorization"
        if matches(_header(scope, b"if-none-match"), out["etag"]):
            return Response(status_code=304, headers=out)
    return Response(content=upstream.content, status_code=upstream.status, headers=out)


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
