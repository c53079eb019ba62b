"""/healthz (the process answers) and /readyz (its database and NATS answer)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shared.errors import problem_response

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database and NATS reachable")
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await request.app.state.database.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    link = request.app.state.nats
    checks["nats"] = "ok" if link.connected else "unreachable"
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    return problem_response(
        503, "Not ready", "A dependency is not reachable.", code="not-ready", checks=checks
    )
