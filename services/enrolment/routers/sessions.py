"""HTTP of sessions, check-in by QR code and the teacher's calendar feed."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from services.enrolment import sessions
from services.enrolment.models import ProgramSession
from services.enrolment.policy import POLICY
from services.enrolment.schemas import (
    CheckInCode,
    CheckInCreate,
    CheckInRead,
    SessionCreate,
    SessionRead,
)
from shared.db import utcnow
from shared.deps import Caller, Idem, Session

router = APIRouter(prefix="/v1", tags=["sessions"])


@router.post("/programs/{program_id}/sessions", status_code=201, response_model=SessionRead)
async def create_session(
    program_id: uuid.UUID, body: SessionCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """A session of the program (date, time, place or online link), by whoever runs it."""
    if replay := await idem.replay():
        return replay
    found = await sessions.create_session(
        session, principal=caller, program_id=program_id, data=body
    )
    return await idem.respond(201, SessionRead.model_validate(found))


@router.get("/programs/{program_id}/sessions", response_model=list[SessionRead])
async def list_sessions(
    program_id: uuid.UUID, session: Session, caller: Caller
) -> list[ProgramSession]:
    """A program's sessions (date, time, place or online link), in order."""
    return await sessions.list_sessions(session, principal=caller, program_id=program_id)


@router.get("/sessions/{session_id}/check-in-code", response_model=CheckInCode)
async def check_in_code(session_id: uuid.UUID, session: Session, caller: Caller) -> CheckInCode:
    """The code for the institution's screen to show as a QR code; ask again when it expires."""
    code, expires = await sessions.current_code(
        session, principal=caller, session_id=session_id, now=utcnow()
    )
    return CheckInCode(
        session_id=session_id,
        code=code,
        expires_at=expires,
        rotates_every=POLICY.check_in.code_seconds,
    )


@router.post("/sessions/{session_id}/check-ins", status_code=201, response_model=CheckInRead)
async def check_in(
    session_id: uuid.UUID, body: CheckInCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """The trainee's phone posts the scanned code; a second scan answers 200 with the first."""
    if replay := await idem.replay():
        return replay
    made, new = await sessions.check_in(
        session, principal=caller, session_id=session_id, code=body.code, now=utcnow()
    )
    return await idem.respond(201 if new else 200, CheckInRead.model_validate(made))


@router.get(
    "/teachers/{teacher_id}/sessions.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def teacher_calendar(teacher_id: uuid.UUID, session: Session, caller: Caller) -> Response:
    """The teacher's sessions as an iCalendar feed, for a phone's calendar app."""
    body = await sessions.teacher_calendar(session, principal=caller, teacher_id=teacher_id)
    return Response(body, media_type="text/calendar; charset=utf-8")
