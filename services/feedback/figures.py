"""Source figures of programs (R26), gathered from the projections in a few grouped queries.

Each figure names where it comes from, so a scorecard can show its sources next to its ratios.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import Assessment, Attendee, EvaluationTask, FundingFigure, Rating

SOURCES = {
    "programs": "enrolment.program.transitioned.v1",
    "ratings": "feedback ratings (R25)",
    "assessments": "feedback assessments (R24)",
    "participation": "enrolment.enrolment.confirmed/completed/withdrawn.v1",
    "funding": "budget.funding.reserved.v1",
}
# What budget does not publish yet, so plan execution of money and fund use are partial.
MISSING_BUDGET_EVENTS = [
    "program budget set (budget by category, R21)",
    "expense recorded",
    "final accounts closed (R22)",
]


@dataclass
class Figures:
    """Counts and sums; they add up across programs, the ratios are taken at the end."""

    programs_planned: int = 0
    programs_finished: int = 0
    programs_cancelled: int = 0
    ratings: int = 0
    # R25 windows that closed without a rating: counted, not guessed at.
    not_rated: int = 0
    overall_sum: int = 0
    format_sum: int = 0
    instructors_sum: int = 0
    management_sum: int = 0
    assessed: int = 0
    passed: int = 0
    assessments_overdue: int = 0
    expected: int = 0
    completed: int = 0
    withdrawn: int = 0
    committed_fen: int = 0
    overall_distribution: dict[int, int] = field(default_factory=dict)

    def __iadd__(self, other: Figures) -> Figures:
        for f in fields(self):
            if f.name == "overall_distribution":
                for score, n in other.overall_distribution.items():
                    self.overall_distribution[score] = self.overall_distribution.get(score, 0) + n
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


def ratio(numerator: int, denominator: int, places: str = "0.0001") -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal(places), rounding=ROUND_HALF_UP
    )


async def program_figures(
    session: AsyncSession, program_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Figures]:
    ids = list(program_ids)
    out = {pid: Figures() for pid in ids}
    if not ids:
        return out
    ratings = await session.execute(
        select(
            Rating.program_id,
            Rating.overall,
            func.count(),
            func.sum(Rating.format),
            func.sum(Rating.instructors),
            func.sum(Rating.management),
        )
        .where(Rating.program_id.in_(ids))
        .group_by(Rating.program_id, Rating.overall)
    )
    for pid, overall, n, fmt, instructors, management in ratings:
        f = out[pid]
        f.ratings += n
        f.overall_sum += overall * n
        f.format_sum += fmt or 0
        f.instructors_sum += instructors or 0
        f.management_sum += management or 0
        f.overall_distribution[overall] = n
    assessments = await session.execute(
        select(
            Assessment.program_id,
            func.count(),
            func.sum(case((Assessment.passed.is_(True), 1), else_=0)),
        )
        .where(Assessment.program_id.in_(ids))
        .group_by(Assessment.program_id)
    )
    for pid, n, passed in assessments:
        out[pid].assessed = n
        out[pid].passed = int(passed or 0)
    attendees = await session.execute(
        select(Attendee.program_id, Attendee.status, func.count())
        .where(Attendee.program_id.in_(ids))
        .group_by(Attendee.program_id, Attendee.status)
    )
    for pid, status, n in attendees:
        f = out[pid]
        f.expected += n  # everyone who was confirmed should have attended (参训率)
        if status == "completed":
            f.completed += n
        elif status == "withdrawn":
            f.withdrawn += n
    lapsed = await session.execute(
        select(EvaluationTask.program_id, EvaluationTask.kind, func.count())
        .where(
            EvaluationTask.program_id.in_(ids),
            or_(
                and_(EvaluationTask.kind == "assessment", EvaluationTask.state == "overdue"),
                and_(EvaluationTask.kind == "rating", EvaluationTask.state == "closed"),
            ),
        )
        .group_by(EvaluationTask.program_id, EvaluationTask.kind)
    )
    for pid, kind, n in lapsed:
        if kind == "assessment":
            out[pid].assessments_overdue = n
        else:
            out[pid].not_rated = n
    funding = await session.execute(
        select(FundingFigure.program_id, func.sum(FundingFigure.amount_fen))
        .where(FundingFigure.program_id.in_(ids))
        .group_by(FundingFigure.program_id)
    )
    for pid, fen in funding:
        out[pid].committed_fen = int(fen or 0)
    return out
