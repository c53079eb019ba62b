"""Dead letters for operators: list a part's, replay one (docs/operations.md, "Dead letters").

A consumer records an event it could not apply after max_deliver attempts in its
`dead_letter` table and acks it (shared/messaging/inbox.py). Replay applies the recorded
event with the same consumer's handler, in one transaction that records it in the inbox,
just as a delivery would: an event the consumer has applied since (a replay before) is
not applied again, so replaying twice is harmless. A dead letter is kept after its replay,
shown as `applied`, for the record.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, current_principal
from shared.db import Database
from shared.errors import BadRequest, Conflict, NotFound, Unprocessable
from shared.events import parse_event
from shared.messaging.inbox import HandlerRegistry, apply_once
from shared.messaging.tables import InfraTables
from shared.pagination import Page, PageParams, page_params

log = structlog.get_logger("dead-letters")

MAX_ID = 2**63 - 1


class DeadLetterRead(BaseModel):
    id: int
    consumer: str
    subject: str
    event_id: str | None
    payload: str
    error: str
    deliveries: int
    recorded_at: dt.datetime
    applied: bool  # the consumer has applied the event since (a replay)


class ReplayRead(DeadLetterRead):
    outcome: Literal["applied", "already-applied"]


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def applied_of(session: AsyncSession, tables: InfraTables, rows: Sequence[Any]) -> set:
    """(consumer, event id) of the dead letters among `rows` that their consumer applied since."""
    ids = {i for i in (_uuid(r.event_id) for r in rows) if i is not None}
    if not ids:
        return set()
    inbox = tables.inbox
    found = await session.execute(
        select(inbox.c.consumer, inbox.c.event_id).where(inbox.c.event_id.in_(ids))
    )
    return {(consumer, str(event_id)) for consumer, event_id in found}


async def waiting_by_consumer(database: Database, tables: InfraTables) -> dict[str, int]:
    """Dead letters not applied since, by consumer (for the metrics, at scrape time)."""
    dead = tables.dead_letter
    async with database.sessions() as session:
        rows = (await session.execute(select(dead.c.consumer, dead.c.event_id))).all()
        applied = await applied_of(session, tables, rows)
    counts: dict[str, int] = {}
    for row in rows:
        if (row.consumer, str(_uuid(row.event_id))) not in applied:
            counts[row.consumer] = counts.get(row.consumer, 0) + 1
    return counts


def _read(row: Any, subject: str, applied: set) -> DeadLetterRead:
    return DeadLetterRead(
        id=row.id,
        consumer=row.consumer,
        subject=subject,
        event_id=row.event_id,
        payload=row.payload,
        error=row.error,
        deliveries=row.deliveries,
        recorded_at=row.recorded_at,
        applied=(row.consumer, str(_uuid(row.event_id))) in applied,
    )


def _cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest("The cursor is not one this API gave out.", code="bad-cursor") from exc
    if not 0 <= value <= MAX_ID:
        raise BadRequest("The cursor is not one this API gave out.", code="bad-cursor")
    return value


def dead_letter_router(
    part: str, tables: InfraTables, registries: Sequence[HandlerRegistry]
) -> APIRouter:
    """`/v1/ops/<part>/dead-letters`: the part's dead letters, for operators only."""
    router = APIRouter(prefix=f"/v1/ops/{part}/dead-letters", tags=["operations"])
    by_consumer = {registry.service: registry for registry in registries}
    dead = tables.dead_letter

    def subject_of(request: Request, row: Any) -> str:
        return request.app.state.nats.namespace.unprefix(row.subject)

    @router.get(
        "",
        response_model=Page[DeadLetterRead],
        summary=f"Dead letters of {part}",
        operation_id=f"list_{part}_dead_letters",
    )
    async def list_dead_letters(
        request: Request,
        principal: Principal = Depends(current_principal),
        params: PageParams = Depends(page_params),
    ) -> dict[str, Any]:
        """Oldest first; `applied` tells which a replay has applied since."""
        principal.require_operator()
        query = select(dead).where(dead.c.id > _after(params.cursor)).order_by(dead.c.id)
        async with request.app.state.database.sessions() as session:
            rows = (await session.execute(query.limit(params.limit + 1))).all()
            page = rows[: params.limit]
            applied = await applied_of(session, tables, page)
        return {
            "items": [_read(r, subject_of(request, r), applied) for r in page],
            "next_cursor": _cursor(page[-1].id) if len(rows) > params.limit else None,
        }

    @router.post(
        "/{dead_letter_id}/replay",
        response_model=ReplayRead,
        summary=f"Replay a dead letter of {part}",
        operation_id=f"replay_{part}_dead_letter",
    )
    async def replay_dead_letter(
        request: Request,
        dead_letter_id: int = Path(ge=1, le=MAX_ID),
        principal: Principal = Depends(current_principal),
    ) -> ReplayRead:
        """Apply the recorded event with its consumer's handler, once: an event applied before
        answers `already-applied` and changes nothing. A handler that fails again answers 409
        and keeps the dead letter as it was."""
        principal.require_operator()
        database: Database = request.app.state.database
        async with database.sessions() as session:
            row = (await session.execute(select(dead).where(dead.c.id == dead_letter_id))).first()
        if row is None:
            raise NotFound("No such dead letter.", message="not-found.dead-letter")
        subject = subject_of(request, row)
        registry = by_consumer.get(row.consumer)
        handler = registry.handlers.get(subject) if registry else None
        if handler is None:
            raise Unprocessable(
                f"The consumer {row.consumer} does not handle {subject}.", code="no-handler"
            )
        try:
            event = parse_event(subject, row.payload.encode())
        except Exception as exc:
            raise Unprocessable(
                "The recorded event cannot be read, so it can never be applied.",
                code="unreadable-event",
            ) from exc
        try:
            applied = await apply_once(database, tables, row.consumer, handler, event)
        except Exception as exc:
            log.warning("replay failed", dead_letter_id=row.id, error=repr(exc))
            raise Conflict(f"The event failed again: {exc!r}", code="replay-failed") from exc
        log.info("dead letter replayed", dead_letter_id=row.id, applied=applied)
        read = _read(row, subject, {(row.consumer, str(_uuid(row.event_id)))})
        return ReplayRead(**read.model_dump(), outcome="applied" if applied else "already-applied")

    return router
