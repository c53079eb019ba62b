"""HTTP of the enrolment reports (R8)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.enrolment import reports
from services.enrolment.models import Teacher
from services.enrolment.schemas import TrainingGap
from shared.deps import Caller, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1", tags=["reports"])


@router.get("/teachers/training-gaps", response_model=Page[TrainingGap])
async def training_gaps(
    session: Session, caller: Caller, paging: Paging, school_id: uuid.UUID | None = None
) -> dict:
    """R8: teachers with no district-level-or-above training completed in the last 3 years."""
    query = paginate(reports.training_gaps_query(caller, school_id), Teacher, paging)
    await reports.ensure_school_in_scope(session, caller, school_id)
    teachers = list((await session.scalars(query)).all())
    last = await reports.last_qualifying(session, [t.id for t in teachers])
    page = page_of(teachers, paging, _Rows)
    page["items"] = [
        TrainingGap(
            teacher_id=t.id, name=t.name, school_id=t.school_id, last_qualifying_on=last.get(t.id)
        )
        for t in teachers[: paging.limit]
    ]
    return page


class _Rows:
    """page_of's read step: keep the rows, the items are built above with their dates."""

    @staticmethod
    def model_validate(row: Teacher) -> Teacher:
        return row
