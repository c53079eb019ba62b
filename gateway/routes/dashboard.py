"""GET /v1/me/dashboard: the mobile app's home screen in one round trip."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway import dashboard
from gateway.etag import etag_of, not_modified
from gateway.schemas import Dashboard
from shared.auth import Role
from shared.deps import Caller

router = APIRouter(tags=["me"])


@router.get(
    "/v1/me/dashboard",
    response_model=Dashboard,
    responses={304: {"description": "unchanged since the ETag sent in If-None-Match"}},
)
async def my_dashboard(request: Request, caller: Caller) -> Response:
    """A teacher's enrolments, hours progress and pending evaluations; parts a service could
    not give are marked unavailable and `partial` is true."""
    caller.require(Role.TEACHER)
    assert caller.teacher_id is not None
    headers = {"Authorization": request.headers["authorization"]}
    body = await dashboard.compose(
        request.app.state.clients,
        teacher_id=caller.teacher_id,
        headers=headers,
        timeout=request.app.state.settings.dashboard_timeout_seconds,
    )
    content = body.model_dump_json().encode()
    etag = etag_of(content)
    cache = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    if not_modified(request, etag):
        return Response(status_code=304, headers=cache)
    return Response(content, media_type="application/json", headers=cache)
