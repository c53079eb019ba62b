"""Durable background work: one shape for every job a part runs beside its HTTP.

A job keeps no state of its own. Each pass claims its rows from the database (`claim`:
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas take different rows without waiting on
each other; SQLite's write lock, taken at BEGIN, makes the same pick-and-mark atomic there),
marks them with a lease, works them and commits. A replica that dies mid-way leaves a lease
that runs out, and another one carries on; a restart resumes from the rows.

`Worker` runs a job's passes: again at once while it says more is waiting, else after its
interval or a `wake()`, backing off while passes fail, and stopping between passes (a pass
past the grace period is cancelled, like `ConsumerGroup.stop`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Session

from shared.db import Database, utcnow
from shared.metrics import worker_ran

log = structlog.get_logger("worker")

BACKOFF_CAP = 30.0
_WAKE = "shixun_wake_workers"


class Job(Protocol):
    """What a worker runs: `run_once` is one pass; True means more work is waiting now."""

    name: str

    @property
    def interval(self) -> float: ...

    async def run_once(self) -> bool: ...


class Worker:
    def __init__(self, job: Job, *, part: str = "", backoff_cap: float = BACKOFF_CAP) -> None:
        self.job = job
        self.name = job.name
        self.part = part  # the part it works for, in the metrics
        self.backoff_cap = backoff_cap
        self.wakeup = asyncio.Event()
        self.passes = 0  # passes finished, failed ones too (tests wait on it)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"worker-{self.name}")

    def wake(self) -> None:
        """Run a pass now rather than after the interval."""
        self.wakeup.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the pass in hand, then stop; cancel it only past `grace`."""
        if self._task is None:
            return
        self._stopping.set()
        self.wakeup.set()
        _, late = await asyncio.wait({self._task}, timeout=grace)
        for task in late:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None

    def delay(self, failures: int) -> float:
        """The pause before the next pass: the interval, or a doubling backoff after failures."""
        interval = self.job.interval
        if not failures:
            return interval
        return max(interval, min(self.backoff_cap, 0.5 * 2 ** min(failures, 10)))

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            more = False
            try:
                more = await self.job.run_once()
                failures = 0
                worker_ran(self.part, self.name, ok=True)
            except Exception as exc:  # a database hiccup must not end the worker
                failures += 1
                log.warning("background pass failed", worker=self.name, error=repr(exc))
                worker_ran(self.part, self.name, ok=False)
            self.passes += 1
            if more and not self._stopping.is_set():
                await asyncio.sleep(0)  # let requests in between two full batches
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), self.delay(failures))
            self.wakeup.clear()


async def claim(
    session: AsyncSession,
    key: InstrumentedAttribute[Any],
    *,
    where: Iterable[ColumnElement[bool]],
    order_by: Iterable[Any],
    values: dict[str, Any],
    limit: int = 1,
) -> list[Any]:
    """Pick up to `limit` rows (their `key`s) and mark them with `values` (a lease, the next
    attempt's time) in the caller's transaction; another replica's pass skips them."""
    pick = select(key).where(*where).order_by(*order_by).limit(limit)
    if (await session.connection()).dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    keys = list(await session.scalars(pick))
    if keys:
        await session.execute(
            update(key.class_)
            .where(key.in_(keys))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return keys


@dataclass(frozen=True)
class Lease:
    """A claim on a row that outlives one transaction (an import worked chunk by chunk):
    the row names its owner and until when; each transaction of the work renews it."""

    owner: str
    seconds: float = 60.0

    def until(self) -> datetime:
        return utcnow() + timedelta(seconds=self.seconds)

    @staticmethod
    def free(until: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
        """Rows no one holds: never claimed, or their holder's lease ran out."""
        return or_(until.is_(None), until < utcnow())


async def claim_oldest(database: Database, queue: Any, lease: Lease, **values: Any) -> Any:
    """The id of the oldest unfinished row of a queue of leased work (an upload to import:
    `status` queued or running, `claimed_by`, `claimed_until`, `attempts`, `created_at`) no
    one holds, now held by `lease` (plus `values`); None when each is done or held."""
    async with database.sessions() as session:
        taken = await claim(
            session,
            queue.id,
            where=[queue.status.in_(("queued", "running")), Lease.free(queue.claimed_until)],
            order_by=[queue.created_at],
            values={
                "claimed_by": lease.owner,
                "claimed_until": lease.until(),
                "attempts": queue.attempts + 1,
                **values,
            },
        )
        await session.commit()
    return taken[0] if taken else None


def wake_after_commit(session: AsyncSession, worker: Worker | None) -> None:
    """Wake a worker of this process once the session's transaction is committed (a new
    upload is worked at once rather than at the next interval). Without one (this process
    serves HTTP only), the worker elsewhere finds the rows at its next pass."""
    if worker is not None:
        session.sync_session.info.setdefault(_WAKE, []).append(worker)


@sa_event.listens_for(Session, "after_commit")
def _wake_workers(session: Session) -> None:
    for worker in session.info.pop(_WAKE, ()):
        worker.wake()


@sa_event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_WAKE, None)
