"""The outbox relay: publishes committed events to JetStream, in order, each exactly once.

One relay per service database holds a lease (a row in relay_lease) and publishes; replicas
wait. The lease is taken only when unpublished rows are waiting: an idle relay only reads.
It runs as a shared.worker.Worker, woken by every commit that wrote to the outbox.
The event id travels as Nats-Msg-Id, so a publish repeated after a crash is dropped by
JetStream's duplicate window, and consumers dedupe by event id in their inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
import weakref
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from shared.db import READ_ONLY, Database, utcnow
from shared.messaging.nats import NatsLink
from shared.messaging.outbox import register_wakeup
from shared.messaging.tables import InfraTables
from shared.worker import Worker

log = structlog.get_logger("relay")

LEASE = "outbox"


class OutboxRelay:
    # The relays started in this process, for the scrape-time gauges (messaging/gauges.py).
    running: weakref.WeakSet[OutboxRelay] = weakref.WeakSet()

    def __init__(
        self,
        database: Database,
        tables: InfraTables,
        link: NatsLink,
        *,
        interval: float = 0.2,
        batch_size: int = 500,
        lease_seconds: float = 15.0,
        retention: timedelta = timedelta(days=7),
        publish_timeout: float = 10.0,
    ) -> None:
        self.database = database
        self.tables = tables
        self.link = link
        self.interval = interval
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.retention = retention
        self.publish_timeout = publish_timeout
        self.owner = f"{link.name}-{uuid.uuid4().hex[:12]}"
        self.worker = Worker(self, part=link.name, backoff_cap=5.0)
        self.wakeup = self.worker.wakeup
        register_wakeup(self.wakeup)
        self._last_cleanup = utcnow()

    name = "outbox-relay"

    def start(self) -> None:
        self.worker.start()
        OutboxRelay.running.add(self)  # its backlog is read at scrape time (/metrics)

    async def stop(self, grace: float = 10.0) -> None:
        OutboxRelay.running.discard(self)
        await self.worker.stop(grace)
        await self._release_lease()

    async def run_once(self) -> bool:
        """One pass; True when a full batch went out and more may be waiting."""
        published = await self.publish_pending()
        if published:  # the lease holder cleans up; an idle relay writes nothing
            await self._cleanup()
        return published >= self.batch_size

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many events wait to be published, and when the oldest was committed."""
        outbox = self.tables.outbox
        async with self.database.sessions() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                )
            ).one()
        return row[0], row[1]

    async def _acquire_lease(self) -> bool:
        table = self.tables.relay_lease
        now = utcnow()
        async with self.database.sessions() as session:
            result = await session.execute(
                update(table)
                .where(
                    table.c.name == LEASE,
                    or_(table.c.owner == self.owner, table.c.until < now),
                )
                .values(owner=self.owner, until=now + self.lease)
            )
            if result.rowcount == 0:
                exists = await session.scalar(select(table.c.name).where(table.c.name == LEASE))
                if exists:
                    await session.rollback()
                    return False
                try:
                    await session.execute(
                        insert(table).values(name=LEASE, owner=self.owner, until=now + self.lease)
                    )
                except IntegrityError:
                    await session.rollback()
                    return False
            await session.commit()
            return True

    async def _release_lease(self) -> None:
        table = self.tables.relay_lease
        with contextlib.suppress(Exception):
            async with self.database.sessions() as session:
                await session.execute(
                    update(table)
                    .where(table.c.name == LEASE, table.c.owner == self.owner)
                    .values(until=utcnow() - timedelta(seconds=1))
                )
                await session.commit()

    async def _work_waiting(self) -> bool:
        outbox = self.tables.outbox
        async with self.database.sessions() as session:
            await session.connection(execution_options={READ_ONLY: True})
            first = await session.scalar(
                select(outbox.c.seq).where(outbox.c.published_at.is_(None)).limit(1)
            )
        return first is not None

    async def publish_pending(self) -> int:
        """One pass: publish up to a batch of pending events; returns how many were published."""
        js = self.link.js
        if js is None or not self.link.connected:
            return 0
        outbox = self.tables.outbox
        if not await self._work_waiting():
            return 0  # idle: read, never write (no lease taken, no transaction committed)
        if not await self._acquire_lease():
            return 0
        async with self.database.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        outbox.c.seq,
                        outbox.c.event_id,
                        outbox.c.subject,
                        outbox.c.payload,
                        outbox.c.headers,
                    )
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.seq)
                    .limit(self.batch_size)
                )
            ).all()
        if not rows:
            return 0
        futures = []
        for row in rows:
            headers = json.loads(row.headers or "{}")
            headers["Nats-Msg-Id"] = str(row.event_id)
            futures.append(
                await js.publish_async(
                    self.link.namespace.subject(row.subject), row.payload.encode(), headers=headers
                )
            )
        acks = await asyncio.wait_for(
            asyncio.gather(*futures, return_exceptions=True), self.publish_timeout
        )
        # Mark only the unbroken prefix that was acknowledged, so order is kept on retry.
        done: list[int] = []
        for row, ack in zip(rows, acks, strict=True):
            if isinstance(ack, BaseException):
                log.warning("publish not acknowledged", subject=row.subject, error=str(ack))
                break
            done.append(row.seq)
        if done:
            async with self.database.sessions() as session:
                await session.execute(
                    update(outbox)
                    .where(and_(outbox.c.seq.in_(done), outbox.c.published_at.is_(None)))
                    .values(published_at=utcnow())
                )
                await session.commit()
        return len(done)

    async def _cleanup(self) -> None:
        """Published rows are kept for replay for the retention period, then removed."""
        now = utcnow()
        if now - self._last_cleanup < timedelta(minutes=5):
            return
        self._last_cleanup = now
        outbox = self.tables.outbox
        async with self.database.sessions() as session:
            await session.execute(
                delete(outbox).where(
                    outbox.c.published_at.is_not(None), outbox.c.published_at < now - self.retention
                )
            )
            await session.commit()
