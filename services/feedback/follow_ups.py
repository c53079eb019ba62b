"""Follow-up after training (R27): short questionnaires 1 and 3 months after the end."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import EvaluationTask, FollowUpResponse, ProgramProjection, infra
from services.feedback.policy import FeedbackPolicy, valid_score
from services.feedback.schemas import FollowUpRead, QuestionRead
from services.feedback.scope import authorize_teacher, runs_program
from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events.feedback import FollowUpAnswered
from shared.messaging.outbox import add_event

PREFIX = "follow_up_"


def months_of(kind: str) -> int:
    return int(kind.removeprefix(PREFIX).removesuffix("m"))


def validate_answers(policy: FeedbackPolicy, answers: dict[str, int | str]) -> None:
    """Answers fit the policy's questionnaire: known keys, scales in range, required ones."""
    questions = {q.key: q for q in policy.follow_up_questions}
    unknown = sorted(set(answers) - set(questions))
    if unknown:
        raise Unprocessable(f"Unknown questions: {', '.join(unknown)}.", code="unknown-question")
    for question in questions.values():
        value = answers.get(question.key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if question.required:
                raise Unprocessable(
                    f"{question.key} must be answered.", code="answer-missing", field=question.key
                )
            continue
        if question.kind == "scale" and not (isinstance(value, int) and valid_score(policy, value)):
            raise Unprocessable(
                f"{question.key} is a score from {policy.scale_min} to {policy.scale_max}.",
                code="score-out-of-scale",
                field=question.key,
            )
        if question.kind == "text" and not isinstance(value, str):
            raise Unprocessable(f"{question.key} is answered in words.", code="answer-not-text")


async def _task(session: AsyncSession, task_id: uuid.UUID) -> EvaluationTask:
    task = await session.get(EvaluationTask, task_id)
    if task is None or not task.kind.startswith(PREFIX):
        raise NotFound("No such follow-up.", code="unknown-follow-up")
    return task


def read(policy: FeedbackPolicy, task: EvaluationTask, answers: dict | None) -> FollowUpRead:
    return FollowUpRead(
        task_id=task.id,
        program_id=task.program_id,
        teacher_id=task.teacher_id,
        months_after=months_of(task.kind),
        state=task.state,
        opens_at=task.opens_at,
        due_at=task.due_at,
        questions=[QuestionRead(**q.__dict__) for q in policy.follow_up_questions],
        answers=answers,
    )


async def get_follow_up(
    session: AsyncSession, *, principal: Principal, policy: FeedbackPolicy, task_id: uuid.UUID
) -> FollowUpRead:
    """The trainee, its school and the bureau (as for every evaluation of a teacher), and the
    program's institution, which owes the follow-up service (R27) to its trainees."""
    task = await _task(session, task_id)
    program = await session.get(ProgramProjection, task.program_id)
    if program is None or not runs_program(principal, program):
        await authorize_teacher(session, principal, task.teacher_id)
    response = await session.scalar(
        select(FollowUpResponse).where(FollowUpResponse.task_id == task.id)
    )
    return read(policy, task, json.loads(response.answers) if response else None)


async def answer_follow_up(
    session: AsyncSession,
    *,
    principal: Principal,
    policy: FeedbackPolicy,
    task_id: uuid.UUID,
    answers: dict[str, int | str],
    now: dt.datetime,
) -> FollowUpResponse:
    task = await _task(session, task_id)
    if principal.role is not Role.TEACHER or principal.teacher_id != task.teacher_id:
        raise Forbidden("Only the trainee answers their follow-up.", code="not-your-follow-up")
    if task.state == "done":
        raise Conflict("This follow-up has already been answered.", code="already-answered")
    if task.state != "open" or not task.opens_at <= now < task.due_at:
        raise Unprocessable(
            "This follow-up is not open now.",
            code="follow-up-not-open",
            opens_at=task.opens_at.isoformat(),
            closes_at=task.due_at.isoformat(),
        )
    validate_answers(policy, answers)
    response = FollowUpResponse(
        task_id=task.id,
        program_id=task.program_id,
        teacher_id=task.teacher_id,
        months_after=months_of(task.kind),
        answers=json.dumps(answers, ensure_ascii=False),
        policy_version=policy.version,
    )
    session.add(response)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "This follow-up has already been answered.", code="already-answered"
        ) from exc
    task.state = "done"
    task.settled_at = now
    await add_event(
        session,
        infra.outbox,
        FollowUpAnswered(
            response_id=response.id,
            task_id=task.id,
            program_id=task.program_id,
            teacher_id=task.teacher_id,
            months_after=response.months_after,
        ),
    )
    return response
