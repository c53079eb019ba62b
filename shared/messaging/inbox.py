"""Consumers: each event is applied once, in a transaction that records it in the inbox.

The inbox row and the handler's change commit together; only then is the message acked.
A duplicate delivery finds its inbox row and is acked without effect. A message that keeps
failing is recorded in dead_letter after max_deliver attempts, never silently dropped.

A fetched batch is applied in one transaction: one inbox read and one inbox insert for all
of it, one commit. Event by event, a selection rush cost every consumer five round trips
per event and half the gateway's CPU (docs/performance.md). When anything in the batch
fails, it is rolled back and its events are applied one by one, so one bad event is
retried or dead-lettered alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import SpanKind
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database, utcnow
from shared.events import EVENT_TYPES, Event, parse_event
from shared.messaging.nats import NatsLink
from shared.messaging.tables import InfraTables
from shared.metrics import worker_ran
from shared.telemetry import carrier_of, continued, current_trace_id, span

log = structlog.get_logger("consumer")

E = TypeVar("E", bound=Event)
Handler = Callable[[AsyncSession, Any], Awaitable[None]]


@dataclass
class HandlerRegistry:
    """A service's event handlers, named after the events they handle (on_<event>)."""

    service: str
    handlers: dict[str, Handler] = field(default_factory=dict)

    def on(self, event_type: type[E]) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.handlers[event_type.subject] = fn
            return fn

        return register

    def by_stream(self) -> dict[str, list[str]]:
        streams: dict[str, list[str]] = defaultdict(list)
        for subject in self.handlers:
            streams[EVENT_TYPES[subject].stream].append(subject)
        return dict(streams)


class EventFailed(Exception):
    """The handler of the batch's event at `index` raised; the batch was rolled back."""

    def __init__(self, index: int) -> None:
        super().__init__(f"event {index} of the batch failed")
        self.index = index


async def apply_batch(
    database: Database,
    tables: InfraTables,
    consumer: str,
    batch: list[tuple[Handler, Event, Mapping[str, str]]],
) -> int:
    """Apply (handler, event, message headers) in order, in one transaction, skipping the events
    this consumer has applied before; how many were applied. Raises if any of them fails
    (EventFailed) or the commit does; nothing is kept then."""
    inbox = tables.inbox
    async with database.sessions() as session:
        seen = set(
            await session.scalars(
                select(inbox.c.event_id).where(
                    inbox.c.consumer == consumer,
                    inbox.c.event_id.in_([event.event_id for _, event, _ in batch]),
                )
            )
        )
        fresh = []
        for index, (handler, event, headers) in enumerate(batch):
            if event.event_id not in seen:  # a redelivery in the same batch is applied once
                seen.add(event.event_id)
                fresh.append((index, handler, event, headers))
        if not fresh:
            return 0
        now = utcnow()
        await session.execute(
            insert(inbox),
            [
                {
                    "consumer": consumer,
                    "event_id": event.event_id,
                    "subject": event.subject,
                    "processed_at": now,
                }
                for _, _, event, _ in fresh
            ],
        )
        for index, handler, event, headers in fresh:
            with _caused_by(headers, event.subject, span_kind=SpanKind.CONSUMER):
                try:
                    await handler(session, event)
                except Exception as exc:
                    raise EventFailed(index) from exc
        await session.commit()
    return len(fresh)


async def apply_once(
    database: Database,
    tables: InfraTables,
    consumer: str,
    handler: Handler,
    event: Event,
) -> bool:
    """Apply one event in one transaction unless this consumer already has; True if applied."""
    try:
        return await apply_batch(database, tables, consumer, [(handler, event, {})]) == 1
    except EventFailed as failed:
        raise failed.__cause__ from None  # the handler's own error, for retries and logs
    except IntegrityError:
        # A replica applied the same event concurrently; its commit won.
        inbox = tables.inbox
        async with database.sessions() as session:
            already = await session.scalar(
                select(inbox.c.event_id).where(
                    inbox.c.consumer == consumer, inbox.c.event_id == event.event_id
                )
            )
        if already is None:
            raise
        return False


class ConsumerGroup:
    """Durable pull consumers of one service, one per stream it listens to."""

    # The groups started in this process, for the scrape-time gauges (messaging/gauges.py).
    running: weakref.WeakSet[ConsumerGroup] = weakref.WeakSet()

    def __init__(
        self,
        registry: HandlerRegistry,
        database: Database,
        tables: InfraTables,
        link: NatsLink,
        *,
        max_deliver: int = 5,
        ack_wait: float = 30.0,
        batch: int = 100,
    ) -> None:
        self.registry = registry
        self.database = database
        self.tables = tables
        self.link = link
        self.max_deliver = max_deliver
        self.ack_wait = ack_wait
        self.batch = batch
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def durable(self, stream: str) -> str:
        return f"{self.registry.service}-{stream.lower()}"

    def start(self) -> None:
        self._stopping.clear()
        ConsumerGroup.running.add(self)
        for stream, subjects in self.registry.by_stream().items():
            self._tasks.append(
                asyncio.create_task(
                    self._run(stream, subjects), name=f"consumer-{self.durable(stream)}"
                )
            )

    async def stop(self, grace: float = 10.0) -> None:
        """Let each consumer finish the batch in hand, then stop; cancel only past `grace`.
        A batch cancelled halfway would leave its database connection mid-statement."""
        ConsumerGroup.running.discard(self)
        self._stopping.set()
        _, late = await asyncio.wait(self._tasks, timeout=grace) if self._tasks else ((), ())
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def lag(self) -> dict[str, tuple[int, int]]:
        """Per stream: events not yet delivered to this consumer, and delivered but unacked."""
        js = self.link.js
        if js is None or not self.link.connected:
            return {}
        out = {}
        for stream in self.registry.by_stream():
            try:
                info = await js.consumer_info(
                    self.link.namespace.stream(stream), self.durable(stream), timeout=2
                )
            except (nats.errors.Error, TimeoutError):
                continue  # not made yet, or NATS is going away: no figure rather than a wrong one
            out[stream] = (info.num_pending or 0, info.num_ack_pending or 0)
        return out

    async def _subscribe(self, stream: str, subjects: list[str]) -> Any:
        js = self.link.js
        assert js is not None
        durable = self.durable(stream)
        namespace = self.link.namespace
        subjects = [namespace.subject(s) for s in subjects]
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver + 1,  # we dead-letter at max_deliver ourselves
            filter_subjects=sorted(subjects) if len(subjects) > 1 else None,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
        )
        await js.add_consumer(namespace.stream(stream), config)
        return await js.pull_subscribe_bind(durable=durable, stream=namespace.stream(stream))

    async def _run(self, stream: str, subjects: list[str]) -> None:
        subscription = None
        try:
            while not self._stopping.is_set():
                try:
                    if not self.link.connected:
                        await asyncio.sleep(0.2)
                        continue
                    if subscription is None:
                        subscription = await self._subscribe(stream, subjects)
                    try:
                        messages = await subscription.fetch(self.batch, timeout=1)
                    except (TimeoutError, nats.errors.TimeoutError):
                        messages = []  # nothing waiting: a run all the same
                    if messages:
                        await self._handle_batch(messages)
                    worker_ran(self.registry.service, self.durable(stream), ok=True)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("consumer loop error", stream=stream, error=repr(exc))
                    worker_ran(self.registry.service, self.durable(stream), ok=False)
                    subscription = None
                    await asyncio.sleep(0.5)
        finally:
            if subscription is not None:
                # nats-py's fetch never marks its queue items done, so draining the
                # connection would wait for them until its timeout (30 s) on an idle
                # stream; unsubscribing drops the inbox, the durable consumer stays.
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()

    async def _handle_batch(self, messages: list[Msg]) -> None:
        """All of a fetch in one transaction, unless one of its events cannot be read."""
        batch: list[tuple[Handler, Event, Mapping[str, str]]] = []
        for msg in messages:
            subject = self.link.namespace.unprefix(msg.subject)
            handler = self.registry.handlers.get(subject)
            try:
                event = parse_event(subject, msg.data)
            except Exception:
                handler = None  # _handle dead-letters it
            if handler is None:
                for each in messages:
                    await self._handle(each)
                return
            batch.append((handler, event, msg.headers or {}))
        await self._apply(messages, batch)

    async def _apply(
        self, messages: list[Msg], batch: list[tuple[Handler, Event, Mapping[str, str]]]
    ) -> None:
        """The batch in one transaction; when an event fails, the events before it and
        after it still go in batches, and the failing one alone (retried, dead-lettered)."""
        if len(messages) == 1:
            await self._handle(messages[0])
            return
        try:
            await apply_batch(self.database, self.tables, self.registry.service, batch)
        except EventFailed as failed:
            at = failed.index
            if at:
                await self._apply(messages[:at], batch[:at])
            await self._handle(messages[at])
            if at + 1 < len(messages):
                await self._apply(messages[at + 1 :], batch[at + 1 :])
            return
        except Exception as exc:  # the commit: a replica applied some of them meanwhile
            log.info("batch not committed, applying its events one by one", error=repr(exc))
            for msg in messages:
                await self._handle(msg)
            return
        for msg in messages:
            await msg.ack()

    async def _handle(self, msg: Msg) -> None:
        consumer = self.registry.service
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        subject = self.link.namespace.unprefix(msg.subject)
        with _caused_by(msg.headers or {}, subject):
            try:
                event = parse_event(subject, msg.data)
            except Exception as exc:
                await self._dead_letter(msg, None, f"unreadable event: {exc}", deliveries)
                await msg.ack()
                return
            handler = self.registry.handlers.get(subject)
            if handler is None:
                await msg.ack()
                return
            try:
                await apply_once(self.database, self.tables, consumer, handler, event)
            except Exception as exc:
                if deliveries >= self.max_deliver:
                    log.error("event dead-lettered", event_id=str(event.event_id), error=repr(exc))
                    await self._dead_letter(msg, str(event.event_id), repr(exc), deliveries)
                    await msg.ack()
                else:
                    log.warning("event failed, will retry", error=repr(exc), attempt=deliveries)
                    await msg.nak(delay=min(0.5 * 2**deliveries, 30))
                return
            await msg.ack()

    async def _dead_letter(self, msg: Msg, event_id: str | None, error: str, n: int) -> None:
        async with self.database.sessions() as session:
            await session.execute(
                insert(self.tables.dead_letter).values(
                    consumer=self.registry.service,
                    subject=msg.subject,
                    event_id=event_id,
                    payload=msg.data.decode("utf-8", errors="replace"),
                    error=error[:4000],
                    deliveries=n,
                    recorded_at=utcnow(),
                )
            )
            await session.commit()


@contextmanager
def _caused_by(
    headers: Mapping[str, str], subject: str, *, span_kind: SpanKind | None = None
) -> Iterator[None]:
    """What caused the event, for the logs, the trace (shared/telemetry.py) and the events its
    handler writes: the request id and trace context its producer put in its headers. With
    `span_kind`, a span of ours for applying it (when tracing is on)."""
    carrier = carrier_of(headers)
    with (
        span(f"apply {subject}", carrier=carrier, kind=span_kind)
        if span_kind is not None
        else continued(carrier)
    ):
        trace_id = current_trace_id()
        context = {"subject": subject}
        if request_id := headers.get("X-Request-ID"):
            context["request_id"] = request_id
        if trace_id:
            context["trace_id"] = trace_id
        with structlog.contextvars.bound_contextvars(**context):
            yield
