"""A teacher's standing against this year's requirements, published whenever their hours move.

The catalogue (enrolment) ranks programs by the gaps they close from the latest standing it
received (`ledger.teacher.standing_changed.v1`), so it never calls the ledger while a teacher
waits. The standing counts every entry: it is the real need, whatever R17 still withholds
from the teacher's own views.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import balances, policies
from services.ledger.models import TeacherProjection, infra
from services.ledger.policy import (
    COUNTS_TOWARD,
    R14_SPEC,
    RULE_LABELS,
    RULE_TABLE,
    Check,
    Policy,
    Totals,
    checks,
    cycle_of,
    tenths,
)
from services.ledger.risk import today
from shared.events.ledger import StandingItem, TeacherStandingChanged
from shared.messaging.outbox import add_event


def _hours(value_tenths: int) -> Decimal:
    return Decimal(value_tenths) / 10


def items(policy: Policy, found: list[Check], totals: Totals) -> tuple[StandingItem, ...]:
    """Every requirement in hours, with what counts toward it (COUNTS_TOWARD)."""
    rules = policy.rules
    specs = {spec.rule: spec for spec in (*RULE_TABLE, R14_SPEC)}
    r14 = Check(
        R14_SPEC.rule,
        R14_SPEC.unit,
        tenths(rules.centralized_hours),
        totals.year_centralized,
    )
    out = []
    for check in (*found, r14):
        spec = specs[check.rule]
        # A credit rule is told in hours of the mode it counts (R13: 20 h = 1 credit).
        scale = rules.hours_per_credit["school_based"] if check.unit == "credits" else Decimal(1)
        out.append(
            StandingItem(
                rule=check.rule,
                label=RULE_LABELS[check.rule],
                required_hours=_hours(check.required) * scale,
                achieved_hours=_hours(check.achieved) * scale,
                missing_hours=_hours(check.missing) * scale,
                **COUNTS_TOWARD[spec.achieved],
            )
        )
    return tuple(out)


async def publish(
    session: AsyncSession, teacher: TeacherProjection, *, day: dt.date | None = None
) -> None:
    """Write the teacher's standing for the current year (Asia/Shanghai) to the outbox."""
    year = (day or today()).year
    # The version in force at the year's end judges the year, as the hours view does.
    policy = await policies.in_force(session, teacher.district_id, dt.date(year, 12, 31))
    rules = policy.rules
    first, last = cycle_of(rules, year, teacher.hired_year)
    low = min(first, teacher.hired_year or first)
    rows = await balances.by_year(session, teacher.id, low, max(last, year))
    per_year = {
        y: balances.Delta(**{name: getattr(row, name) for name in balances.BUCKETS})
        for y, row in rows.items()
    }
    totals = balances.totals_from_years(rules, per_year, year=year, hired_year=teacher.hired_year)
    found = checks(
        rules, totals, year=year, hired_year=teacher.hired_year, is_trainer=teacher.is_trainer
    )
    await add_event(
        session,
        infra.outbox,
        TeacherStandingChanged(
            teacher_id=teacher.id,
            district_id=teacher.district_id,
            year=year,
            policy_version=policy.label,
            requirements=items(policy, found, totals),
        ),
    )
