"""HTTP of program summaries, institution scorecards and the ranking (R26)."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from services.feedback.deps import Now, Policy
from services.feedback.ranking import institution_ranking, ranking_xlsx
from services.feedback.schemas import FeedbackSummary, InstitutionRanking, InstitutionScorecard
from services.feedback.scorecards import feedback_summary, institution_scorecard
from shared.config import DISTRICT_TZ
from shared.deps import Caller, Session
from shared.xlsx import XLSX

router = APIRouter(prefix="/v1", tags=["scorecards"])
YEAR = Query(None, ge=1990, le=2100, description="calendar year of the programs' end; default now")


@router.get("/programs/{program_id}/feedback-summary", response_model=FeedbackSummary)
async def program_feedback_summary(
    program_id: uuid.UUID, session: Session, caller: Caller, policy: Policy
) -> dict:
    """What trainees said of a program: ratings per question and their averages."""
    return await feedback_summary(session, principal=caller, policy=policy, program_id=program_id)


@router.get(
    "/institutions/{institution_id}/scorecard",
    response_model=InstitutionScorecard,
    response_model_by_alias=True,
)
async def get_institution_scorecard(
    institution_id: uuid.UUID, session: Session, caller: Caller, now: Now, year: int | None = YEAR
) -> dict:
    """A training institution's scorecard: its programs' ratings, assessments and completion."""
    year = year or now.astimezone(ZoneInfo(DISTRICT_TZ)).year
    return await institution_scorecard(
        session, principal=caller, institution_id=institution_id, year=year
    )


@router.get(
    "/reports/institution-ranking",
    response_model=InstitutionRanking,
    responses={200: {"content": {XLSX: {}}}},
)
async def rank_institutions(
    request: Request,
    session: Session,
    caller: Caller,
    policy: Policy,
    now: Now,
    year: int | None = YEAR,
) -> Response:
    """The bureau's ranking; `Accept: <xlsx>` gives a workbook to export."""
    year = year or now.astimezone(ZoneInfo(DISTRICT_TZ)).year
    result = await institution_ranking(session, principal=caller, policy=policy, year=year)
    if XLSX in request.headers.get("accept", ""):
        return Response(
            ranking_xlsx(result),
            media_type=XLSX,
            headers={
                "Content-Disposition": f'attachment; filename="institution-ranking-{year}.xlsx"'
            },
        )
    return JSONResponse(jsonable_encoder(InstitutionRanking.model_validate(result)))
