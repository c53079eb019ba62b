"""The one lifespan of every part (the four services and the gateway).

Start: logging, the PII key check, the part's database (created and migrated), the NATS link,
the part's own resources, then its background work: the outbox relay, the event consumers
and its durable workers (shared.worker). Stop: the same in reverse, background work first,
each letting the pass or batch in hand finish.

`SHIXUN_<PART>_ROLE` chooses what a process runs: `all` (the default) HTTP and background
work, `web` HTTP only, `worker` the background work (its HTTP still answers the health
checks). Any number of processes of each role may run against one database: workers claim
their rows, the relay holds a lease, consumers share durable NATS consumers.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from fastapi import FastAPI

from shared import pii
from shared.config import common, database_url_for
from shared.db import Database, ensure_database
from shared.logging import configure_logging
from shared.messaging.inbox import ConsumerGroup, HandlerRegistry
from shared.messaging.nats import NatsLink
from shared.messaging.relay import OutboxRelay
from shared.messaging.tables import InfraTables
from shared.migrate import upgrade
from shared.worker import Job, Worker

DEFAULT_NATS_URL = "nats://127.0.0.1:4223"

# Something a part holds while it runs (keys, HTTP clients): set up on entering, after the
# database and NATS, released on leaving.
Resource = Callable[[FastAPI], AbstractAsyncContextManager[None]]
# A background job, made once the part's resources are up.
JobFactory = Callable[[FastAPI], Job]


class Role(StrEnum):
    ALL = "all"
    WEB = "web"
    WORKER = "worker"

    @property
    def runs_background(self) -> bool:
        return self is not Role.WEB


def role_of(part: str) -> Role:
    """SHIXUN_<PART>_ROLE: web, worker or all (default)."""
    name = f"SHIXUN_{part.upper()}_ROLE"
    value = os.environ.get(name, "").strip().lower() or Role.ALL.value
    try:
        return Role(value)
    except ValueError:
        raise ValueError(f"{name} must be web, worker or all, not {value!r}") from None


@dataclass(frozen=True)
class Relaying:
    """How a part that writes events relays its outbox."""

    interval: float = 0.2
    batch_size: int = 500
    retention: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Consuming:
    """The event handlers of a part, one consumer group each."""

    registries: tuple[HandlerRegistry, ...] = ()
    max_deliver: int = 5
    ack_wait: float = 30.0


@dataclass
class Part:
    name: str
    migrations: Path
    tables: InfraTables
    database_url: str | None = None
    pool_size: int = 10
    # It stores personal data: without a valid PII key (in production, from the environment)
    # it does not start.
    uses_pii: bool = False
    # Run first, before anything is touched: each raises if the part must not start.
    checks: list[Callable[[], object]] = field(default_factory=list)
    relaying: Relaying | None = None  # None: the part writes no events
    consuming: Consuming = field(default_factory=Consuming)
    resources: list[Resource] = field(default_factory=list)
    jobs: list[JobFactory] = field(default_factory=list)


def settle_garbage_collector() -> None:
    """Once started: keep what start-up made out of every collection, and collect less often.

    A request allocates thousands of short-lived objects; with the default thresholds the
    collector ran several times a request and walked every module, class and compiled
    query each full pass (a tenth of a rush's CPU, py-spy).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def lifespan_of(part: Part) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The FastAPI lifespan of a part."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = common()
        role = role_of(part.name)
        configure_logging(part.name, json=env.shixun_log_json)
        if part.uses_pii:
            pii.check_key()
        for check in part.checks:
            check()
        url = database_url_for(part.name, part.database_url)
        await ensure_database(url)
        database = Database(url, pool_size=part.pool_size)
        link = NatsLink(
            env.nats_url or DEFAULT_NATS_URL,
            name=part.name,
            replicas=env.shixun_stream_replicas,
            namespace=env.shixun_nats_namespace,
        )
        app.state.role = role
        app.state.owner = f"{part.name}-{uuid.uuid4().hex[:12]}"  # this process, in leases
        app.state.database = database
        app.state.tables = part.tables
        app.state.idempotency_table = part.tables.idempotency
        app.state.nats = link
        app.state.relay = None
        app.state.consumers = []
        app.state.workers = {}
        async with AsyncExitStack() as stack:
            stack.push_async_callback(database.dispose)
            await upgrade(database, part.migrations)
            link.start()
            stack.push_async_callback(link.close)
            for resource in part.resources:
                await stack.enter_async_context(resource(app))
            if role.runs_background:
                await _start_background(app, part, stack)
            settle_garbage_collector()
            yield

    return lifespan


async def _start_background(app: FastAPI, part: Part, stack: AsyncExitStack) -> None:
    """The relay, the consumers and the workers; each is stopped before what it uses."""
    state = app.state
    if part.relaying is not None:
        relay = OutboxRelay(
            state.database,
            part.tables,
            state.nats,
            interval=part.relaying.interval,
            batch_size=part.relaying.batch_size,
            retention=part.relaying.retention,
        )
        relay.start()
        stack.push_async_callback(relay.stop)
        state.relay = relay
    for registry in part.consuming.registries:
        group = ConsumerGroup(
            registry,
            state.database,
            part.tables,
            state.nats,
            max_deliver=part.consuming.max_deliver,
            ack_wait=part.consuming.ack_wait,
        )
        group.start()
        stack.push_async_callback(group.stop)
        state.consumers.append(group)
    for make in part.jobs:
        worker = Worker(make(app), part=part.name)
        worker.start()
        stack.push_async_callback(worker.stop)
        state.workers[worker.name] = worker
