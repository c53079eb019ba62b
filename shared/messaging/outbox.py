"""Writing events with the state change, in the same transaction, into the outbox table."""

from __future__ import annotations

import asyncio
import json
import weakref

from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.events import Event
from shared.logging import current_request_id, current_traceparent

_PENDING = "shixun_outbox_pending"
_wakeups: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()


def register_wakeup(signal: asyncio.Event) -> None:
    """A relay's signal, set after any transaction that wrote to an outbox commits."""
    _wakeups.add(signal)


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        for signal in list(_wakeups):
            signal.set()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


async def add_event(session: AsyncSession, outbox: Table, *events: Event) -> None:
    """Record events in the caller's transaction; the relay publishes them after commit."""
    if not events:
        return
    headers = {}
    request_id = current_request_id()
    if request_id:
        headers["X-Request-ID"] = request_id
    traceparent = current_traceparent()
    if traceparent:
        headers["traceparent"] = traceparent
    await session.execute(
        insert(outbox),
        [
            {
                "event_id": e.event_id,
                "subject": e.subject,
                "payload": e.model_dump_json(),
                "headers": json.dumps(headers),
                "created_at": utcnow(),
            }
            for e in events
        ],
    )
    session.sync_session.info[_PENDING] = True
