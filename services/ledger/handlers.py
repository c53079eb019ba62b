"""What the ledger does with other services' events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import standing
from services.ledger.entries import post_entry
from services.ledger.models import (
    DistrictProjection,
    RatedProgram,
    SchoolProjection,
    TeacherIdNumber,
    TeacherProjection,
)
from shared.db import upsert
from shared.events.enrolment import (
    DistrictNamed,
    EnrolmentCompleted,
    KeyedIdNumber,
    SchoolRegistered,
    TeacherIdNumbersKeyed,
    TeacherLoginsRequested,
    TeacherRegistered,
    TeacherUpdated,
)
from shared.events.feedback import RatingSubmitted, RatingWindowClosed
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
    teacher = await upsert(
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
    # A new teacher owes everything; a new hire date moves the cycle (R10, R11).
    await standing.publish(session, teacher)


@handlers.on(TeacherIdNumbersKeyed)
async def on_id_numbers_keyed(session: AsyncSession, event: TeacherIdNumbersKeyed) -> None:
    """Provincial rows name teachers by 身份证号: the ledger keeps its keyed hash only."""
    await _keep_hashes(session, event.teachers)


@handlers.on(TeacherLoginsRequested)
async def on_logins_requested(session: AsyncSession, event: TeacherLoginsRequested) -> None:
    """Logins asked for before TeacherIdNumbersKeyed existed carry the same hashes."""
    await _keep_hashes(
        session,
        [
            KeyedIdNumber(
                teacher_id=x.teacher_id, district_id=x.district_id, id_number_hash=x.id_number_hash
            )
            for x in event.logins
            if x.id_number_hash
        ],
    )


async def _keep_hashes(session: AsyncSession, keyed: list[KeyedIdNumber]) -> None:
    for item in keyed:
        row = await session.get(TeacherIdNumber, item.teacher_id)
        if row is None:
            session.add(
                TeacherIdNumber(
                    teacher_id=item.teacher_id,
                    district_id=item.district_id,
                    id_number_hash=item.id_number_hash,
                    id_number_encrypted=item.id_number_encrypted,
                )
            )
        else:
            row.district_id, row.id_number_hash = item.district_id, item.id_number_hash
            row.id_number_encrypted = item.id_number_encrypted or row.id_number_encrypted


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
@handlers.on(RatingWindowClosed)
async def on_rating_submitted(
    session: AsyncSession, event: RatingSubmitted | RatingWindowClosed
) -> None:
    """R17: once a teacher has rated a program, its hours show in their own views; so they
    do once the rating window (R25) closed unrated, as the teacher can no longer rate."""
    seen = await session.scalar(
        select(RatedProgram).where(
            RatedProgram.teacher_id == event.teacher_id,
            RatedProgram.program_id == event.program_id,
        )
    )
    if seen is None:
        session.add(RatedProgram(teacher_id=event.teacher_id, program_id=event.program_id))
