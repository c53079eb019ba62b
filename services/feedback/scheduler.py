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

log = structlog.get_logger("scheduler")
BATCH = 500

Clock = Callable[[], dt.datetime]


@dataclass
class PassResult:
    reminded: int = 0
    expired: int = 0
    more: bool = False  # a batch was full: run again without waiting


async def _claim(session: AsyncSession, task: EvaluationTask, **values: object) -> bool:
    """Apply a step to a task if no one else has; True if this pass did it."""
    guard = [EvaluationTask.id == task.id, EvaluationTask.state == "open"]
    if "reminded_at" in values:
        guard.append(EvaluationTask.reminded_at.is_(None))
    result = await session.execute(
        update(EvaluationTask)
        .where(*guard)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _expiry(task: EvaluationTask) -> tuple[str, Event | None]:
    """What a missed deadline means for each kind of task."""
    if task.kind == "assessment":
        return "overdue", AssessmentOverdue(
            task_id=task.id,
            enrolment_id=task.enrolment_id,
            program_id=task.program_id,
            teacher_id=task.teacher_id,
            institution_id=task.institution_id,
            district_id=task.district_id,
            due_at=task.due_at,
        )
    if task.kind == "rating":
        return "closed", RatingWindowClosed(
            task_id=task.id,
            enrolment_id=task.enrolment_id,
            program_id=task.program_id,
            teacher_id=task.teacher_id,
            due_at=task.due_at,
        )
    return "closed", None  # an unanswered follow-up simply lapses


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
    for task in remind:
        if await _claim(session, task, reminded_at=now):
            result.reminded += 1
            await add_event(
                session,
                infra.outbox,
                EvaluationReminderDue(
                    task_id=task.id,
                    kind=task.kind,
                    enrolment_id=task.enrolment_id,
                    program_id=task.program_id,
                    teacher_id=task.teacher_id,
                    institution_id=task.institution_id,
                    due_at=task.due_at,
                ),
            )
    expired = (
        await session.scalars(
            select(EvaluationTask)
            .where(EvaluationTask.state == "open", EvaluationTask.due_at <= now)
            .order_by(EvaluationTask.due_at)
            .limit(BATCH)
        )
    ).all()
    for task in expired:
        state, event = _expiry(task)
        if await _claim(session, task, state=state, settled_at=now):
            result.expired += 1
            if event is not None:
                await add_event(session, infra.outbox, event)
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
                if result.reminded or result.expired:
                    log.info("deadlines", reminded=result.reminded, expired=result.expired)
                if result.more:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("deadline pass failed", error=repr(exc))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
