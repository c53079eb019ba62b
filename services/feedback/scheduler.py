"""The deadline scheduler: reminders before deadlines, then closing or flagging what is late.

It keeps no state of its own: every pass reads the due work from evaluation_task, so a
restart (or a second replica) picks up exactly where the last pass stopped. Each step is
claimed with a conditional UPDATE, and its event goes through the outbox in the same
transaction, so a reminder or a flag is emitted once however many schedulers run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import EvaluationTask, infra
from shared.db import Database
from shared.events.base import Event
from shared.events.feedback import AssessmentOverdue, EvaluationReminderDue, RatingWindowClosed
from shared.messaging.outbox import add_event
from shared.metrics import worker_ran

log = structlog.get_logger("scheduler")
BATCH = 500

Clock = Callable[[], dt.datetime]


@dataclass
class PassResult:
    reminded: int = 0
    expired: int = 0
    more: bool = False  # a batch was full: run again without waiting


async def _claim(
    session: AsyncSession, tasks: list[EvaluationTask], **values: object
) -> set[uuid.UUID]:
    """Apply a step to those tasks no one else has stepped yet; the ids this pass claimed."""
    if not tasks:
        return set()
    guard = [EvaluationTask.id.in_([t.id for t in tasks]), EvaluationTask.state == "open"]
    if "reminded_at" in values:
        guard.append(EvaluationTask.reminded_at.is_(None))
    claimed = await session.scalars(
        update(EvaluationTask)
        .where(*guard)
        .values(**values)
        .returning(EvaluationTask.id)
        .execution_options(synchronize_session=False)
    )
    return set(claimed.all())


def _expired_state(task: EvaluationTask) -> str:
    """A late assessment stays owed but flagged; a late rating or follow-up is closed."""
    return "overdue" if task.kind == "assessment" else "closed"


def _expiry_event(task: EvaluationTask) -> Event | None:
    if task.kind == "assessment":
        return AssessmentOverdue(
            task_id=task.id,
            enrolment_id=task.enrolment_id,
            program_id=task.program_id,
            teacher_id=task.teacher_id,
            institution_id=task.institution_id,
            district_id=task.district_id,
            due_at=task.due_at,
        )
    if task.kind == "rating":
        return RatingWindowClosed(
            task_id=task.id,
            enrolment_id=task.enrolment_id,
            program_id=task.program_id,
            teacher_id=task.teacher_id,
            due_at=task.due_at,
        )
    return None  # an unanswered follow-up simply lapses


async def run_due(session: AsyncSession, *, now: dt.datetime) -> PassResult:
    """One pass over the due work at `now`; the caller commits."""
    result = PassResult()
    remind = (
        await session.scalars(
            select(EvaluationTask)
            .where(
                EvaluationTask.state == "open",
                EvaluationTask.reminded_at.is_(None),
                EvaluationTask.remind_at <= now,
                EvaluationTask.due_at > now,
            )
            .order_by(EvaluationTask.remind_at)
            .limit(BATCH)
        )
    ).all()
    claimed = await _claim(session, list(remind), reminded_at=now)
    await add_event(
        session,
        infra.outbox,
        *(
            EvaluationReminderDue(
                task_id=task.id,
                kind=task.kind,
                enrolment_id=task.enrolment_id,
                program_id=task.program_id,
                teacher_id=task.teacher_id,
                institution_id=task.institution_id,
                due_at=task.due_at,
            )
            for task in remind
            if task.id in claimed
        ),
    )
    result.reminded = len(claimed)
    expired = (
        await session.scalars(
            select(EvaluationTask)
            .where(EvaluationTask.state == "open", EvaluationTask.due_at <= now)
            .order_by(EvaluationTask.due_at)
            .limit(BATCH)
        )
    ).all()
    by_state: dict[str, list[EvaluationTask]] = {}
    for task in expired:
        by_state.setdefault(_expired_state(task), []).append(task)
    for state, tasks in by_state.items():
        claimed = await _claim(session, tasks, state=state, settled_at=now)
        result.expired += len(claimed)
        events = (_expiry_event(t) for t in tasks if t.id in claimed)
        await add_event(session, infra.outbox, *(e for e in events if e is not None))
    result.more = BATCH in (len(remind), len(expired))
    return result


class DeadlineScheduler:
    """Runs `run_due` now and then in the background of the service."""

    def __init__(self, database: Database, *, clock: Clock, interval: float) -> None:
        self.database = database
        self.clock = clock
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="feedback-deadlines")

    def wake(self) -> None:
        """Run a pass now rather than at the next interval."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> PassResult:
        async with self.database.sessions() as session:
            result = await run_due(session, now=self.clock())
            await session.commit()
        return result

    async def _run(self) -> None:
        while True:
            try:
                result = await self.run_once()
                worker_ran("feedback", "deadlines", ok=True)
                if result.reminded or result.expired:
                    log.info("deadlines", reminded=result.reminded, expired=result.expired)
                if result.more:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("deadline pass failed", error=repr(exc))
                worker_ran("feedback", "deadlines", ok=False)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
