"""Seat and quota accounting: every count is moved by one conditional UPDATE in the database.

Under a selection rush many requests race for the same program row; a guarded UPDATE
(`... WHERE seats_taken < capacity`) lets the database decide who wins without a read-then-write
window, on PostgreSQL and on SQLite alike. The winner holds the row lock until it commits, so
callers take the seat as late as they can; joining the waitlist writes no shared row at all.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import Enrolment, Program, ProgramQuota


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
