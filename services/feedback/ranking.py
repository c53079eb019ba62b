"""The bureau's ranking of institutions per year (R26), as JSON or an XLSX workbook."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import InstitutionProjection
from services.feedback.policy import FeedbackPolicy
from services.feedback.scorecards import institution_figures, metrics, score
from shared.auth import Principal, Role
from shared.errors import Forbidden
from shared.xlsx import Yuan, xlsx_bytes


async def institution_ranking(
    session: AsyncSession, *, principal: Principal, policy: FeedbackPolicy, year: int
) -> dict[str, Any]:
    if principal.role is not Role.BUREAU_ADMIN or principal.district_id is None:
        raise Forbidden("The ranking of institutions is the bureau's.", code="bureau-only")
    figures = await institution_figures(session, district_id=principal.district_id, year=year)
    names = {
        i.id: i.name
        for i in (
            await session.scalars(
                select(InstitutionProjection).where(InstitutionProjection.id.in_(list(figures)))
            )
        ).all()
    }
    rows = []
    for institution_id, f in figures.items():
        m = metrics(f)
        rows.append(
            {
                "institution_id": institution_id,
                "name": names.get(institution_id, ""),
                "score": score(policy, m),
                "satisfaction": m["satisfaction"]["value"],
                "ratings": f.ratings,
                "pass_rate": m["pass_rate"]["value"],
                "participation_rate": m["participation_rate"]["value"],
                "plan_execution": m["plan_execution"]["value"],
                "programs_planned": f.programs_planned,
                "programs_finished": f.programs_finished,
                "assessments_overdue": f.assessments_overdue,
                "committed_fen": f.committed_fen,
            }
        )
    # Unscored institutions last; ties by name so the order is stable.
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), r["name"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return {
        "year": year,
        "district_id": principal.district_id,
        "policy_version": policy.version,
        "weights": policy.ranking_weights,
        "items": rows,
    }


COLUMNS = (
    ("rank", "排名"),
    ("name", "培训机构"),
    ("score", "综合得分"),
    ("satisfaction", "学员满意度"),
    ("ratings", "评价人数"),
    ("pass_rate", "合格率"),
    ("participation_rate", "参训率"),
    ("plan_execution", "计划执行率"),
    ("programs_planned", "计划项目数"),
    ("programs_finished", "完成项目数"),
    ("assessments_overdue", "逾期考核数"),
    ("committed_fen", "已承诺经费（元）"),
    ("institution_id", "机构ID"),
)


def ranking_xlsx(ranking: dict[str, Any]) -> bytes:
    rows = []
    for row in ranking["items"]:
        values = []
        for key, _ in COLUMNS:
            value = row[key]
            if key == "committed_fen":
                value = Yuan(value)  # 元 for people; the API keeps integer fen
            elif isinstance(value, uuid.UUID):
                value = str(value)
            elif value is not None and not isinstance(value, (int, str)):
                value = float(value)
            values.append(value)
        rows.append(values)
    title = f"{ranking['year']}年机构排名"
    return xlsx_bytes(
        [(title, [t for _, t in COLUMNS], rows)],
    )
