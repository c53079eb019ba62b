"""HTTP of the reconciliation with the provincial platform (对账): a teacher's years, and a
school's or the district's teachers whose hours the province does not all hold."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.ledger import discrepancies
from services.ledger.compliance import scope_of
from services.ledger.summary import authorize_teacher, visible_to
from shared.deps import Caller, Session
from shared.errors import Forbidden

router = APIRouter(prefix="/v1", tags=["province"])


class DiscrepancyLine(BaseModel):
    teacher_id: uuid.UUID
    name: str
    year: int
    from_province: str
    accepted: str
    pending: str
    rejected: str
    not_reported: str
    province_holds: str
    ledger_holds: str
    difference: str


class DiscrepancyReport(BaseModel):
    district_id: uuid.UUID
    school_id: uuid.UUID | None
    year: int | None
    teachers: list[DiscrepancyLine]


@router.get("/teachers/{teacher_id}/province-discrepancies", response_model=list[DiscrepancyLine])
async def teacher_discrepancies(
    teacher_id: uuid.UUID,
    session: Session,
    caller: Caller,
    year: int | None = Query(None, ge=1990, le=2100, description="default every year"),
) -> list[dict]:
    """Per year: what the province holds of the teacher's hours (its own, and the district's
    it accepted) against the ledger, and why they differ (pending, rejected, not reported)."""
    teacher = await authorize_teacher(session, caller, teacher_id, "hours:read")
    if teacher is None:
        return []
    return await discrepancies.per_teacher_year(
        session,
        district_id=teacher.district_id,
        teacher_id=teacher_id,
        year=year,
        visible=visible_to(caller),
    )


@router.get("/reports/province-discrepancies", response_model=DiscrepancyReport)
async def report(
    session: Session,
    caller: Caller,
    year: int = Query(..., ge=1990, le=2100),
    school_id: uuid.UUID | None = Query(None, description="one school; default the district"),
    limit: int = Query(1000, ge=1, le=10_000),
) -> dict:
    """The teachers of a school (or the district) whose hours of the year the province does
    not all hold, with the gap; the bureau, a school admin for its school, a client with
    hours:read in its scope."""
    school_id = await scope_of(session, caller, school_id)
    if caller.district_id is None:
        raise Forbidden("This caller has no district.")
    lines = await discrepancies.per_teacher_year(
        session,
        district_id=caller.district_id,
        school_id=school_id,
        year=year,
        only_different=True,
        limit=limit,
    )
    return {
        "district_id": caller.district_id,
        "school_id": school_id,
        "year": year,
        "teachers": lines,
    }
