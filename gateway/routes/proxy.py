"""Forwarding /v1 requests to the service that owns them (gateway/routing.py)."""

from __future__ import annotations

import httpx
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.clients.services import ServiceClients
from gateway.etag import etag_of, not_modified
from gateway.routing import service_for
from shared.errors import NotFound, Unavailable
from shared.logging import current_request_id, current_traceparent
from shared.paths import decoded_path, encoded_path, path_segments, raw_path_of

router = APIRouter()
log = structlog.get_logger("proxy")

FORWARD_REQUEST = (
    "authorization",
    "content-type",
    "accept",
    "accept-language",
    "idempotency-key",
    "if-none-match",
    "if-match",
    "tracestate",
    "user-agent",
)
FORWARD_RESPONSE = (
    "content-type",
    "content-disposition",
    "location",
    "etag",
    "retry-after",
    "idempotent-replayed",
    "cache-control",
    "www-authenticate",
)


@router.api_route(
    "/v1/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def forward(request: Request, path: str) -> Response:
    # Routed on the path as the service will decode it, sent as the raw path encoded once.
    segments = path_segments(raw_path_of(request.scope))
    public_path = decoded_path(segments)
    service = service_for(public_path)
    if service is None:
        raise NotFound(f"No endpoint {public_path}.")
    body = await request.body()
    clients: ServiceClients = request.app.state.clients
    headers = {k: v for k in FORWARD_REQUEST if (v := request.headers.get(k)) is not None}
    if request_id := current_request_id():
        headers["x-request-id"] = request_id
    if traceparent := current_traceparent():
        headers["traceparent"] = traceparent  # the gateway's span is the service's parent
    outgoing = clients[service].build_request(
        request.method,
        encoded_path(segments),
        params=request.query_params.multi_items(),
        content=body,
        headers=headers,
    )
    try:
        upstream = await clients.send(service, outgoing)
    except httpx.HTTPError as exc:
        log.warning("upstream failed", service=service, error=repr(exc))
        raise Unavailable(
            f"The {service} service is unavailable; try again shortly.", service=service
        ) from exc
    out = {k: v for k in FORWARD_RESPONSE if (v := upstream.headers.get(k)) is not None}
    if request.method == "GET" and upstream.status_code == 200:
        # The app polls these: an ETag lets it ask "changed?" and get an empty 304 back.
        out.setdefault("etag", etag_of(upstream.content))
        out.setdefault("cache-control", "private, no-cache")
        out["vary"] = "Authorization"
        if not_modified(request, out["etag"]):
            return Response(status_code=304, headers=out)
    return Response(content=upstream.content, status_code=upstream.status_code, headers=out)
