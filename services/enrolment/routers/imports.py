"""HTTP of roster imports: upload a file, follow the job, download its error report; the
template shows the columns a file may have."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from services.enrolment import roster_import
from services.enrolment.roster_import import RosterImports
from services.enrolment.schemas import ImportMode, RosterImportRead
from shared import i18n
from shared.deps import Caller, Session
from shared.errors import BadRequest
from shared.idempotency import HEADER, MAX_KEY_LENGTH, Idempotency, KeyHeader
from shared.worker import wake_after_commit
from shared.xlsx import (
    ENCODING_HELP,
    XLSX,
    CsvEncoding,
    csv_bytes,
    csv_type,
    file_responses,
    pick_format,
    xlsx_bytes,
)

router = APIRouter(prefix="/v1", tags=["directory"])


@router.post("/teachers/imports", status_code=202, response_model=RosterImportRead)
async def import_roster(
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or XLSX")],
    request: Request,
    session: Session,
    caller: Caller,
    idempotency_key: KeyHeader = None,
    mode: Annotated[ImportMode, Form()] = ImportMode.ALL_OR_NOTHING,
    create_logins: Annotated[
        bool, Form(description="also make each teacher's login (with an activation code)")
    ] = False,
) -> JSONResponse:
    """Queue a roster file; 202 with the job to GET for progress and the per-row report.

    Columns the import does not read (序号, 性别, 职称, …) are ignored and listed in
    `warnings`. The same file uploaded again for the same scope and mode answers 200 with
    the first job.
    """
    content = await file.read()
    idem = _idempotency(request, session, caller, content, mode, create_logins, idempotency_key)
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
    return await idem.respond(202 if created else 200, roster_import.described(job, i18n.current()))


@router.get(
    "/teachers/imports/template",
    response_class=Response,
    responses=file_responses(XLSX, "text/csv"),
)
async def roster_template(
    caller: Caller,
    format: Literal["xlsx", "csv"] | None = Query(None, description="or by Accept"),
    accept: str | None = Header(None),
    encoding: CsvEncoding = Query("utf-8", description=ENCODING_HELP),
) -> Response:
    """An empty roster with the columns the import reads, and a sheet saying what each takes."""
    roster_import.ensure_importer(caller)
    header, notes = roster_import.template()
    if pick_format(format, accept, ("xlsx", "csv")) == "csv":
        return _file(
            csv_bytes(header, [], encoding=encoding), csv_type(encoding), "教师名单模板.csv"
        )
    book = xlsx_bytes([("教师名单", header, []), ("填写说明", ["列", "说明"], notes)])
    return _file(book, XLSX, "教师名单模板.xlsx")


@router.get("/teachers/imports/{import_id}", response_model=RosterImportRead)
async def get_roster_import(
    import_id: uuid.UUID, session: Session, caller: Caller
) -> RosterImportRead:
    """A roster import's progress and, when done, its per-row report."""
    job = await roster_import.get_import(session, principal=caller, import_id=import_id)
    return roster_import.described(job, i18n.current())


@router.get(
    "/teachers/imports/{import_id}/errors",
    response_class=Response,
    responses=file_responses(XLSX, "text/csv"),
)
async def get_roster_import_errors(
    import_id: uuid.UUID,
    session: Session,
    caller: Caller,
    format: Literal["xlsx", "csv"] | None = Query(None, description="or by Accept"),
    accept: str | None = Header(None),
    encoding: CsvEncoding = Query("utf-8", description=ENCODING_HELP),
) -> Response:
    """The refused rows as the file had them, each with every error of it: fix them in the
    sheet and upload it again (the added row and error columns are ignored then)."""
    job = await roster_import.get_import(session, principal=caller, import_id=import_id)
    header, rows = roster_import.error_report(job, i18n.current())
    if pick_format(format, accept, ("xlsx", "csv")) == "csv":
        content = csv_bytes(header, rows, encoding=encoding)
        return _file(content, csv_type(encoding), "导入错误报告.csv")
    return _file(xlsx_bytes([("错误报告", header, rows)]), XLSX, "导入错误报告.xlsx")


def _file(content: bytes, media_type: str, filename: str) -> Response:
    fallback = "roster." + filename.rsplit(".", 1)[-1]  # for clients without RFC 6266
    quoted = filename.encode().hex("%", 1).upper()
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{fallback}"; '
            f"filename*=UTF-8''%{quoted}"
        },
    )


def _idempotency(
    request: Request,
    session: Session,
    caller: Caller,
    content: bytes,
    mode: ImportMode,
    create_logins: bool,
    key: str | None,
) -> Idempotency:
    """Idempotency-Key for a multipart upload, whose raw body the form parser has consumed."""
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
