"""Program feedback summaries and institution scorecards (R26), and who may read them."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.figures import (
    MISSING_BUDGET_EVENTS,
    SOURCES,
    Figures,
    program_figures,
    ratio,
)
from services.feedback.models import (
    Attendee,
    InstitutionProjection,
    ProgramProjection,
    Rating,
    TeacherProjection,
)
from services.feedback.policy import FeedbackPolicy
from services.feedback.scope import get_program, runs_program
from shared.auth import Principal, Role
from shared.errors import Forbidden, NotFound

# A program is in the plan once approved; these are the statuses that follow approval.
PLANNED = ("approved", "published", "enrolment_closed", "running", "finished")


def metrics(f: Figures) -> dict[str, Any]:
    """Ratios with the figures they come from (R26)."""
    return {
        "satisfaction": {
            "value": ratio(f.overall_sum, f.ratings, "0.01"),
            "ratings": f.ratings,
            "not_rated": f.not_rated,
            "by_dimension": {
                "overall": ratio(f.overall_sum, f.ratings, "0.01"),
                "format": ratio(f.format_sum, f.ratings, "0.01"),
                "instructors": ratio(f.instructors_sum, f.ratings, "0.01"),
                "management": ratio(f.management_sum, f.ratings, "0.01"),
            },
            "distribution": {str(k): v for k, v in sorted(f.overall_distribution.items())},
            "source": SOURCES["ratings"],
        },
        "pass_rate": {
            "value": ratio(f.passed, f.assessed),
            "passed": f.passed,
            "assessed": f.assessed,
            "assessments_overdue": f.assessments_overdue,
            "source": SOURCES["assessments"],
        },
        "participation_rate": {
            "value": ratio(f.completed, f.expected),
            "completed": f.completed,
            "expected": f.expected,
            "withdrawn": f.withdrawn,
            "source": SOURCES["participation"],
        },
        "plan_execution": {
            "value": ratio(f.programs_finished, f.programs_planned),
            "finished": f.programs_finished,
            "planned": f.programs_planned,
            "cancelled": f.programs_cancelled,
            "source": SOURCES["programs"],
        },
        "fund_use": {
            "committed_fen": f.committed_fen,
            "spent_fen": None,
            "budgeted_fen": None,
            "source": SOURCES["funding"],
            "missing": MISSING_BUDGET_EVENTS,
        },
    }


def _plan_counts(program: ProgramProjection) -> Figures:
    planned = program.status in PLANNED or (
        program.status == "cancelled" and program.approved_at is not None
    )
    return Figures(
        programs_planned=int(planned),
        programs_finished=int(program.status == "finished"),
        programs_cancelled=int(program.status == "cancelled" and planned),
    )


def local_year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


async def _ensure_teacher_rated(
    session: AsyncSession, principal: Principal, program: ProgramProjection
) -> None:
    """R17: a trainee sees a program's evaluation only after evaluating it."""
    attended = await session.scalar(
        select(Attendee.enrolment_id).where(
            Attendee.program_id == program.id, Attendee.teacher_id == principal.teacher_id
        )
    )
    if attended is None:
        raise Forbidden("You did not attend this program.", code="out-of-scope")
    rated = await session.scalar(
        select(Rating.id).where(
            Rating.program_id == program.id, Rating.teacher_id == principal.teacher_id
        )
    )
    if rated is None:
        raise Forbidden(
            "Rate the program first; its evaluation is shown after yours.", code="rate-first"
        )


async def _comments(
    session: AsyncSession, principal: Principal, policy: FeedbackPolicy, program_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Comments, with the writer's name only where the policy allows (R25: anonymous)."""
    named = principal.role is Role.BUREAU_ADMIN or (
        principal.role in (Role.INSTITUTION_ADMIN, Role.SCHOOL_ADMIN)
        and policy.ratings_named_to_institution
    )
    rows = (
        await session.execute(
            select(Rating, TeacherProjection.name)
            .outerjoin(TeacherProjection, TeacherProjection.id == Rating.teacher_id)
            .where(Rating.program_id == program_id, Rating.comments != "")
            .order_by(Rating.created_at)
        )
    ).all()
    out = []
    for rating, name in rows:
        item: dict[str, Any] = {"comments": rating.comments, "overall": rating.overall}
        if named:
            item["teacher_id"] = rating.teacher_id
            item["teacher_name"] = name
        out.append(item)
    return out


async def feedback_summary(
    session: AsyncSession,
    *,
    principal: Principal,
    policy: FeedbackPolicy,
    program_id: uuid.UUID,
) -> dict[str, Any]:
    program = await get_program(session, program_id)
    if principal.role is Role.TEACHER:
        await _ensure_teacher_rated(session, principal, program)
    elif not runs_program(principal, program):
        raise NotFound("No such program.", code="unknown-program")
    figures = (await program_figures(session, [program.id]))[program.id]
    summary = metrics(figures)
    del summary["plan_execution"]  # a property of a plan, not of one program
    return {
        "program_id": program.id,
        "title": program.title,
        "institution_id": program.institution_id,
        "status": program.status,
        "period": {"starts_on": program.starts_on, "ends_on": program.ends_on},
        "policy_version": policy.version,
        "anonymous": principal.role is not Role.BUREAU_ADMIN
        and not policy.ratings_named_to_institution,
        **summary,
        "comments": await _comments(session, principal, policy, program.id)
        if principal.role is not Role.TEACHER
        else [],
    }


async def institution_figures(
    session: AsyncSession, *, district_id: uuid.UUID, year: int
) -> dict[uuid.UUID, Figures]:
    """Figures per institution of the district, over programs ending in the year."""
    first, last = local_year_bounds(year)
    programs = (
        await session.scalars(
            select(ProgramProjection).where(
                ProgramProjection.district_id == district_id,
                ProgramProjection.institution_id.is_not(None),
                ProgramProjection.ends_on >= first,
                ProgramProjection.ends_on <= last,
            )
        )
    ).all()
    per_program = await program_figures(session, [p.id for p in programs])
    out: dict[uuid.UUID, Figures] = {}
    for program in programs:
        total = out.setdefault(program.institution_id, Figures())
        total += per_program[program.id]
        total += _plan_counts(program)
    return out


async def institution_scorecard(
    session: AsyncSession, *, principal: Principal, institution_id: uuid.UUID, year: int
) -> dict[str, Any]:
    institution = await session.get(InstitutionProjection, institution_id)
    allowed = (
        principal.role is Role.INSTITUTION_ADMIN and principal.institution_id == institution_id
    ) or (
        principal.role is Role.BUREAU_ADMIN
        and institution is not None
        and institution.district_id == principal.district_id
    )
    if not allowed:
        raise NotFound("No such institution.", code="unknown-institution")
    if institution is None:
        raise NotFound("No such institution.", code="unknown-institution")
    figures = (
        await institution_figures(session, district_id=institution.district_id, year=year)
    ).get(institution_id, Figures())
    first, last = local_year_bounds(year)
    return {
        "institution_id": institution.id,
        "name": institution.name,
        "period": {"year": year, "from": first, "to": last, "programs_by": "ends_on"},
        **metrics(figures),
    }


def score(policy: FeedbackPolicy, m: dict[str, Any]) -> Decimal | None:
    """R26: a weighted score from 0 to 100 of the metrics that have a value."""
    parts = {
        "satisfaction": m["satisfaction"]["value"],
        "pass_rate": m["pass_rate"]["value"],
        "participation_rate": m["participation_rate"]["value"],
    }
    if parts["satisfaction"] is not None:
        span = Decimal(policy.scale_max - policy.scale_min)
        parts["satisfaction"] = (parts["satisfaction"] - policy.scale_min) / span
    weights = {k: w for k, w in policy.ranking_weights.items() if parts.get(k) is not None}
    if not weights:
        return None
    total = sum(weights.values())
    value = sum(parts[k] * w for k, w in weights.items()) / total * 100
    return value.quantize(Decimal("0.1"))
