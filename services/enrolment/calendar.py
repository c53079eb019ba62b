"""Programs that run themselves: the lifecycle follows the calendar.

A published program closes enrolment at `enrol_closes_at`, starts at the start of its
first local day (`starts_on`) and finishes at the start of the local day after `ends_on`
plus the policy's grace (`POLICY.calendar.finish_grace_days`). The `program-calendar` job
finds due programs each pass (`FOR UPDATE SKIP LOCKED`: replicas take different rows, and
a program moved meanwhile is no longer due) and takes the same steps a person would, with
the same events (`scheduled: true`). A person may still act earlier; the calendar then finds
nothing to do. A service that was down catches up: a program past all its dates is closed,
started and finished in one pass.

Every step, a click's or the calendar's, goes through `step` here, so what follows a step
happens either way: the lottery's seed at publication and its draw at the close, the end of
every place when cancelled, and parked assessments applied once the program runs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.enrolments import end_all_for_cancellation
from services.enrolment.lottery import draw, seed_at_publication
from services.enrolment.models import Program
from services.enrolment.parked import retry_parked
from services.enrolment.policy import POLICY, EnrolmentPolicy, local_midnight
from services.enrolment.programs import advance, checked_transition
from shared.auth import Principal
from shared.config import DISTRICT_TZ
from shared.db import Database, utcnow

LOCAL = ZoneInfo(DISTRICT_TZ)
BATCH = 50
Clock = Callable[[], dt.datetime]


def starts_at(program: Program) -> dt.datetime:
    return local_midnight(program.starts_on)


def finishes_at(program: Program, policy: EnrolmentPolicy = POLICY) -> dt.datetime:
    return local_midnight(
        program.ends_on + dt.timedelta(days=1 + policy.calendar.finish_grace_days)
    )


def due_action(program: Program, now: dt.datetime, policy: EnrolmentPolicy = POLICY) -> str | None:
    """The step the calendar takes on this program at `now`, if any."""
    if program.status == "published" and now >= program.enrol_closes_at:
        return "close-enrolment"
    if program.status == "enrolment_closed" and now >= starts_at(program):
        return "start"
    if program.status == "running" and now >= finishes_at(program, policy):
        return "finish"
    return None


async def step(
    session: AsyncSession,
    program: Program,
    action: str,
    *,
    now: dt.datetime,
    scheduled: bool = False,
) -> None:
    """Take a lifecycle step (checked by the caller) and everything that follows it."""
    if action == "publish":
        seed_at_publication(program, now)
    await advance(session, program, action, scheduled=scheduled)
    if action == "close-enrolment":
        await draw(session, program, now=now, today=now.astimezone(LOCAL).date())
    elif action == "cancel":
        await end_all_for_cancellation(session, program)
    elif action in ("start", "finish"):
        await retry_parked(session, program_id=program.id)


async def act(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, action: str
) -> Program:
    """A person's click: checked by programs.checked_transition, then the step."""
    program = await checked_transition(
        session, principal=principal, program_id=program_id, action=action
    )
    await step(session, program, action, now=utcnow())
    return program


async def run_due(
    session: AsyncSession,
    *,
    now: dt.datetime,
    limit: int = BATCH,
    policy: EnrolmentPolicy = POLICY,
) -> int:
    """One pass at `now`: every due program taken up to the step it should be at; how many
    programs moved. The caller commits."""
    local_today = now.astimezone(LOCAL).date()
    # A local midnight is passed exactly when the local date reaches it, so by date is exact.
    last_finished_day = local_today - dt.timedelta(days=1 + policy.calendar.finish_grace_days)
    due = (
        await session.scalars(
            select(Program)
            .where(
                or_(
                    and_(Program.status == "published", Program.enrol_closes_at <= now),
                    and_(Program.status == "enrolment_closed", Program.starts_on <= local_today),
                    and_(Program.status == "running", Program.ends_on <= last_finished_day),
                )
            )
            .order_by(Program.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    moved = 0
    for program in due:
        took = False
        while (action := due_action(program, now, policy)) is not None:
            await step(session, program, action, now=now, scheduled=True)
            took = True
        moved += took
    return moved


class ProgramCalendar:
    """The `program-calendar` job (a shared.worker.Worker runs it)."""

    name = "program-calendar"

    def __init__(self, database: Database, *, clock: Clock = utcnow, interval: float) -> None:
        self.database = database
        self.clock = clock
        self.interval = interval

    async def run_once(self) -> bool:
        async with self.database.sessions() as session:
            moved = await run_due(session, now=self.clock())
            await session.commit()
        return moved >= BATCH
