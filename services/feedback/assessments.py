"""The institution's assessment of each trainee (R24), which completes the enrolment."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import Assessment, Attendee, infra
from services.feedback.policy import FeedbackPolicy, assessment_window
from services.feedback.ratings import check_scores
from services.feedback.schemas import AssessmentCreate
from services.feedback.scope import ensure_runs, get_program
from services.feedback.tasks import ACTIVE, settle
from shared.auth import Principal
from shared.errors import Conflict, NotFound, Unprocessable
from shared.events.feedback import AssessmentSubmitted
from shared.messaging.outbox import add_event


async def submit_assessment(
    session: AsyncSession,
    *,
    principal: Principal,
    policy: FeedbackPolicy,
    enrolment_id: uuid.UUID,
    body: AssessmentCreate,
    now: dt.datetime,
) -> Assessment:
    """R24: from the program's last day; after the deadline it is still taken, marked late
    (the scheduler has already flagged it to the bureau), since completion depends on it."""
    attendee = await session.get(Attendee, enrolment_id)
    if attendee is None:
        raise NotFound("No such enrolment among confirmed trainees.", code="unknown-enrolment")
    program = await get_program(session, attendee.program_id)
    ensure_runs(principal, program, "assess its trainees")
    if attendee.status not in ACTIVE:
        raise Conflict(f"A {attendee.status} enrolment is not assessed.", code="not-attendee")
    check_scores(policy, {"attitude": body.attitude, "assignments": body.assignments})
    window = assessment_window(policy, program.ends_on)
    if program.status == "cancelled" or now < window.opens_at:
        raise Unprocessable(
            "Trainees are assessed from the program's last day on.",
            code="assessment-not-open",
            opens_at=window.opens_at.isoformat(),
        )
    duplicate = Conflict("This trainee has already been assessed.", code="already-assessed")
    if await session.scalar(select(Assessment.id).where(Assessment.enrolment_id == enrolment_id)):
        raise duplicate
    assessment = Assessment(
        enrolment_id=enrolment_id,
        program_id=program.id,
        teacher_id=attendee.teacher_id,
        institution_id=program.institution_id,
        attitude=body.attitude,
        assignments=body.assignments,
        attendance_rate=body.attendance_rate,
        passed=body.passed,
        comments=body.comments,
        late=now >= window.due_at,
        assessed_by=principal.subject,
        policy_version=policy.version,
    )
    session.add(assessment)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise duplicate from exc
    await settle(session, enrolment_id=enrolment_id, kind="assessment", at=now)
    await add_event(
        session,
        infra.outbox,
        AssessmentSubmitted(
            assessment_id=assessment.id,
            enrolment_id=enrolment_id,
            program_id=program.id,
            teacher_id=attendee.teacher_id,
            institution_id=program.institution_id,
            attitude=body.attitude,
            assignments=body.assignments,
            attendance_rate=body.attendance_rate,
            passed=body.passed,
        ),
    )
    return assessment
