"""What operators get of every part: `/metrics` for Prometheus and the part's dead letters.

Each app includes `operations_router(...)` once (shared/service_app.py, gateway/app.py).
Who may read /metrics (docs/operations.md, "Watching it"): with SHIXUN_METRICS_TOKEN set,
whoever sends it as a bearer token; without one, in development only this machine, and in
production (SHIXUN_ENV=production) nobody. /metrics is outside /v1, so the gateway never
forwards it to a service, and it is no part of the public API document.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.responses import Response

from shared.config import common
from shared.dead_letters import dead_letter_router
from shared.errors import Forbidden, NotFound, Unauthorized
from shared.messaging.gauges import refresh_messaging_gauges
from shared.messaging.inbox import HandlerRegistry
from shared.messaging.tables import InfraTables

LOOPBACK = frozenset({"127.0.0.1", "::1"})


def check_metrics_reader(request: Request) -> None:
    settings = common()
    token = settings.shixun_metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            raise Unauthorized("The metrics token is required here.")
        return
    if settings.shixun_env == "production":
        raise NotFound(
            "No endpoint /metrics.", message="not-found.endpoint"
        )  # off until a token is set
    client = request.client.host if request.client else ""
    if client not in LOOPBACK:
        raise Forbidden("Metrics are served to this machine only; set SHIXUN_METRICS_TOKEN.")


def operations_router(
    part: str, tables: InfraTables, registries: Sequence[HandlerRegistry]
) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        check_metrics_reader(request)
        await refresh_messaging_gauges()
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    router.include_router(dead_letter_router(part, tables, registries))
    return router
