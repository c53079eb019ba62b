"""HTTP of attendance, rosters and participation (R5)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.enrolment import attendance
from services.enrolment.schemas import AttendanceCreate, ParticipationRead, RosterEntry
from shared.deps import Caller, Idem, Session

router = APIRouter(prefix="/v1", tags=["attendance"])


@router.post("/programs/{program_id}/attendance", status_code=201)
async def record_attendance(
    program_id: uuid.UUID, body: AttendanceCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """One session's attendance; sending the same session again corrects it."""
    if replay := await idem.replay():
        return replay
    count = await attendance.record(session, principal=caller, program_id=program_id, data=body)
    return await idem.respond(
        201, {"program_id": str(program_id), "session_on": str(body.session_on), "recorded": count}
    )


@router.get("/programs/{program_id}/roster", response_model=list[RosterEntry])
async def get_program_roster(
    program_id: uuid.UUID, session: Session, caller: Caller
) -> list[RosterEntry]:
    """The program's confirmed trainees and their attendance so far (institution, bureau)."""
    return await attendance.roster(session, principal=caller, program_id=program_id)


@router.get("/programs/{program_id}/participation", response_model=ParticipationRead)
async def get_program_participation(
    program_id: uuid.UUID, session: Session, caller: Caller
) -> ParticipationRead:
    """Per school: places allotted, taken and completed in the program (R3)."""
    return await attendance.participation(session, principal=caller, program_id=program_id)
