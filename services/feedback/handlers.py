"""What feedback does with other services' events: projections of programs, attendees,
teachers and funding, and the evaluation tasks they give rise to."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import (
    Attendee,
    FundingFigure,
    InstitutionProjection,
    ProgramProjection,
    TeacherProjection,
)
from services.feedback.policy import DEFAULT_POLICY
from services.feedback.tasks import sync_program
from shared.db import upsert
from shared.events.budget import FundingReserved
from shared.events.enrolment import (
    EnrolmentCompleted,
    EnrolmentConfirmed,
    EnrolmentWithdrawn,
    InstitutionRegistered,
    ProgramTransitioned,
    TeacherRegistered,
    TeacherUpdated,
)
from shared.messaging.inbox import HandlerRegistry

handlers = HandlerRegistry(service="feedback")


@handlers.on(ProgramTransitioned)
async def on_program_transitioned(session: AsyncSession, event: ProgramTransitioned) -> None:
    program = await upsert(
        session,
        ProgramProjection,
        event.program_id,
        district_id=event.district_id,
        institution_id=event.institution_id,
        school_id=event.school_id,
        title=event.title,
        hours=event.hours,
        mode=event.mode,
        level=event.level,
        category=event.category,
        status=event.to_status,
        starts_on=event.starts_on,
        ends_on=event.ends_on,
    )
    if event.to_status == "approved":
        program.approved_at = event.occurred_at
    if event.to_status == "finished":
        program.finished_at = event.occurred_at
    await session.flush()
    await sync_program(session, DEFAULT_POLICY, program.id)


async def _attendee(session: AsyncSession, event: EnrolmentConfirmed) -> Attendee:
    attendee = await session.get(Attendee, event.enrolment_id)
    if attendee is None:
        attendee = Attendee(
            enrolment_id=event.enrolment_id,
            program_id=event.program_id,
            teacher_id=event.teacher_id,
            school_id=event.school_id,
            district_id=event.district_id,
            status="confirmed",
        )
        session.add(attendee)
    return attendee


@handlers.on(EnrolmentConfirmed)
async def on_enrolment_confirmed(session: AsyncSession, event: EnrolmentConfirmed) -> None:
    await _attendee(session, event)
    await session.flush()
    await sync_program(session, DEFAULT_POLICY, event.program_id, enrolment_id=event.enrolment_id)


@handlers.on(EnrolmentCompleted)
async def on_enrolment_completed(session: AsyncSession, event: EnrolmentCompleted) -> None:
    attendee = await _attendee(session, event)
    attendee.status = "completed"
    attendee.passed = event.passed
    attendee.attendance_rate = event.attendance_rate
    await session.flush()
    await sync_program(session, DEFAULT_POLICY, event.program_id, enrolment_id=event.enrolment_id)


@handlers.on(EnrolmentWithdrawn)
async def on_enrolment_withdrawn(session: AsyncSession, event: EnrolmentWithdrawn) -> None:
    if not event.was_confirmed:
        return  # a waitlisted or pending place never counted as someone who should attend
    attendee = await _attendee(session, event)
    attendee.status = "withdrawn"
    await session.flush()
    await sync_program(session, DEFAULT_POLICY, event.program_id, enrolment_id=event.enrolment_id)


@handlers.on(TeacherRegistered)
@handlers.on(TeacherUpdated)
async def on_teacher(session: AsyncSession, event: TeacherRegistered | TeacherUpdated) -> None:
    await upsert(
        session,
        TeacherProjection,
        event.teacher_id,
        district_id=event.district_id,
        school_id=event.school_id,
        name=event.name,
    )


@handlers.on(InstitutionRegistered)
async def on_institution_registered(session: AsyncSession, event: InstitutionRegistered) -> None:
    await upsert(
        session,
        InstitutionProjection,
        event.institution_id,
        district_id=event.district_id,
        name=event.name,
    )


@handlers.on(FundingReserved)
async def on_funding_reserved(session: AsyncSession, event: FundingReserved) -> None:
    if await session.get(FundingFigure, event.enrolment_id) is None:
        session.add(
            FundingFigure(
                enrolment_id=event.enrolment_id,
                program_id=event.program_id,
                amount_fen=event.amount_fen,
            )
        )
