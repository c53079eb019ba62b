"""What a teacher still has to evaluate, and by when (the gates of R6 and R17)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import EvaluationTask, ProgramProjection
from services.feedback.schemas import PendingEvaluation
from shared.pagination import PageParams, page_of, paginate

# The teacher owes ratings and follow-ups; assessments are owed by the institution.
TEACHER_KINDS = ("rating", "follow_up_")


async def pending_evaluations(
    session: AsyncSession, *, teacher_id: uuid.UUID, paging: PageParams, now: dt.datetime
) -> dict:
    query = (
        select(EvaluationTask, ProgramProjection.title)
        .join(ProgramProjection, ProgramProjection.id == EvaluationTask.program_id)
        .where(
            EvaluationTask.teacher_id == teacher_id,
            EvaluationTask.state == "open",
            EvaluationTask.due_at > now,
            EvaluationTask.kind != "assessment",
        )
    )
    rows = (await session.execute(paginate(query, EvaluationTask, paging))).all()
    items = [
        PendingEvaluation(
            id=task.id,
            task_id=task.id,
            kind=task.kind,
            program_id=task.program_id,
            program_title=title,
            enrolment_id=task.enrolment_id,
            opens_at=task.opens_at,
            due_at=task.due_at,
            open_now=task.opens_at <= now,
            created_at=task.created_at,
        )
        for task, title in rows
    ]
    return page_of(items, paging, PendingEvaluation)
