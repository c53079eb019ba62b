"""HTTP of budget execution and spot checks (R23), as JSON or XLSX."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.budget import reports
from services.budget.schemas import BudgetExecution
from shared.config import DISTRICT_TZ
from shared.db import utcnow
from shared.deps import Caller, Session
from shared.xlsx import XLSX

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/budget-execution",
    response_model=BudgetExecution,
    responses={200: {"content": {XLSX: {}}}},
)
async def budget_execution(
    request: Request,
    session: Session,
    caller: Caller,
    year: int | None = Query(None, ge=2000, le=2100, description="fiscal year; default this year"),
    school_id: uuid.UUID | None = None,
    threshold: Decimal | None = Query(
        None, ge=0, le=10, description="spot-check deviation share; default from policy"
    ),
    format: Literal["json", "xlsx"] | None = Query(None, description="or send Accept"),
) -> BudgetExecution | Response:
    """Budget execution of the district or a school for a fiscal year, as JSON or XLSX."""
    year = year or utcnow().astimezone(ZoneInfo(DISTRICT_TZ)).year
    report = await reports.budget_execution(
        session, principal=caller, year=year, school_id=school_id, threshold=threshold
    )
    if format == "xlsx" or (format is None and XLSX in request.headers.get("accept", "")):
        return Response(
            reports.to_xlsx(report),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="budget-execution-{year}.xlsx"'},
        )
    return report
