"""A teacher's training results of a year, for appraisal, appointment and promotion (R29)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import (
    Assessment,
    Attendee,
    FollowUpResponse,
    ProgramProjection,
    Rating,
)
from services.feedback.scorecards import local_year_bounds
from shared.units import format_hours


async def training_results(
    session: AsyncSession, *, teacher_id: uuid.UUID, year: int
) -> dict[str, Any]:
    """Per program that ended in the year: the institution's assessment of the teacher, whether
    the teacher rated it and answered the follow-ups; the totals are what appraisal weighs."""
    first, last = local_year_bounds(year)
    rows = (
        await session.execute(
            select(Attendee, ProgramProjection, Assessment)
            .join(ProgramProjection, ProgramProjection.id == Attendee.program_id)
            .outerjoin(Assessment, Assessment.enrolment_id == Attendee.enrolment_id)
            .where(
                Attendee.teacher_id == teacher_id,
                Attendee.status != "withdrawn",
                ProgramProjection.ends_on >= first,
                ProgramProjection.ends_on <= last,
            )
            .order_by(ProgramProjection.ends_on)
        )
    ).all()
    program_ids = [program.id for _, program, _ in rows]
    rated = set(
        (
            await session.scalars(
                select(Rating.program_id).where(
                    Rating.teacher_id == teacher_id, Rating.program_id.in_(program_ids)
                )
            )
        ).all()
    )
    follow_ups = dict(
        (
            await session.execute(
                select(FollowUpResponse.program_id, func.count())
                .where(
                    FollowUpResponse.teacher_id == teacher_id,
                    FollowUpResponse.program_id.in_(program_ids),
                )
                .group_by(FollowUpResponse.program_id)
            )
        ).all()
    )
    items = []
    for attendee, program, assessment in rows:
        passed = assessment.passed if assessment else attendee.passed
        items.append(
            {
                "program_id": program.id,
                "title": program.title,
                "hours": program.hours,
                "level": program.level,
                "mode": program.mode,
                "ends_on": program.ends_on,
                "status": attendee.status,
                "passed": passed,
                "assessment": None
                if assessment is None
                else {
                    "attitude": assessment.attitude,
                    "assignments": assessment.assignments,
                    "attendance_rate": assessment.attendance_rate,
                    "passed": assessment.passed,
                },
                "rated": program.id in rated,
                "follow_ups_answered": follow_ups.get(program.id, 0),
            }
        )
    passed_hours = sum((i["hours"] for i in items if i["passed"] is True), start=Decimal("0.0"))
    for item in items:
        item["hours"] = format_hours(item["hours"])
    return {
        "teacher_id": teacher_id,
        "year": year,
        "programs": len(items),
        "passed": sum(1 for i in items if i["passed"] is True),
        "failed": sum(1 for i in items if i["passed"] is False),
        "passed_hours": format_hours(passed_hours),
        "items": items,
    }
