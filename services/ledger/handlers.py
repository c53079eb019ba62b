"""What the ledger does with other services' events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.entries import post_entry
from services.ledger.models import (
    DistrictProjection,
    RatedProgram,
    SchoolProjection,
    TeacherProjection,
)
from shared.db import upsert
from shared.events.enrolment import (
    DistrictNamed,
    EnrolmentCompleted,
    SchoolRegistered,
    TeacherRegistered,
    TeacherUpdated,
)
from shared.events.feedback import RatingSubmitted
from shared.messaging.inbox import HandlerRegistry

handlers = HandlerRegistry(service="ledger")


@handlers.on(DistrictNamed)
async def on_district_named(session: AsyncSession, event: DistrictNamed) -> None:
    await upsert(session, DistrictProjection, event.district_id, name=event.name)


@handlers.on(SchoolRegistered)
async def on_school_registered(session: AsyncSession, event: SchoolRegistered) -> None:
    await upsert(
        session, SchoolProjection, event.school_id, district_id=event.district_id, name=event.name
    )


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
        stage=event.stage,
        hired_on=event.hired_on,
        hired_year=event.hired_on.year if event.hired_on else None,
    )


@handlers.on(EnrolmentCompleted)
async def on_enrolment_completed(session: AsyncSession, event: EnrolmentCompleted) -> None:
    """Hour recognition (学时认定): a passed completion posts the program's hours once."""
    if not event.passed:
        return
    await post_entry(
        session,
        teacher_id=event.teacher_id,
        hours=event.hours,
        source="program_completion",
        source_ref=str(event.enrolment_id),
        scope_id=event.district_id,
        mode=event.mode,
        level=event.level,
        category=event.category,
        occurred_on=event.completed_on,
        program_id=event.program_id,
        description=event.program_title,
    )


@handlers.on(RatingSubmitted)
async def on_rating_submitted(session: AsyncSession, event: RatingSubmitted) -> None:
    """R17: once a teacher has rated a program, its hours show in their own views."""
    seen = await session.scalar(
        select(RatedProgram).where(
            RatedProgram.teacher_id == event.teacher_id,
            RatedProgram.program_id == event.program_id,
        )
    )
    if seen is None:
        session.add(RatedProgram(teacher_id=event.teacher_id, program_id=event.program_id))
