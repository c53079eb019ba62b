"""A handler that keeps failing: retried, then recorded as a dead letter and acked."""

from __future__ import annotations

import uuid

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import infra
from shared.db import Database
from shared.events.feedback import RatingSubmitted
from shared.messaging.inbox import ConsumerGroup, HandlerRegistry
from shared.messaging.nats import NatsLink
from tests.harness import wait_for
from tests.shared.test_outbox import database  # noqa: F401 - fixture

attempts: list[uuid.UUID] = []


async def test_failing_handler_is_dead_lettered_after_max_deliver(
    database: Database,  # noqa: F811
    nats_url: str,
) -> None:
    registry = HandlerRegistry(service="flaky")

    @registry.on(RatingSubmitted)
    async def on_rating(session: AsyncSession, event: RatingSubmitted) -> None:
        attempts.append(event.event_id)
        raise RuntimeError("projection unavailable")

    link = NatsLink(nats_url, name="inbox-test", namespace=f"i{uuid.uuid4().hex[:8]}")
    link.start()
    consumers = ConsumerGroup(registry, database, infra, link, max_deliver=2, ack_wait=5)
    consumers.start()
    try:
        await wait_for(lambda: link.connected)
        event = RatingSubmitted(
            rating_id=uuid.uuid4(), program_id=uuid.uuid4(), teacher_id=uuid.uuid4()
        )
        await link.js.publish(
            link.namespace.subject(event.subject), event.model_dump_json().encode()
        )

        async def dead_lettered() -> list:
            async with database.sessions() as session:
                rows = await session.execute(select(infra.dead_letter))
                return list(rows)

        rows = await wait_for(dead_lettered, timeout=20)
        assert [(r.consumer, r.event_id, r.deliveries) for r in rows] == [
            ("flaky", str(event.event_id), 2)
        ]
        assert "projection unavailable" in rows[0].error
        assert attempts.count(event.event_id) == 2
        async with database.sessions() as session:
            assert list(await session.execute(select(infra.inbox))) == []  # nothing applied
    finally:
        await consumers.stop()
        await link.close()


async def test_a_fetched_batch_is_applied_in_one_transaction_and_a_bad_event_alone(
    database: Database,  # noqa: F811
    nats_url: str,
) -> None:
    """200 events waiting: a few commits, each event applied once, and the one whose handler
    fails is dead-lettered alone while the events around it still go in batches."""
    registry = HandlerRegistry(service="batched")
    applied: list[uuid.UUID] = []
    poison = uuid.uuid4()

    @registry.on(RatingSubmitted)
    async def on_rating(session: AsyncSession, event: RatingSubmitted) -> None:
        if event.rating_id == poison:
            raise RuntimeError("cannot apply this one")
        applied.append(event.event_id)

    commits = 0

    def count(_session: object) -> None:
        nonlocal commits
        commits += 1

    link = NatsLink(nats_url, name="batch-test", namespace=f"b{uuid.uuid4().hex[:8]}")
    link.start()
    await wait_for(lambda: link.connected)
    events = [
        RatingSubmitted(
            rating_id=poison if n == 100 else uuid.uuid4(),
            program_id=uuid.uuid4(),
            teacher_id=uuid.uuid4(),
        )
        for n in range(200)
    ]
    for event in events:
        await link.js.publish(
            link.namespace.subject(event.subject),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(event.event_id)},
        )
    sa_event.listen(database.engine.sync_engine, "commit", count)
    consumers = ConsumerGroup(registry, database, infra, link, max_deliver=2, ack_wait=5)
    consumers.start()
    try:

        async def dead_lettered() -> list:
            async with database.sessions() as session:
                return list(await session.execute(select(infra.dead_letter)))

        rows = await wait_for(dead_lettered, timeout=30)
        assert [r.event_id for r in rows] == [str(events[100].event_id)]
        good = {e.event_id for n, e in enumerate(events) if n != 100}
        await wait_for(lambda: set(applied) >= good, timeout=10)
        async with database.sessions() as session:
            inbox = set(await session.scalars(select(infra.inbox.c.event_id)))
        assert inbox == good  # each once: a failed batch is rolled back before one by one
        assert commits < 10, commits
    finally:
        sa_event.remove(database.engine.sync_engine, "commit", count)
        await consumers.stop()
        await link.close()
