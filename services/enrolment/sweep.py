"""The service's periodic work: expire offers, import queued rosters.

Each tick derives its work from the database (offers past their expiry, imports not done),
so nothing is lost when the service restarts mid-way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI

from services.enrolment import roster_import
from services.enrolment.roster_import import pending_imports
from services.enrolment.waitlist import expire_offers
from shared.db import Database
from shared.metrics import worker_ran

log = structlog.get_logger("sweep")


async def sweep_once(database: Database) -> None:
    async with database.sessions() as session:
        await expire_offers(session)
        await session.commit()
        imports = await pending_imports(session)
    for import_id in imports:
        await roster_import.process(database, import_id)


async def sweep_forever(database: Database, *, interval: float) -> None:
    while True:
        try:
            await sweep_once(database)
            worker_ran("enrolment", "sweep", ok=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed tick is retried at the next one
            log.warning("sweep failed", error=repr(exc))
            worker_ran("enrolment", "sweep", ok=False)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_sweep(app: FastAPI, *, interval: float) -> AsyncIterator[None]:
    task = asyncio.create_task(
        sweep_forever(app.state.database, interval=interval), name="enrolment-sweep"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
