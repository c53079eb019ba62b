"""Evaluation tasks: who owes which evaluation by when, kept in step with the projections.

Tasks are derived from the program and its attendees; running `sync_program` again changes
nothing, so every handler may call it after any event.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import Attendee, EvaluationTask, ProgramProjection
from services.feedback.policy import (
    FeedbackPolicy,
    Window,
    assessment_window,
    follow_up_windows,
    rating_window,
    reminder_at,
)
from shared.db import utcnow

ACTIVE = ("confirmed", "completed")
OPEN = "open"
LAPSED = ("closed", "overdue")  # set by the scheduler when a deadline passed


def follow_up_kind(months: int) -> str:
    return f"follow_up_{months}m"


def windows_for(
    policy: FeedbackPolicy, program: ProgramProjection, attendee: Attendee
) -> dict[str, Window]:
    """The evaluations an attendee's place gives rise to, with their windows."""
    if attendee.status not in ACTIVE or program.status == "cancelled":
        return {}
    windows = {
        "rating": rating_window(policy, program.ends_on),
        "assessment": assessment_window(policy, program.ends_on),
    }
    if attendee.status == "completed":
        for months, window in follow_up_windows(policy, program.ends_on):
            windows[follow_up_kind(months)] = window
    return windows


async def sync_program(
    session: AsyncSession,
    policy: FeedbackPolicy,
    program_id: uuid.UUID,
    *,
    enrolment_id: uuid.UUID | None = None,
) -> None:
    """Create missing tasks, move open ones to new dates, cancel those no longer owed.

    With `enrolment_id`, only that attendee's tasks (an enrolment event touches only them).
    """
    program = await session.get(ProgramProjection, program_id)
    if program is None:
        return  # the program's first event creates the tasks of attendees seen before it
    attendees_query = select(Attendee).where(Attendee.program_id == program_id)
    tasks_query = select(EvaluationTask).where(EvaluationTask.program_id == program_id)
    if enrolment_id is not None:
        attendees_query = attendees_query.where(Attendee.enrolment_id == enrolment_id)
        tasks_query = tasks_query.where(EvaluationTask.enrolment_id == enrolment_id)
    attendees = (await session.scalars(attendees_query)).all()
    existing = (await session.scalars(tasks_query)).all()
    by_key = {(t.enrolment_id, t.kind): t for t in existing}
    now = utcnow()
    for attendee in attendees:
        owed = windows_for(policy, program, attendee)
        for kind, window in owed.items():
            task = by_key.get((attendee.enrolment_id, kind))
            if task is None:
                session.add(
                    EvaluationTask(
                        kind=kind,
                        enrolment_id=attendee.enrolment_id,
                        program_id=program.id,
                        teacher_id=attendee.teacher_id,
                        institution_id=program.institution_id,
                        school_id=attendee.school_id,
                        district_id=attendee.district_id,
                        opens_at=window.opens_at,
                        due_at=window.due_at,
                        remind_at=reminder_at(policy, window),
                    )
                )
            elif task.due_at != window.due_at and (
                task.state == OPEN or (task.state in LAPSED and window.due_at > now)
            ):
                # A new end date moves the deadline; one that is no longer past reopens it.
                task.state = OPEN
                task.settled_at = None
                task.opens_at = window.opens_at
                task.due_at = window.due_at
                task.remind_at = reminder_at(policy, window)
                task.reminded_at = None
        for (enrolment_id, kind), task in by_key.items():
            if enrolment_id == attendee.enrolment_id and kind not in owed and task.state == OPEN:
                task.state = "cancelled"
                task.settled_at = now
    await session.flush()


async def settle(
    session: AsyncSession, *, enrolment_id: uuid.UUID, kind: str, at: dt.datetime
) -> None:
    """Mark a task done because what it asked for was submitted (late ones included)."""
    await session.execute(
        update(EvaluationTask)
        .where(
            EvaluationTask.enrolment_id == enrolment_id,
            EvaluationTask.kind == kind,
            EvaluationTask.state.in_((OPEN, "overdue")),
        )
        .values(state="done", settled_at=at)
        .execution_options(synchronize_session=False)
    )
