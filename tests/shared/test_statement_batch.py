"""Statement batches on PostgreSQL: callers who arrive together share one transaction, in the
order they arrived, and a statement that fails fails only its own caller."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text

from shared.config import server_database
from shared.db import Database, drop_database, ensure_database
from shared.statement_batch import MAX_BATCH, StatementBatch
from tests.conftest import RUN_ID

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="statement batches are PostgreSQL's"
)

# Each execution appends after the last one it sees, so the numbers show in which order the
# executions saw each other; txid_current() shows which ones shared a transaction.
_APPEND = """
INSERT INTO queue (name, place)
SELECT $1, coalesce(max(place), 0) + 1 FROM queue
RETURNING place, txid_current() AS tx
"""


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    url = server_database(
        os.environ["DATABASE_URL"], f"shixun_test_batch_{uuid.uuid4().hex[:8]}_{RUN_ID}"
    )
    await ensure_database(url)
    db = Database(url, pool_size=4)
    async with db.engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE queue (name varchar PRIMARY KEY, place int NOT NULL)")
        )
    yield db
    await db.dispose()
    await drop_database(url)


async def test_callers_arriving_together_share_a_transaction_in_arrival_order(
    database: Database,
) -> None:
    batch = StatementBatch.of(database, _APPEND)
    assert StatementBatch.of(database, _APPEND) is batch
    names = [f"t{i}" for i in range(3 * MAX_BATCH)]
    rows = await asyncio.gather(*(batch.fetchrow(name) for name in names))
    # Arrival order is the order of the places: every execution saw all earlier ones.
    assert [row["place"] for row in rows] == list(range(1, len(names) + 1))
    transactions = [row["tx"] for row in rows]
    # Far fewer transactions (commits) than callers, none larger than MAX_BATCH.
    assert len(set(transactions)) < len(names) // 2
    assert max(transactions.count(tx) for tx in set(transactions)) <= MAX_BATCH
    # A caller alone goes at once, in a transaction of its own.
    alone = await batch.fetchrow("alone")
    assert alone["place"] == len(names) + 1 and alone["tx"] not in transactions


async def test_a_failing_statement_fails_only_its_caller(database: Database) -> None:
    batch = StatementBatch.of(database, _APPEND)
    await batch.fetchrow("taken")
    names = [f"n{i}" for i in range(20)]
    names.insert(7, "taken")  # a primary key violation in the middle of the batch
    results = await asyncio.gather(
        *(batch.fetchrow(name) for name in names), return_exceptions=True
    )
    failed = [name for name, r in zip(names, results, strict=True) if isinstance(r, Exception)]
    assert failed == ["taken"]
    assert isinstance(results[7], asyncpg.UniqueViolationError)
    async with database.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT name FROM queue"))).scalars().all()
    # The others were all stored once, though their first batch was rolled back.
    assert sorted(stored) == sorted({"taken", *names})
    places = [r["place"] for r in results if not isinstance(r, Exception)]
    assert places == sorted(places) and len(set(places)) == len(places)
