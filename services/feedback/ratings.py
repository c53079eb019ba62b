"""Trainee ratings of a program (R25) and who may see them with a name."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import Attendee, Rating, infra
from services.feedback.policy import FeedbackPolicy, rating_window, valid_score
from services.feedback.schemas import RatingCreate
from services.feedback.scope import get_program
from services.feedback.tasks import ACTIVE, settle
from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, Unprocessable
from shared.events.feedback import RatingSubmitted
from shared.messaging.outbox import add_event


def check_scores(policy: FeedbackPolicy, scores: dict[str, int]) -> None:
    """Every score on the policy's scale (R25, R24)."""
    for name, value in scores.items():
        if not valid_score(policy, value):
            raise Unprocessable(
                f"{name} must be from {policy.scale_min} to {policy.scale_max}; got {value}.",
                code="score-out-of-scale",
                field=name,
            )


async def submit_rating(
    session: AsyncSession,
    *,
    principal: Principal,
    policy: FeedbackPolicy,
    program_id: uuid.UUID,
    body: RatingCreate,
    now: dt.datetime,
) -> Rating:
    """R25: an attendee rates the program once, inside the window after its end."""
    if principal.role is not Role.TEACHER or principal.teacher_id is None:
        raise Forbidden("Only a trainee rates a program.", code="not-a-trainee")
    program = await get_program(session, program_id)
    scores = {d: getattr(body, d) for d in policy.rating_dimensions}
    check_scores(policy, scores)
    attendee = await session.scalar(
        select(Attendee).where(
            Attendee.program_id == program.id,
            Attendee.teacher_id == principal.teacher_id,
            Attendee.status.in_(ACTIVE),
        )
    )
    if attendee is None:
        raise Forbidden("Only a trainee who attended may rate this program.", code="not-attendee")
    window = rating_window(policy, program.ends_on)
    if program.status == "cancelled" or not window.contains(now):
        raise Unprocessable(
            "Ratings are accepted from the program's last day for "
            f"{policy.rating_days} days after it.",
            code="rating-window-closed",
            opens_at=window.opens_at.isoformat(),
            closes_at=window.due_at.isoformat(),
        )
    rating = Rating(
        program_id=program.id,
        teacher_id=principal.teacher_id,
        enrolment_id=attendee.enrolment_id,
        comments=body.comments,
        policy_version=policy.version,
        **scores,
    )
    duplicate = Conflict("You have already rated this program.", code="already-rated")
    if await session.scalar(
        select(Rating.id).where(
            Rating.program_id == program.id, Rating.teacher_id == principal.teacher_id
        )
    ):
        raise duplicate
    session.add(rating)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise duplicate from exc
    await settle(session, enrolment_id=attendee.enrolment_id, kind="rating", at=now)
    await add_event(
        session,
        infra.outbox,
        RatingSubmitted(
            rating_id=rating.id, program_id=program.id, teacher_id=principal.teacher_id
        ),
    )
    return rating
