"""A school's teacher appraisal rounds (R28) as survey templates with a week schedule."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import AppraisalTemplate
from services.feedback.policy import DEFAULT_APPRAISAL_ROUNDS, TERM_WEEKS, AppraisalRound
from services.feedback.schemas import AppraisalTemplateCreate, AppraisalTemplateRead
from shared.auth import Principal, Role
from shared.errors import Forbidden, NotFound, Unprocessable

DEFAULT_ID = "default"


def check_rounds(rounds: list[AppraisalRound], term_weeks: int) -> None:
    """Rounds have distinct keys and lie inside the term, first week before last."""
    keys = [r.key for r in rounds]
    if len(set(keys)) != len(keys):
        raise Unprocessable("Each round needs its own key.", code="duplicate-round")
    for r in rounds:
        if not 1 <= r.first_week <= r.last_week <= term_weeks:
            raise Unprocessable(
                f"Round {r.key} must lie in weeks 1–{term_weeks}, first week not after the last.",
                code="round-outside-term",
                field=r.key,
            )


def schedule(rounds: list[AppraisalRound], term_starts_on: dt.date) -> list[dict]:
    """Dates of each round: week 1 starts on the first day of term."""
    return [
        {
            **asdict(r),
            "starts_on": term_starts_on + dt.timedelta(weeks=r.first_week - 1),
            "ends_on": term_starts_on + dt.timedelta(weeks=r.last_week, days=-1),
        }
        for r in sorted(rounds, key=lambda r: (r.first_week, r.last_week))
    ]


def default_template() -> AppraisalTemplateRead:
    return AppraisalTemplateRead(
        id=DEFAULT_ID,
        name="教师五次考评(种子方案)",
        school_id=None,
        district_id=None,
        term_weeks=TERM_WEEKS,
        rounds=[asdict(r) for r in DEFAULT_APPRAISAL_ROUNDS],
        created_at=None,
    )


async def create_template(
    session: AsyncSession, *, principal: Principal, body: AppraisalTemplateCreate
) -> AppraisalTemplate:
    """A school admin defines its school's rounds; the bureau a district-wide template."""
    if principal.role is Role.SCHOOL_ADMIN:
        school_id = principal.school_id
    elif principal.role is Role.BUREAU_ADMIN:
        school_id = None
    else:
        raise Forbidden("Schools and the bureau define appraisal templates.", code="forbidden")
    rounds = [AppraisalRound(**r.model_dump()) for r in body.rounds]
    check_rounds(rounds, body.term_weeks)
    template = AppraisalTemplate(
        district_id=principal.district_id,
        school_id=school_id,
        name=body.name,
        term_weeks=body.term_weeks,
        rounds=json.dumps([asdict(r) for r in rounds], ensure_ascii=False),
    )
    session.add(template)
    await session.flush()
    return template


def templates_query(principal: Principal):
    query = select(AppraisalTemplate).where(AppraisalTemplate.district_id == principal.district_id)
    match principal.role:
        case Role.SCHOOL_ADMIN:
            return query.where(
                or_(
                    AppraisalTemplate.school_id.is_(None),
                    AppraisalTemplate.school_id == principal.school_id,
                )
            )
        case Role.BUREAU_ADMIN:
            return query
    raise Forbidden("Appraisal templates are for schools and the bureau.", code="forbidden")


async def get_template(
    session: AsyncSession, *, principal: Principal, template_id: str
) -> AppraisalTemplateRead:
    if template_id == DEFAULT_ID:
        return default_template()
    try:
        key = uuid.UUID(template_id)
    except ValueError as exc:
        raise NotFound(
            "No such appraisal template.", message="not-found.appraisal-template"
        ) from exc
    template = await session.scalar(templates_query(principal).where(AppraisalTemplate.id == key))
    if template is None:
        raise NotFound("No such appraisal template.", message="not-found.appraisal-template")
    return AppraisalTemplateRead.model_validate(template)
