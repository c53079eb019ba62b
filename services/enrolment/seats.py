"""Seat and quota accounting: every count is moved by one conditional UPDATE in the database.

Under a selection rush many requests race for the same program row; a guarded UPDATE
(`... WHERE seats_taken < capacity`) lets the database decide who wins without a read-then-write
window, on PostgreSQL and on SQLite alike. The winner holds the row lock until it commits, so
callers take the seat as late as they can; joining the waitlist writes no shared row at all.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Uuid, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import Enrolment, Program, ProgramQuota, infra
from shared.events import Event
from shared.events.enrolment import EnrolmentWaitlisted
from shared.messaging.outbox import outbox_row, wake_relays_after_commit


async def take_seat(session: AsyncSession, program_id: uuid.UUID) -> bool:
    taken = await session.execute(
        update(Program)
        .where(Program.id == program_id, Program.seats_taken < Program.capacity)
        .values(seats_taken=Program.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


async def release_seat(session: AsyncSession, program_id: uuid.UUID) -> None:
    await session.execute(
        update(Program)
        .where(Program.id == program_id, Program.seats_taken > 0)
        .values(seats_taken=Program.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )


async def waiting_count(session: AsyncSession, program_id: uuid.UUID) -> int:
    """How many wait already; read-only, so joining the waitlist locks no shared row."""
    return (
        await session.scalar(
            select(func.count()).where(
                Enrolment.program_id == program_id, Enrolment.status == "waitlisted"
            )
        )
        or 0
    )


async def take_quota(session: AsyncSession, program_id: uuid.UUID, school_id: uuid.UUID) -> bool:
    """R3: one seat of the school's quota; False when the quota is used up or absent."""
    taken = await session.execute(
        update(ProgramQuota)
        .where(
            ProgramQuota.program_id == program_id,
            ProgramQuota.school_id == school_id,
            ProgramQuota.seats_taken < ProgramQuota.seats,
        )
        .values(seats_taken=ProgramQuota.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


async def release_quota(session: AsyncSession, enrolment: Enrolment) -> None:
    if not enrolment.holds_quota:
        return
    await session.execute(
        update(ProgramQuota)
        .where(
            ProgramQuota.program_id == enrolment.program_id,
            ProgramQuota.school_id == enrolment.school_id,
            ProgramQuota.seats_taken > 0,
        )
        .values(seats_taken=ProgramQuota.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )
    enrolment.holds_quota = False


# PostgreSQL: the seat, the quota handed back when no seat is left, the enrolment and its
# event in one statement, so the program row stays locked for that statement and the commit
# only, and the request makes one round trip where the steps above make four.
_PLACE_NEW = text(
    f"""
WITH seat AS (
    UPDATE {Program.__table__.name} SET seats_taken = seats_taken + 1
    WHERE id = :program_id AND seats_taken < capacity
    RETURNING id
), outcome AS (
    SELECT EXISTS (SELECT 1 FROM seat) AS granted
), quota_back AS (
    UPDATE {ProgramQuota.__table__.name} SET seats_taken = seats_taken - 1
    WHERE CAST(:holds_quota AS boolean) AND program_id = :program_id
      AND school_id = :school_id AND seats_taken > 0
      AND NOT (SELECT granted FROM outcome)
    RETURNING 1
), placed AS (
    INSERT INTO {Enrolment.__table__.name}
        (id, program_id, teacher_id, school_id, district_id, status, waitlist_position,
         holds_quota, created_at)
    SELECT CAST(:id AS uuid), :program_id, CAST(:teacher_id AS uuid), :school_id,
           CAST(:district_id AS uuid),
           CASE WHEN granted THEN CAST(:granted_status AS varchar) ELSE 'waitlisted' END,
           CASE WHEN granted THEN NULL ELSE (
               SELECT count(*) + 1 FROM {Enrolment.__table__.name}
               WHERE program_id = :program_id AND status = 'waitlisted'
           ) END,
           CAST(:holds_quota AS boolean) AND granted,
           CAST(:created_at AS timestamptz)
    FROM outcome
    RETURNING status, waitlist_position
), event AS (
    INSERT INTO {infra.outbox.name} (event_id, subject, payload, headers, created_at)
    SELECT
        CASE WHEN status = 'waitlisted' THEN CAST(:waited_id AS uuid)
             ELSE CAST(:granted_id AS uuid) END,
        CASE WHEN status = 'waitlisted' THEN CAST(:waited_subject AS varchar)
             ELSE CAST(:granted_subject AS varchar) END,
        CASE WHEN status = 'waitlisted'
             THEN jsonb_set(CAST(:waited_payload AS jsonb), '{{waitlist_position}}',
                            to_jsonb(waitlist_position))::text
             ELSE CAST(:granted_payload AS text) END,
        CAST(:headers AS text), CAST(:created_at AS timestamptz)
    FROM placed
)
SELECT status, waitlist_position FROM placed
"""
).bindparams(bindparam("program_id", type_=Uuid), bindparam("school_id", type_=Uuid))


async def place_new_in_one_statement(
    session: AsyncSession,
    enrolment: Enrolment,
    *,
    granted_status: str,
    granted: Event,
    waited: EnrolmentWaitlisted,
) -> None:
    """A new enrolment takes a seat (`granted_status`, event `granted`) or waits (`waited`,
    whose waitlist_position the database fills in). PostgreSQL only."""
    granted_row, waited_row = outbox_row(granted), outbox_row(waited)
    result = await session.execute(
        _PLACE_NEW,
        {
            "id": enrolment.id,
            "program_id": enrolment.program_id,
            "teacher_id": enrolment.teacher_id,
            "school_id": enrolment.school_id,
            "district_id": enrolment.district_id,
            "holds_quota": enrolment.holds_quota,
            "granted_status": granted_status,
            "created_at": enrolment.created_at,
            "granted_id": granted_row["event_id"],
            "granted_subject": granted_row["subject"],
            "granted_payload": granted_row["payload"],
            "waited_id": waited_row["event_id"],
            "waited_subject": waited_row["subject"],
            "waited_payload": waited_row["payload"],
            "headers": granted_row["headers"],
        },
    )
    enrolment.status, enrolment.waitlist_position = result.one()
    enrolment.holds_quota = enrolment.holds_quota and enrolment.status != "waitlisted"
    wake_relays_after_commit(session)
