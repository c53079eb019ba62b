"""A teacher's enrolments as the phone's home screen shows them, and the app's sync."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import Enrolment, Program
from services.enrolment.schemas import TeacherEnrolmentItem


def changed_since(since: dt.datetime) -> ColumnElement[bool]:
    """Enrolments written or changed at or after `since` (`updated_since`). A row the rush
    wrote in one statement has no updated_at until it next changes: its created_at stands."""
    return func.coalesce(Enrolment.updated_at, Enrolment.created_at) >= since


def ending_from(day: dt.date) -> ColumnElement[bool]:
    """Enrolments of programs that end on or after `day` (the current ones, not history)."""
    return Enrolment.program_id.in_(select(Program.id).where(Program.ends_on >= day))


async def with_programs(session: AsyncSession, rows: list[Enrolment]) -> list[TeacherEnrolmentItem]:
    """Each enrolment with the title, dates and place of its program, in one more query."""
    ids = {row.program_id for row in rows}
    found: dict = (
        {p.id: p for p in await session.scalars(select(Program).where(Program.id.in_(ids)))}
        if ids
        else {}
    )
    items = []
    for row in rows:
        program = found[row.program_id]
        items.append(
            TeacherEnrolmentItem(
                id=row.id,
                status=row.status,
                program_id=row.program_id,
                program_title=program.title,
                starts_on=program.starts_on,
                ends_on=program.ends_on,
                place=program.place,
                hours=program.hours,
                mode=program.mode,
                waitlist_position=row.waitlist_position,
                offer_expires_at=row.offer_expires_at,
                created_at=row.created_at,
                updated_at=row.updated_at or row.created_at,
            )
        )
    return items
