"""Messages that cannot be applied yet are kept and applied when they can; never dropped.

An institution may assess a trainee (R24) before anybody started the program, or while the
trainee's funding is still pending. Acking the event without effect would lose the
completion and the hours for good; failing it would send it to the dead letters after a few
tries. Instead it is parked in `parked_message` and tried again whenever its program moves
(started or finished, by a click or by the calendar) or the place's funding is reserved. One
that can never apply (the place ended: withdrawn, on leave, cancelled) is kept as `refused`
with the reason, so the bureau can see it.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.enrolments import store_completion
from services.enrolment.models import Enrolment, ParkedMessage, Program
from shared.db import utcnow
from shared.events.feedback import AssessmentSubmitted

PROGRAM_RUNS = ("running", "finished")
# Places that may still become confirmed (and then complete).
MAY_CONFIRM = ("pending_funds", "offered", "confirmed")


async def apply_assessment(
    session: AsyncSession,
    *,
    enrolment_id: uuid.UUID,
    attendance_rate: Decimal,
    passed: bool,
) -> tuple[str, str]:
    """("applied" | "wait" | "refused", why): the institution's assessment completes a
    confirmed place of a running or finished program, once."""
    enrolment = await session.scalar(
        select(Enrolment).where(Enrolment.id == enrolment_id).with_for_update()
    )
    if enrolment is None:
        return "wait", "报名记录尚未到达"
    if enrolment.status == "completed":
        return "applied", "已完成（重复的评定）"
    program = await session.get(Program, enrolment.program_id)
    if program is None or program.status == "cancelled" or enrolment.status not in MAY_CONFIRM:
        status = program.status if program and program.status == "cancelled" else enrolment.status
        return "refused", f"报名状态为 {status}，无法记为结业"
    if enrolment.status != "confirmed":
        return "wait", f"报名状态为 {enrolment.status}，待确认后记为结业"
    if program.status not in PROGRAM_RUNS:
        return "wait", f"项目状态为 {program.status}，待项目开始后记为结业"
    await store_completion(
        session,
        enrolment=enrolment,
        program=program,
        attendance_rate=attendance_rate,
        passed=passed,
    )
    return "applied", ""


async def on_assessment(session: AsyncSession, event: AssessmentSubmitted) -> None:
    """Apply the assessment now, or keep it for later with the reason."""
    outcome, why = await apply_assessment(
        session,
        enrolment_id=event.enrolment_id,
        attendance_rate=event.attendance_rate,
        passed=event.passed,
    )
    if outcome == "applied":
        return
    if await session.get(ParkedMessage, event.event_id) is not None:
        return  # the same event again (a replay under the same id)
    session.add(
        ParkedMessage(
            event_id=event.event_id,
            subject=event.subject,
            program_id=event.program_id,
            enrolment_id=event.enrolment_id,
            payload=event.model_dump(mode="json"),
            reason=why,
            status="parked" if outcome == "wait" else "refused",
            attempts=1,
            settled_at=None if outcome == "wait" else utcnow(),
        )
    )
    await session.flush()


async def retry_parked(
    session: AsyncSession,
    *,
    program_id: uuid.UUID | None = None,
    enrolment_id: uuid.UUID | None = None,
) -> int:
    """Try the parked messages of a program (or of one place) again; how many applied."""
    query = select(ParkedMessage).where(ParkedMessage.status == "parked")
    if program_id is not None:
        query = query.where(ParkedMessage.program_id == program_id)
    if enrolment_id is not None:
        query = query.where(ParkedMessage.enrolment_id == enrolment_id)
    applied = 0
    for parked in (await session.scalars(query.order_by(ParkedMessage.parked_at))).all():
        event = AssessmentSubmitted.model_validate(parked.payload)
        outcome, why = await apply_assessment(
            session,
            enrolment_id=event.enrolment_id,
            attendance_rate=event.attendance_rate,
            passed=event.passed,
        )
        parked.attempts += 1
        if outcome == "wait":
            parked.reason = why
            continue
        parked.status = outcome
        parked.reason = why or parked.reason
        parked.settled_at = utcnow()
        applied += outcome == "applied"
    await session.flush()
    return applied
