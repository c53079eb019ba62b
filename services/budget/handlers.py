"""What budget does with enrolment's events: projections, and money following enrolment."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.budget import funding
from services.budget.models import ProgramProjection, SchoolProjection
from shared.db import upsert
from shared.events.enrolment import (
    EnrolmentCompleted,
    EnrolmentFundingRequested,
    EnrolmentWithdrawn,
    ProgramTransitioned,
    SchoolRegistered,
)
from shared.messaging.inbox import HandlerRegistry

handlers = HandlerRegistry(service="budget")


@handlers.on(SchoolRegistered)
async def on_school_registered(session: AsyncSession, event: SchoolRegistered) -> None:
    await upsert(
        session, SchoolProjection, event.school_id, district_id=event.district_id, name=event.name
    )


@handlers.on(ProgramTransitioned)
async def on_program_transitioned(session: AsyncSession, event: ProgramTransitioned) -> None:
    await upsert(
        session,
        ProgramProjection,
        event.program_id,
        district_id=event.district_id,
        institution_id=event.institution_id,
        school_id=event.school_id,
        title=event.title,
        status=event.to_status,
        starts_on=event.starts_on,
        ends_on=event.ends_on,
        cost_per_participant_fen=event.cost_per_participant_fen,
        funded_by=event.funded_by,
    )


@handlers.on(EnrolmentFundingRequested)
async def on_enrolment_funding_requested(
    session: AsyncSession, event: EnrolmentFundingRequested
) -> None:
    await funding.request_funding(session, event)


@handlers.on(EnrolmentWithdrawn)
async def on_enrolment_withdrawn(session: AsyncSession, event: EnrolmentWithdrawn) -> None:
    await funding.withdraw(session, event)


@handlers.on(EnrolmentCompleted)
async def on_enrolment_completed(session: AsyncSession, event: EnrolmentCompleted) -> None:
    await funding.complete(session, event)
