"""What enrolment does with other services' events: funding answers, feedback, hours gaps."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.enrolments import end_enrolment, facts
from services.enrolment.for_me import record_standing
from services.enrolment.models import Enrolment, Program, ProgramRating, infra
from services.enrolment.parked import on_assessment, retry_parked
from shared.events.budget import FundingRefused, FundingReserved
from shared.events.enrolment import EnrolmentConfirmed, EnrolmentRefused
from shared.events.feedback import AssessmentSubmitted, RatingSubmitted, RatingWindowClosed
from shared.events.ledger import TeacherStandingChanged
from shared.messaging.inbox import HandlerRegistry
from shared.messaging.outbox import add_event

handlers = HandlerRegistry(service="enrolment")


async def _pending_funds(session: AsyncSession, enrolment_id) -> tuple[Enrolment, Program] | None:
    enrolment = await session.scalar(
        select(Enrolment).where(Enrolment.id == enrolment_id).with_for_update()
    )
    # Anything but pending_funds means the answer came late (withdrawn meanwhile): ignore it.
    if enrolment is None or enrolment.status != "pending_funds":
        return None
    program = await session.get(Program, enrolment.program_id)
    assert program is not None
    return enrolment, program


@handlers.on(FundingReserved)
async def on_funding_reserved(session: AsyncSession, event: FundingReserved) -> None:
    found = await _pending_funds(session, event.enrolment_id)
    if found is None:
        return
    enrolment, _ = found
    enrolment.status = "confirmed"
    await session.flush()
    await add_event(session, infra.outbox, EnrolmentConfirmed(**facts(enrolment)))
    await retry_parked(session, enrolment_id=enrolment.id)


@handlers.on(FundingRefused)
async def on_funding_refused(session: AsyncSession, event: FundingRefused) -> None:
    found = await _pending_funds(session, event.enrolment_id)
    if found is None:
        return
    enrolment, program = found
    reason = f"funding refused: {event.reason}"
    await end_enrolment(session, program, enrolment, status="refused", reason=reason)
    await add_event(session, infra.outbox, EnrolmentRefused(**facts(enrolment), reason=reason))


@handlers.on(RatingSubmitted)
async def on_rating_submitted(session: AsyncSession, event: RatingSubmitted) -> None:
    """R6's local projection: the teacher has evaluated this program."""
    seen = await session.get(ProgramRating, (event.program_id, event.teacher_id))
    if seen is None:
        session.add(
            ProgramRating(
                program_id=event.program_id, teacher_id=event.teacher_id, rated_at=event.occurred_at
            )
        )
    elif not seen.rated:
        seen.rated, seen.rated_at = True, event.occurred_at
    await session.flush()


@handlers.on(RatingWindowClosed)
async def on_rating_window_closed(session: AsyncSession, event: RatingWindowClosed) -> None:
    """R25's window closed unrated: the teacher can no longer rate, so R6 stops waiting for
    it (kept as not rated)."""
    if await session.get(ProgramRating, (event.program_id, event.teacher_id)) is None:
        session.add(
            ProgramRating(
                program_id=event.program_id,
                teacher_id=event.teacher_id,
                rated_at=event.due_at,
                rated=False,
            )
        )
        await session.flush()


@handlers.on(AssessmentSubmitted)
async def on_assessment_submitted(session: AsyncSession, event: AssessmentSubmitted) -> None:
    """The institution's assessment (R24) completes the enrolment, once; one that cannot
    apply yet (the program not started, funding pending) is parked, never dropped."""
    await on_assessment(session, event)


@handlers.on(TeacherStandingChanged)
async def on_standing_changed(session: AsyncSession, event: TeacherStandingChanged) -> None:
    """The ledger's gaps of a teacher, kept where the catalogue ranks programs for them."""
    await record_standing(
        session,
        teacher_id=event.teacher_id,
        year=event.year,
        policy_version=event.policy_version,
        requirements=[item.model_dump(mode="json") for item in event.requirements],
        as_of=event.occurred_at,
    )
