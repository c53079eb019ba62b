"""The outbox and its relay: nothing lost while NATS is down, nothing published twice."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from sqlalchemy import event, func, select

from services.enrolment.models import infra
from shared.config import server_database
from shared.db import Database, drop_database, ensure_database
from shared.embedded_nats import EmbeddedNats, free_port
from shared.events.enrolment import SchoolRegistered
from shared.messaging.nats import NatsLink
from shared.messaging.outbox import add_event
from shared.messaging.relay import OutboxRelay
from shared.migrate import migrations_dir, upgrade
from tests.conftest import RUN_ID
from tests.harness import wait_for


@pytest.fixture
async def database(run_dir: Path) -> AsyncIterator[Database]:
    """A fresh enrolment-schema database of its own for each test."""
    name = f"outbox_{uuid.uuid4().hex[:8]}"
    server = os.environ.get("DATABASE_URL")
    url = (
        server_database(server, f"shixun_test_{name}_{RUN_ID}")
        if server
        else f"sqlite+aiosqlite:///{run_dir / (name + '.db')}"
    )
    await ensure_database(url)
    db = Database(url)
    await upgrade(db, migrations_dir("enrolment"))
    yield db
    await db.dispose()
    await drop_database(url)


def school_event() -> SchoolRegistered:
    return SchoolRegistered(
        school_id=uuid.uuid4(), district_id=uuid.uuid4(), name="一中", stage="senior"
    )


async def commit_events(database: Database, count: int = 1) -> list[uuid.UUID]:
    events = [school_event() for _ in range(count)]
    async with database.sessions() as session:
        await add_event(session, infra.outbox, *events)
        await session.commit()
    return [e.event_id for e in events]


async def pending(database: Database) -> int:
    async with database.sessions() as session:
        return await session.scalar(
            select(func.count())
            .select_from(infra.outbox)
            .where(infra.outbox.c.published_at.is_(None))
        )


def drained(database: Database):
    async def check() -> bool:
        return await pending(database) == 0

    return check


async def stream_messages(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    finally:
        await nc.close()


async def test_event_committed_while_nats_is_down_is_published_once_it_is_back(
    database: Database, run_dir: Path
) -> None:
    server = EmbeddedNats(port=free_port(), store_dir=run_dir / f"nats-{uuid.uuid4().hex[:6]}")
    server.start()
    link = NatsLink(server.url, name="outbox-test", namespace=f"o{uuid.uuid4().hex[:8]}")
    link.start()
    relay = OutboxRelay(database, infra, link, interval=0.05)
    relay.start()
    try:
        await wait_for(lambda: link.connected)
        server.stop()
        await wait_for(lambda: not link.connected)

        await commit_events(database)
        # The state change is committed; with NATS down the event waits in the outbox.
        with pytest.raises(TimeoutError):
            await wait_for(drained(database), timeout=1.0)
        assert await pending(database) == 1

        server.start()
        await wait_for(drained(database), timeout=30)
        stream = link.namespace.stream("ENROLMENT")
        assert await stream_messages(server.url, stream) == 1
    finally:
        await relay.stop()
        await link.close()
        server.stop()


async def test_two_relays_at_once_publish_each_event_exactly_once(
    database: Database, nats_url: str
) -> None:
    namespace = f"r{uuid.uuid4().hex[:8]}"
    links = [NatsLink(nats_url, name=f"relay-{i}", namespace=namespace) for i in range(2)]
    for link in links:
        link.start()
    await wait_for(lambda: all(link.connected for link in links))
    event_ids = await commit_events(database, 300)
    relays = [OutboxRelay(database, infra, link, interval=0.01, batch_size=50) for link in links]
    for relay in relays:
        relay.start()
    try:
        await wait_for(drained(database), timeout=30)
        stream = links[0].namespace.stream("ENROLMENT")
        assert await stream_messages(nats_url, stream) == len(event_ids)
        # Read them back: every event id exactly once, in commit order.
        nc = await nats.connect(nats_url)
        try:
            sub = await nc.jetstream().pull_subscribe(
                links[0].namespace.subject("enrolment.>"), stream=stream
            )
            seen: list[str] = []
            while len(seen) < len(event_ids):
                for msg in await sub.fetch(100, timeout=5):
                    seen.append(msg.headers["Nats-Msg-Id"])
                    await msg.ack()
        finally:
            await nc.close()
        assert seen == [str(e) for e in event_ids]
    finally:
        for relay in relays:
            await relay.stop()
        for link in links:
            await link.close()


async def test_an_idle_relay_commits_nothing_and_takes_its_lease_only_for_work(
    database: Database, nats_url: str
) -> None:
    """Polling an empty outbox is a read: no transaction committed, the lease row untouched.
    Once events wait, the relay takes the lease and publishes them."""
    link = NatsLink(nats_url, name="idle-relay", namespace=f"i{uuid.uuid4().hex[:8]}")
    link.start()
    commits: list[object] = []
    writes: list[str] = []  # statements that write, or take SQLite's write lock
    engine = database.engine.sync_engine
    event.listen(engine, "commit", lambda conn: commits.append(conn))

    def statement(conn, cursor, sql: str, *args) -> None:
        if sql.lstrip().upper().startswith(("BEGIN IMMEDIATE", "UPDATE", "INSERT", "DELETE")):
            writes.append(sql)

    event.listen(engine, "before_cursor_execute", statement)
    relay = OutboxRelay(database, infra, link, interval=0.01)
    try:
        await wait_for(lambda: link.connected)
        relay.start()
        await asyncio.sleep(1.0)  # a hundred idle polls
        assert (commits, writes) == ([], [])
        assert await lease_rows(database) == []

        await commit_events(database, 3)
        await wait_for(drained(database), timeout=30)
        held = await lease_rows(database)
        assert len(held) == 1 and held[0].owner == relay.owner
        commits.clear()
        writes.clear()
        await asyncio.sleep(1.0)  # idle again
        assert (commits, writes) == ([], [])
        assert await lease_rows(database) == held
    finally:
        await relay.stop()
        await link.close()


async def lease_rows(database: Database) -> list:
    async with database.sessions() as session:
        return list((await session.execute(select(infra.relay_lease))).all())
