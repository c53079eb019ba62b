"""HTTP of roster imports: upload a file, then follow the job."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from services.enrolment import roster_import
from services.enrolment.models import RosterImport
from services.enrolment.roster_import import RosterImports
from services.enrolment.schemas import ImportMode, RosterImportRead
from shared.deps import Caller, Session
from shared.errors import BadRequest
from shared.idempotency import HEADER, MAX_KEY_LENGTH, Idempotency
from shared.worker import wake_after_commit

router = APIRouter(prefix="/v1", tags=["directory"])


@router.post("/teachers/imports", status_code=202, response_model=RosterImportRead)
async def import_roster(
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or XLSX")],
    request: Request,
    session: Session,
    caller: Caller,
    mode: Annotated[ImportMode, Form()] = ImportMode.ALL_OR_NOTHING,
    create_logins: Annotated[
        bool, Form(description="also make each teacher's login (with an activation code)")
    ] = False,
) -> JSONResponse:
    """Queue a roster file; 202 with the job to GET for progress and the per-row report.

    The same file uploaded again for the same scope and mode answers 200 with the first job.
    """
    content = await file.read()
    idem = _idempotency(request, session, caller, content, mode, create_logins)
    if replay := await idem.replay():
        return replay
    job, created = await roster_import.start_import(
        session,
        principal=caller,
        filename=file.filename or "roster",
        content=content,
        mode=mode,
        create_logins=create_logins,
    )
    if created:
        wake_after_commit(session, request.app.state.workers.get(RosterImports.name))
    return await idem.respond(202 if created else 200, RosterImportRead.model_validate(job))


@router.get("/teachers/imports/{import_id}", response_model=RosterImportRead)
async def get_import(import_id: uuid.UUID, session: Session, caller: Caller) -> RosterImport:
    return await roster_import.get_import(session, principal=caller, import_id=import_id)


def _idempotency(
    request: Request,
    session: Session,
    caller: Caller,
    content: bytes,
    mode: ImportMode,
    create_logins: bool,
) -> Idempotency:
    """Idempotency-Key for a multipart upload, whose raw body the form parser has consumed."""
    key = request.headers.get(HEADER)
    if key is not None and not 0 < len(key.strip()) <= MAX_KEY_LENGTH:
        raise BadRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.",
            code="bad-idempotency-key",
            params={"max_length": MAX_KEY_LENGTH},
        )
    digest = hashlib.sha256(
        f"{request.method} {request.url.path} {mode.value} {create_logins} ".encode()
    )
    digest.update(content)
    return Idempotency(
        key=key.strip() if key else None,
        fingerprint=digest.hexdigest(),
        principal=caller,
        session=session,
        table=request.app.state.idempotency_table,
    )
