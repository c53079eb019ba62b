"""HTTP of enrolments."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from services.enrolment import enrolments, home
from services.enrolment.models import Enrolment
from services.enrolment.schemas import (
    EnrolmentComplete,
    EnrolmentCreate,
    EnrolmentDecision,
    EnrolmentRead,
    StatusFilter,
    TeacherEnrolmentItem,
)
from shared.deps import Caller, Idem, Paging, Session
from shared.pagination import Page, UpdatedSince, page_of, paginate

router = APIRouter(prefix="/v1", tags=["enrolments"])


@router.post("/programs/{program_id}/enrolments", status_code=201, response_model=EnrolmentRead)
async def enrol(
    program_id: uuid.UUID,
    body: EnrolmentCreate,
    session: Session,
    caller: Caller,
    idem: Idem,
) -> JSONResponse:
    """A teacher applies for a program, or a school recommends one of its teachers, within the
    window and quotas; the answer says whether the place is confirmed, offered or waitlisted."""
    # On PostgreSQL the request came here past services/enrolment/fast_lane.py, which ran
    # the rush already and handed over what only the general path does.
    if replay := await idem.replay():
        return replay
    enrolment = await enrolments.enrol(
        session, principal=caller, program_id=program_id, teacher_id=body.teacher_id
    )
    return await idem.respond(201, EnrolmentRead.model_validate(enrolment))


@router.get("/enrolments", response_model=Page[EnrolmentRead])
async def list_enrolments(
    session: Session,
    caller: Caller,
    paging: Paging,
    teacher_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    school_id: uuid.UUID | None = None,
    status: StatusFilter = None,
    updated_since: AwareDatetime | None = UpdatedSince,
) -> dict:
    """The enrolments the caller may see, by teacher, program, school or status."""
    query = enrolments.enrolments_query(caller)
    if updated_since:
        query = query.where(home.changed_since(updated_since))
    for column, value in (
        (Enrolment.teacher_id, teacher_id),
        (Enrolment.program_id, program_id),
        (Enrolment.school_id, school_id),
        (Enrolment.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    rows = (await session.scalars(paginate(query, Enrolment, paging))).all()
    return page_of(list(rows), paging, EnrolmentRead)


@router.get("/teachers/{teacher_id}/enrolments", response_model=Page[TeacherEnrolmentItem])
async def teacher_enrolments(
    teacher_id: uuid.UUID,
    session: Session,
    caller: Caller,
    paging: Paging,
    updated_since: AwareDatetime | None = UpdatedSince,
    ends_from: dt.date | None = Query(None, description="programs ending on or after this day"),
) -> dict:
    """A teacher's enrolments with their programs' title, dates and place (the home screen)."""
    query = enrolments.enrolments_query(caller).where(Enrolment.teacher_id == teacher_id)
    if updated_since:
        query = query.where(home.changed_since(updated_since))
    if ends_from:
        query = query.where(home.ending_from(ends_from))
    rows = list((await session.scalars(paginate(query, Enrolment, paging))).all())
    page = page_of(rows, paging, EnrolmentRead)
    page["items"] = await home.with_programs(session, rows[: paging.limit])
    return page


@router.get("/enrolments/{enrolment_id}", response_model=EnrolmentRead)
async def get_enrolment(enrolment_id: uuid.UUID, session: Session, caller: Caller) -> Enrolment:
    """One enrolment and its status."""
    enrolment, _ = await enrolments.get_enrolment(
        session, principal=caller, enrolment_id=enrolment_id
    )
    return enrolment


@router.post("/enrolments/{enrolment_id}/complete", response_model=EnrolmentRead)
async def complete_enrolment(
    enrolment_id: uuid.UUID, body: EnrolmentComplete, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Close a trainee's enrolment as passed or failed with the attendance rate; a pass credits the
    program's hours."""
    if replay := await idem.replay():
        return replay
    enrolment = await enrolments.complete(
        session,
        principal=caller,
        enrolment_id=enrolment_id,
        attendance_rate=body.attendance_rate,
        passed=body.passed,
    )
    return await idem.respond(200, EnrolmentRead.model_validate(enrolment))


@router.post("/enrolments/{enrolment_id}/{action}", response_model=EnrolmentRead)
async def act_on_enrolment(
    enrolment_id: uuid.UUID,
    action: Literal["recommend", "approve", "reject", "withdraw", "accept"],
    session: Session,
    caller: Caller,
    idem: Idem,
    body: EnrolmentDecision | None = Body(None),
) -> JSONResponse:
    """Selection steps (R2), withdrawal, and taking a seat offered from the waitlist."""
    if replay := await idem.replay():
        return replay
    enrolment = await enrolments.act(
        session,
        principal=caller,
        enrolment_id=enrolment_id,
        action=action,
        reason=body.reason if body else None,
    )
    return await idem.respond(200, EnrolmentRead.model_validate(enrolment))
