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
from shared.logging import current_request_id
from shared.telemetry import inject

_PENDING = "shixun_outbox_pending"
_wakeups: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()


def register_wakeup(signal: asyncio.Event) -> None:
    """A relay's signal, set after any transaction that wrote to an outbox commits."""
    _wakeups.add(signal)


def wake_relays() -> None:
    """Outbox rows were committed: the relays publish them now rather than at their next poll."""
    for signal in list(_wakeups):
        signal.set()


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        wake_relays()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def outbox_row(event: Event) -> dict:
    """The outbox row of an event, carrying the request id and trace of what caused it."""
    headers = inject({})  # traceparent (and tracestate): the consumer continues the trace
    request_id = current_request_id()
    if request_id:
        headers["X-Request-ID"] = request_id
    return {
        "event_id": event.event_id,
        "subject": event.subject,
        "payload": event.model_dump_json(),
        "headers": json.dumps(headers),
        "created_at": utcnow(),
    }


def wake_relays_after_commit(session: AsyncSession) -> None:
    """For a statement that wrote outbox rows by itself: publish them once it commits."""
    session.sync_session.info[_PENDING] = True


async def add_event(session: AsyncSession, outbox: Table, *events: Event) -> None:
    """Record events in the caller's transaction; the relay publishes them after commit."""
    if not events:
        return
    await session.execute(insert(outbox), [outbox_row(e) for e in events])
    wake_relays_after_commit(session)
