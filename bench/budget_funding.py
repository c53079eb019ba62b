"""Benchmark: how fast budget answers enrolment's funding requests, and that a rush never
overspends a pool.

    .venv/bin/python bench/budget_funding.py [--requests 2000] [--concurrency 50]

Uses a fresh SQLite file, or a fresh database on DATABASE_URL's server (dropped after).
Each request is applied as the consumer would: inbox row, row lock on the pool, journal
posting, answer in the outbox, one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from services.budget import journal
from services.budget.handlers import on_enrolment_funding_requested
from services.budget.models import BudgetModel, Commitment, FundPool, infra
from shared.config import server_database
from shared.db import Database, drop_database, ensure_database, utcnow
from shared.events.enrolment import EnrolmentFundingRequested
from shared.messaging.inbox import apply_once

COST = 1_200_00
YEAR = 2026


async def run(url: str, requests: int, concurrency: int) -> None:
    await ensure_database(url)
    database = Database(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(BudgetModel.metadata.create_all)
    school, district = uuid.uuid4(), uuid.uuid4()
    seats = requests // 2  # half the rush finds the money gone
    pool = FundPool(
        district_id=district,
        owner_kind="school",
        owner_id=school,
        school_id=school,
        fiscal_year=YEAR,
        source="public_funds",
        amount_fen=COST * seats,
        rule="bench",
        policy_version="bench",
        created_by="bench",
        created_at=utcnow(),
    )
    async with database.sessions() as session:
        session.add(pool)
        await session.flush()
        await journal.post(
            session,
            kind="fund",
            source_ref=f"fund:{pool.id}",
            legs=journal.transfer(pool.id, "funding", pool.id, "available", pool.amount_fen),
        )
        await session.commit()
    events = [
        EnrolmentFundingRequested(
            enrolment_id=uuid.uuid4(),
            program_id=uuid.uuid4(),
            teacher_id=uuid.uuid4(),
            school_id=school,
            district_id=district,
            amount_fen=COST,
            fiscal_year=YEAR,
        )
        for _ in range(requests)
    ]
    queue: asyncio.Queue[EnrolmentFundingRequested] = asyncio.Queue()
    for event in events:
        queue.put_nowait(event)

    async def worker() -> None:
        while not queue.empty():
            event = queue.get_nowait()
            await apply_once(database, infra, "budget", on_enrolment_funding_requested, event)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    async with database.sessions() as session:
        reserved = await session.scalar(select(func.count()).select_from(Commitment))
        available = await journal.balance(session, pool.id, journal.AVAILABLE)
        committed = await journal.balance(session, pool.id, journal.COMMITTED)
    await database.dispose()
    print(f"database: {url.split('://')[0]}  requests: {requests}  concurrency: {concurrency}")
    print(f"answered: {requests / elapsed:,.0f} funding requests/s ({elapsed:.2f} s)")
    print(
        f"reserved: {reserved} of {seats} seats paid for; available {available} fen, "
        f"committed {committed} fen (pool {pool.amount_fen} fen)"
    )
    assert reserved == seats and available == 0 and committed == pool.amount_fen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        if server:
            url = server_database(server, f"shixun_bench_budget_{uuid.uuid4().hex[:8]}")
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'budget.db'}"
        try:
            asyncio.run(run(url, args.requests, args.concurrency))
        finally:
            if server:
                asyncio.run(drop_database(url))


if __name__ == "__main__":
    main()
