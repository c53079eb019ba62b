"""HTTP of ratings, assessments, pending evaluations and follow-ups."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from services.feedback import assessments, follow_ups, ratings
from services.feedback.deps import Now, Policy
from services.feedback.pending import pending_evaluations
from services.feedback.results import training_results
from services.feedback.schemas import (
    AssessmentCreate,
    AssessmentRead,
    FollowUpAnswer,
    FollowUpRead,
    FollowUpResponseRead,
    PendingEvaluation,
    RatingCreate,
    RatingRead,
)
from services.feedback.scope import authorize_teacher
from shared.config import DISTRICT_TZ
from shared.deps import Caller, Idem, Paging, Session
from shared.pagination import Page

router = APIRouter(prefix="/v1", tags=["evaluations"])


@router.post("/programs/{program_id}/ratings", status_code=201, response_model=RatingRead)
async def rate_program(
    program_id: uuid.UUID,
    body: RatingCreate,
    session: Session,
    caller: Caller,
    idem: Idem,
    policy: Policy,
    now: Now,
) -> JSONResponse:
    """A trainee rates the program they attended (once); their hours of it then show in their own
    views (R17)."""
    if replay := await idem.replay():
        return replay
    rating = await ratings.submit_rating(
        session, principal=caller, policy=policy, program_id=program_id, body=body, now=now
    )
    return await idem.respond(201, RatingRead.model_validate(rating))


@router.post(
    "/enrolments/{enrolment_id}/assessment", status_code=201, response_model=AssessmentRead
)
async def assess_trainee(
    enrolment_id: uuid.UUID,
    body: AssessmentCreate,
    session: Session,
    caller: Caller,
    idem: Idem,
    policy: Policy,
    now: Now,
) -> JSONResponse:
    """The institution assesses a trainee of its program."""
    if replay := await idem.replay():
        return replay
    assessment = await assessments.submit_assessment(
        session, principal=caller, policy=policy, enrolment_id=enrolment_id, body=body, now=now
    )
    return await idem.respond(201, AssessmentRead.model_validate(assessment))


@router.get("/teachers/{teacher_id}/pending-evaluations", response_model=Page[PendingEvaluation])
async def teacher_pending_evaluations(
    teacher_id: uuid.UUID, session: Session, caller: Caller, paging: Paging, now: Now
) -> dict:
    """The ratings and follow-up questionnaires the teacher still owes, with their deadlines."""
    await authorize_teacher(session, caller, teacher_id)
    return await pending_evaluations(session, teacher_id=teacher_id, paging=paging, now=now)


@router.get("/teachers/{teacher_id}/training-results")
async def teacher_training_results(
    teacher_id: uuid.UUID,
    session: Session,
    caller: Caller,
    now: Now,
    year: int | None = Query(None, ge=1990, le=2100, description="default: this year"),
) -> dict:
    """R29: what appraisal, post appointment and title promotion weigh of the year's training."""
    await authorize_teacher(session, caller, teacher_id)
    year = year or now.astimezone(ZoneInfo(DISTRICT_TZ)).year
    return jsonable_encoder(
        await training_results(session, teacher_id=teacher_id, year=year),
        custom_encoder={Decimal: str},
    )


@router.get("/follow-ups/{task_id}", response_model=FollowUpRead)
async def get_follow_up(
    task_id: uuid.UUID, session: Session, caller: Caller, policy: Policy
) -> FollowUpRead:
    """One follow-up questionnaire sent after a program."""
    return await follow_ups.get_follow_up(session, principal=caller, policy=policy, task_id=task_id)


@router.post(
    "/follow-ups/{task_id}/responses", status_code=201, response_model=FollowUpResponseRead
)
async def answer_follow_up(
    task_id: uuid.UUID,
    body: FollowUpAnswer,
    session: Session,
    caller: Caller,
    idem: Idem,
    policy: Policy,
    now: Now,
) -> JSONResponse:
    """Answer a follow-up questionnaire (once, before its deadline)."""
    if replay := await idem.replay():
        return replay
    response = await follow_ups.answer_follow_up(
        session, principal=caller, policy=policy, task_id=task_id, answers=body.given(), now=now
    )
    read = FollowUpResponseRead(
        id=response.id,
        task_id=response.task_id,
        program_id=response.program_id,
        teacher_id=response.teacher_id,
        months_after=response.months_after,
        answers=json.loads(response.answers),
        created_at=response.created_at,
    )
    return await idem.respond(201, read)
