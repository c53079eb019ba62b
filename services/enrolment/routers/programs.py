"""HTTP of programs and their lifecycle."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from services.enrolment import calendar, enrolments, programs, quotas
from services.enrolment.models import Enrolment, Program
from services.enrolment.schemas import (
    ProgramCreate,
    ProgramFinish,
    ProgramRead,
    ProgramUpdate,
    QuotaRead,
    QuotasPut,
    QuotasRead,
    StatusFilter,
)
from shared.deps import Caller, Idem, Paging, Session
from shared.errors import Unprocessable
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1", tags=["programs"])

Action = Literal[
    "submit", "approve", "reject", "publish", "close-enrolment", "start", "finish", "cancel"
]


@router.post("/programs", status_code=201, response_model=ProgramRead)
async def create_program(
    body: ProgramCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Plan a training program (a draft until it is submitted and approved)."""
    if replay := await idem.replay():
        return replay
    program = await programs.create_program(session, principal=caller, data=body)
    return await idem.respond(201, ProgramRead.model_validate(program))


@router.get("/programs", response_model=Page[ProgramRead])
async def list_programs(
    session: Session, caller: Caller, paging: Paging, status: StatusFilter = None
) -> dict:
    """The programs the caller may see; teachers see those open to them."""
    query = programs.programs_query(caller)
    if status:
        query = query.where(Program.status == status)
    rows = (await session.scalars(paginate(query, Program, paging))).all()
    return page_of(list(rows), paging, ProgramRead)


@router.get("/programs/{program_id}", response_model=ProgramRead)
async def get_program(program_id: uuid.UUID, session: Session, caller: Caller) -> Program:
    """One program."""
    return await programs.get_program(session, principal=caller, program_id=program_id)


@router.patch("/programs/{program_id}", response_model=ProgramRead)
async def update_program(
    program_id: uuid.UUID, body: ProgramUpdate, session: Session, caller: Caller
) -> Program:
    """Edit a draft; widen a published program's seats (the waitlist is offered them)."""
    return await programs.update_program(
        session, principal=caller, program_id=program_id, data=body
    )


@router.put("/programs/{program_id}/quotas", response_model=QuotasRead)
async def put_quotas(
    program_id: uuid.UUID, body: QuotasPut, session: Session, caller: Caller
) -> QuotasRead:
    """Allot the program's places among schools (R3); replaces the previous allotment."""
    rows = await quotas.set_quotas(
        session, principal=caller, program_id=program_id, items=body.quotas
    )
    return QuotasRead(program_id=program_id, quotas=[QuotaRead.model_validate(r) for r in rows])


@router.get("/programs/{program_id}/quotas", response_model=QuotasRead)
async def get_quotas(program_id: uuid.UUID, session: Session, caller: Caller) -> QuotasRead:
    """The program's places per school and how many each has used."""
    rows = await quotas.list_quotas(session, principal=caller, program_id=program_id)
    return QuotasRead(program_id=program_id, quotas=[QuotaRead.model_validate(r) for r in rows])


@router.post("/programs/{program_id}/{action}", response_model=ProgramRead)
async def act_on_program(
    program_id: uuid.UUID,
    action: Action,
    session: Session,
    caller: Caller,
    idem: Idem,
    body: ProgramFinish | None = Body(None),
) -> JSONResponse:
    """Move a program through its lifecycle; `finish` may carry per-trainee results."""
    if replay := await idem.replay():
        return replay
    if body and body.results and action != "finish":
        raise Unprocessable("Only finish carries trainee results.", code="unexpected-results")
    program = await calendar.act(session, principal=caller, program_id=program_id, action=action)
    for result in body.results if body else []:
        enrolment = await session.get(Enrolment, result.enrolment_id)
        if enrolment is None or enrolment.program_id != program.id:
            raise Unprocessable(
                f"Enrolment {result.enrolment_id} is not one of this program.",
                code="unknown-enrolment",
            )
        await enrolments.record_completion(
            session,
            principal=caller,
            enrolment=enrolment,
            program=program,
            attendance_rate=result.attendance_rate,
            passed=result.passed,
        )
    return await idem.respond(200, ProgramRead.model_validate(program))
