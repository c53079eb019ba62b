"""Async engine and session: the same code on SQLite (aiosqlite) and PostgreSQL (asyncpg).

A request gets one session; it commits once when the endpoint returns and rolls back when it
raises (the Polar pattern). Domain code flushes, never commits.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import DateTime, TypeDecorator, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

# Execution option of a transaction that only reads (a background job's poll): on SQLite it
# begins deferred instead of taking the write lock. `session.connection(execution_options=
# {READ_ONLY: True})` before its first statement.
READ_ONLY = "shixun_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        # One writer at a time is SQLite's nature; a single pooled connection serialises work
        # inside the process instead of spinning on SQLITE_BUSY, and BEGIN IMMEDIATE takes
        # the write lock up front so two processes never deadlock upgrading a read lock.
        engine = create_async_engine(
            url,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=300,
            connect_args={"timeout": 30},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            # A poll that only reads (READ_ONLY) leaves the write lock to the writers.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it costs a round trip on every checkout, a rush's hottest path; a
    # connection the server dropped fails its transaction once and is then discarded.
    # No overflow: an overflow connection is closed on return and opened again in the next
    # burst, each time paying the set-up and preparing every statement anew (a third of a
    # rush's CPU, py-spy); the pool keeps all of its connections instead.
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_recycle=1800)


def private_file(path: Path) -> None:
    """A data file readable by its owner only (0600), made so before anything writes to it.

    SQLite gives its -wal and -shm files the database file's mode; an existing file (and
    journal) of an older start is narrowed too."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # an existing one is left
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for each in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if each.exists():
            each.chmod(0o600)


async def ensure_database(url: str) -> None:
    """Create the service's database on a PostgreSQL server if it does not exist yet."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_file(Path(parsed.database))
        return
    import asyncpg

    admin = parsed.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", parsed.database
        )
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{parsed.database}"')
            except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                # Another replica created it at the same moment; PostgreSQL reports that as
                # either error depending on how far the other CREATE DATABASE got.
                pass
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    """Remove a database (tests only)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        from pathlib import Path

        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    import asyncpg

    admin = parsed.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    finally:
        await conn.close()


class Database:
    """A service's engine and session factory."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # The pool hands a returned connection to whoever asks first, so under a rush a
        # request that waited could keep losing it to newcomers (seconds of p99); asyncio's
        # semaphore serves its waiters in order.
        self._turns = asyncio.Semaphore(pool_size)
        # shared.statement_batch.StatementBatch.of: one batch per statement.
        self.batches: dict[str, Any] = {}

    @asynccontextmanager
    async def connection_in_turn(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection, given to callers in the order they asked."""
        async with self._turns, self.engine.connect() as connection:
            yield connection

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session: commit at the boundary, roll back on any error.

    Use with Depends(..., scope="function") so the commit happens before the response leaves.
    """
    database: Database = request.app.state.database
    async with database.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; times are stored in UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


M = TypeVar("M")


async def upsert(session: AsyncSession, model: type[M], key: Any, **values: Any) -> M:
    """Create or update the row `key` of a projection with these values (the latest fact wins)."""
    row = await session.get(model, key)
    if row is None:
        row = model(id=key, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    return row
