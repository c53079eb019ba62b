"""HTTP of leave and substitution requests (R4)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.enrolment import leave
from services.enrolment.models import LeaveRequest
from services.enrolment.schemas import LeaveDecision, LeaveRequestCreate, LeaveRequestRead
from shared.deps import Caller, Idem, Session

router = APIRouter(prefix="/v1", tags=["leave"])


@router.post(
    "/enrolments/{enrolment_id}/leave-requests", status_code=201, response_model=LeaveRequestRead
)
async def request_leave(
    enrolment_id: uuid.UUID, body: LeaveRequestCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Ask for leave from a confirmed enrolment, or for a substitute to go instead."""
    if replay := await idem.replay():
        return replay
    request = await leave.request_leave(
        session, principal=caller, enrolment_id=enrolment_id, data=body
    )
    return await idem.respond(201, LeaveRequestRead.model_validate(request))


@router.get("/leave-requests/{leave_id}", response_model=LeaveRequestRead)
async def get_leave_request(leave_id: uuid.UUID, session: Session, caller: Caller) -> LeaveRequest:
    """One leave request and its decision."""
    request, _ = await leave.get_leave(session, principal=caller, leave_id=leave_id)
    return request


@router.post("/leave-requests/{leave_id}/decisions", response_model=LeaveRequestRead)
async def decide_leave_request(
    leave_id: uuid.UUID, body: LeaveDecision, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """The school and the institution each decide; both approvals make it take effect."""
    if replay := await idem.replay():
        return replay
    request = await leave.decide(
        session, principal=caller, leave_id=leave_id, party=body.party, approve=body.approve
    )
    return await idem.respond(200, LeaveRequestRead.model_validate(request))
