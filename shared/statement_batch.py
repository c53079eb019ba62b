"""One PostgreSQL statement run for many concurrent callers in one round trip and one commit.

On selection day hundreds of requests run the same statement at the same moment. Sent one
by one, each pays its own round trip, its own commit (a WAL flush) and asyncpg's per-call
work. Here the callers who arrive while a batch is on its way wait together and go in the
next batch: one connection, asyncpg's `fetchmany` (every execution pipelined behind one
Sync, so one implicit transaction), in the order they arrived — so the statements see each
other's effects exactly as if they had run one after another. An idle service sends a
batch of one at once: nothing waits for a timer.

If any execution fails the whole batch is rolled back (that is what one transaction
means), and each caller's statement is run again on its own, so only the caller whose
statement fails sees the error.

The statement must return exactly one row per execution (wrap a lookup that may find
nothing in a LEFT JOIN of one row).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import asyncpg

from shared.db import Database
from shared.errors import DatabaseUnavailable

# Past this many, a batch holds its row locks long enough to make the next one wait.
MAX_BATCH = 64
_BROKEN = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)


class StatementBatch:
    """Batches of one statement on one database; `fetchrow` is what each caller awaits."""

    def __init__(self, database: Database, statement: str) -> None:
        self.database = database
        self.statement = statement
        self._waiting: list[tuple[Sequence[Any], asyncio.Future[asyncpg.Record]]] = []
        self._sender: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, database: Database, statement: str) -> StatementBatch:
        """The database's one batch of this statement (one sender, so batches never overlap)."""
        batch = database.batches.get(statement)
        if batch is None:
            batch = database.batches[statement] = cls(database, statement)
        return batch

    async def fetchrow(self, *args: Any) -> asyncpg.Record:
        """The one row of this caller's execution; raises what its statement raised."""
        future: asyncio.Future[asyncpg.Record] = asyncio.get_running_loop().create_future()
        self._waiting.append((args, future))
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_while_waiting())
        return await future

    async def _send_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                await self._send(batch)
        finally:
            self._sender = None

    async def _send(self, batch: list[tuple[Sequence[Any], asyncio.Future[Any]]]) -> None:
        try:
            async with self.database.connection_in_turn() as sa_connection:
                raw = await sa_connection.get_raw_connection()
                connection: asyncpg.Connection = raw.driver_connection
                try:
                    if len(batch) > 1:
                        # A failure rolls the whole batch back: then each runs alone below.
                        with contextlib.suppress(asyncpg.PostgresError):
                            rows = await connection.fetchmany(
                                self.statement, [args for args, _ in batch]
                            )
                            for (_, future), row in zip(batch, rows, strict=True):
                                _settle(future, row)
                            return
                    for args, future in batch:
                        try:
                            row = await connection.fetchrow(self.statement, *args)
                        except asyncpg.PostgresError as exc:
                            _fail(future, exc)
                        else:
                            _settle(future, row)
                except _BROKEN as exc:
                    # The connection broke: it leaves the pool; the app retries with its key.
                    await sa_connection.invalidate()
                    raise DatabaseUnavailable() from exc
        except BaseException as exc:
            for _, future in batch:
                _fail(future, exc)
            if not isinstance(exc, Exception):
                raise


def _settle(future: asyncio.Future[Any], row: Any) -> None:
    if not future.done():  # its caller may have gone (a cancelled request)
        future.set_result(row)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
