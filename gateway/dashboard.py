"""A teacher's dashboard for the mobile app, composed from four services in one round trip.

Each part is asked for concurrently with the teacher's own token (the services decide what
the teacher may see) and read into its typed shape. A part that fails, is slow or answers
something unreadable is marked unavailable and the rest is still answered, with
`partial: true`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import ValidationError

from gateway.clients.services import ServiceClients
from gateway.schemas import (
    Dashboard,
    DashboardEnrolment,
    DashboardPart,
    EnrolmentsPart,
    ForMePart,
    HoursPart,
    HoursProgress,
    NextSession,
    NextSessionsPart,
    PendingEvaluationItem,
    PendingEvaluationsPart,
    ProgramForMe,
)
from shared.config import DISTRICT_TZ

# Enrolments of programs that ended longer ago than this are history, not the home screen.
RECENT = dt.timedelta(days=30)
SHOWN_ENROLMENTS = 20
SHOWN_SESSIONS = 3
SHOWN_EVALUATIONS = 10
FOR_ME = 3
# Statuses that hold a seat on the program's days (services/enrolment/policy.py).
SEATED = frozenset({"confirmed"})


async def _fetch(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    timeout: float,
    read: Callable[[Any], Any],
    **params: Any,
) -> tuple[Any, str | None]:
    """The part's data read by `read`, or None and why not."""
    try:
        response = await client.get(path, headers=headers, params=params, timeout=timeout)
    except httpx.HTTPError as exc:
        return None, exc.__class__.__name__
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}"
    try:
        return read(response.json()), None
    except (ValueError, KeyError, TypeError, ValidationError):
        return None, "unreadable answer"


def _part(kind: type[DashboardPart], fetched: tuple[Any, str | None]) -> Any:
    data, detail = fetched
    if detail is not None:
        return kind(status="unavailable", detail=detail)
    return kind(status="ok", data=data)


def _enrolments(page: dict) -> list[DashboardEnrolment]:
    return [DashboardEnrolment.model_validate(item) for item in page["items"]]


def _hours(summary: dict) -> HoursProgress:
    return HoursProgress.model_validate(summary)


def _pending(page: dict) -> list[PendingEvaluationItem]:
    items = [PendingEvaluationItem.model_validate(item) for item in page["items"]]
    return sorted(items, key=lambda item: item.due_at)[:SHOWN_EVALUATIONS]


def _for_me(body: dict) -> list[ProgramForMe]:
    return [ProgramForMe.model_validate(item) for item in body["items"]]


def next_sessions(enrolments: list[DashboardEnrolment], today: dt.date) -> list[NextSession]:
    """The next days of training among the programs the teacher holds a seat in."""
    coming = sorted(
        (e for e in enrolments if e.status in SEATED and e.ends_on >= today),
        key=lambda e: e.starts_on,
    )[:SHOWN_SESSIONS]
    return [
        NextSession(
            program_id=e.program_id,
            program_title=e.program_title,
            on=max(e.starts_on, today),
            until=e.ends_on,
            place=e.place,
        )
        for e in coming
    ]


async def compose(
    clients: ServiceClients, *, teacher_id: uuid.UUID, headers: dict[str, str], timeout: float
) -> Dashboard:
    today = dt.datetime.now(ZoneInfo(DISTRICT_TZ)).date()
    enrolments, hours, pending, for_me = await asyncio.gather(
        _fetch(
            clients["enrolment"],
            f"/v1/teachers/{teacher_id}/enrolments",
            headers,
            timeout,
            _enrolments,
            ends_from=(today - RECENT).isoformat(),
            limit=SHOWN_ENROLMENTS,
        ),
        _fetch(clients["ledger"], f"/v1/teachers/{teacher_id}/hours", headers, timeout, _hours),
        _fetch(
            clients["feedback"],
            f"/v1/teachers/{teacher_id}/pending-evaluations",
            headers,
            timeout,
            _pending,
            limit=50,
        ),
        _fetch(
            clients["enrolment"], "/v1/catalogue/for-me", headers, timeout, _for_me, limit=FOR_ME
        ),
    )
    sessions = (next_sessions(enrolments[0], today), None) if enrolments[1] is None else enrolments
    parts = {
        "next_sessions": _part(NextSessionsPart, sessions),
        "enrolments": _part(EnrolmentsPart, enrolments),
        "hours": _part(HoursPart, hours),
        "pending_evaluations": _part(PendingEvaluationsPart, pending),
        "for_me": _part(ForMePart, for_me),
    }
    return Dashboard(
        teacher_id=teacher_id,
        partial=any(p.status != "ok" for p in parts.values()),
        unavailable=sorted(name for name, p in parts.items() if p.status != "ok"),
        **parts,
    )
