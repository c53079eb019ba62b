"""The at-risk signal: a teacher whose pace will not reach the cycle's hours (R10)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import balances, policies
from services.ledger.models import TeacherProjection, infra
from services.ledger.policy import cycle_of, pace
from shared.config import DISTRICT_TZ
from shared.db import utcnow
from shared.events.ledger import TeacherAtRisk
from shared.messaging.outbox import add_event


def today() -> dt.date:
    return utcnow().astimezone(ZoneInfo(DISTRICT_TZ)).date()


async def check(session: AsyncSession, teacher: TeacherProjection) -> None:
    """Emit one at-risk event per cycle when the teacher falls behind; re-arm on recovery."""
    day = today()
    policy = await policies.in_force(session, teacher.district_id, day)
    first, last = cycle_of(policy.rules, day.year, teacher.hired_year)
    years = await balances.by_year(session, teacher.id, first, last)
    cycle_total = sum(row.total for row in years.values())
    outlook = pace(policy.rules, first_year=first, cycle_total=cycle_total, today=day)
    if outlook.on_track is False and teacher.at_risk_cycle != first:
        teacher.at_risk_cycle = first
        await add_event(
            session,
            infra.outbox,
            TeacherAtRisk(
                teacher_id=teacher.id,
                district_id=teacher.district_id,
                school_id=teacher.school_id,
                cycle_first_year=first,
                cycle_last_year=last,
                cycle_hours=Decimal(cycle_total) / 10,
                required_hours=policy.rules.cycle_hours,
                projected_hours=Decimal(outlook.projected) / 10,
                policy_version=policy.label,
            ),
        )
    elif outlook.on_track and teacher.at_risk_cycle == first:
        teacher.at_risk_cycle = None
