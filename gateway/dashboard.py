"""A teacher's dashboard for the mobile app, composed from three services in one round trip.

Each part is asked for concurrently with the teacher's own token (the services decide what
the teacher may see). A part that fails or is slow is marked unavailable and the rest is
still answered, with `partial: true`.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from gateway.clients.services import ServiceClients
from gateway.schemas import Dashboard, DashboardPart


async def _part(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], timeout: float, **params: Any
) -> DashboardPart:
    try:
        response = await client.get(path, headers=headers, params=params, timeout=timeout)
    except httpx.HTTPError as exc:
        return DashboardPart(status="unavailable", detail=f"{exc.__class__.__name__}")
    if response.status_code != 200:
        return DashboardPart(status="unavailable", detail=f"HTTP {response.status_code}")
    try:
        return DashboardPart(status="ok", data=response.json())
    except ValueError:
        return DashboardPart(status="unavailable", detail="unreadable answer")


async def compose(
    clients: ServiceClients, *, teacher_id: uuid.UUID, headers: dict[str, str], timeout: float
) -> Dashboard:
    enrolments, hours, pending = await asyncio.gather(
        _part(clients["enrolment"], "/v1/enrolments", headers, timeout, teacher_id=teacher_id),
        _part(clients["ledger"], f"/v1/teachers/{teacher_id}/hours", headers, timeout),
        _part(
            clients["feedback"], f"/v1/teachers/{teacher_id}/pending-evaluations", headers, timeout
        ),
    )
    parts = {"enrolments": enrolments, "hours": hours, "pending_evaluations": pending}
    return Dashboard(
        teacher_id=teacher_id,
        partial=any(p.status != "ok" for p in parts.values()),
        unavailable=sorted(name for name, p in parts.items() if p.status != "ok"),
        **parts,
    )
