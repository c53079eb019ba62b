"""The messaging figures Prometheus sees, computed when it scrapes, never per request:
outbox backlog and its oldest event's age, consumer lag, dead letters waiting."""

from __future__ import annotations

import contextlib

from shared.db import utcnow
from shared.dead_letters import waiting_by_consumer
from shared.messaging.inbox import ConsumerGroup
from shared.messaging.relay import OutboxRelay
from shared.metrics import (
    CONSUMER_ACK_PENDING,
    CONSUMER_PENDING,
    DEAD_LETTERS,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
)


async def refresh_messaging_gauges() -> None:
    """Of every relay and consumer group running in this process; a figure that cannot be
    had now (database or NATS away) keeps its last value rather than failing the scrape."""
    for relay in list(OutboxRelay.running):
        with contextlib.suppress(Exception):
            waiting, oldest = await relay.backlog()
            OUTBOX_BACKLOG.labels(relay.link.name).set(waiting)
            age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
            OUTBOX_OLDEST_AGE.labels(relay.link.name).set(max(age, 0.0))
    databases: dict[int, list[ConsumerGroup]] = {}
    for group in list(ConsumerGroup.running):
        databases.setdefault(id(group.database), []).append(group)
        with contextlib.suppress(Exception):
            for stream, (pending, ack_pending) in (await group.lag()).items():
                consumer = group.durable(stream)
                CONSUMER_PENDING.labels(consumer, stream).set(pending)
                CONSUMER_ACK_PENDING.labels(consumer, stream).set(ack_pending)
    for groups in databases.values():
        first = groups[0]
        with contextlib.suppress(Exception):
            waiting = await waiting_by_consumer(first.database, first.tables)
            for group in groups:
                consumer = group.registry.service
                DEAD_LETTERS.labels(first.link.name, consumer).set(waiting.get(consumer, 0))
