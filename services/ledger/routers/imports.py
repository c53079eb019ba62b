"""HTTP of provincial imports and the export in the same columns."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from services.ledger import export, imports
from services.ledger.models import LedgerImport
from services.ledger.schemas import ImportRead
from services.ledger.spreadsheets import (
    CSV,
    XLSX,
    csv_bytes,
    file_responses,
    pick_format,
    xlsx_bytes,
)
from shared.deps import Caller, Idem, Paging, Session
from shared.errors import BadRequest
from shared.pagination import Page, page_of, paginate
from shared.worker import wake_after_commit

router = APIRouter(prefix="/v1/ledger", tags=["imports"])


# The file is the body, read raw; documented so that clients (and fuzzers) send one.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        XLSX: {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post(
    "/imports",
    status_code=202,
    response_model=ImportRead,
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def submit(
    request: Request,
    session: Session,
    caller: Caller,
    idem: Idem,
    filename: str = Query("upload", max_length=200),
    mode: Literal["all_or_nothing", "valid_rows"] = Query(
        "valid_rows",
        description="all_or_nothing: nothing is written if any row is wrong; valid_rows: the "
        "good rows are written and the others reported",
    ),
    column_map: str | None = Query(
        None, max_length=40, description="a province's column map; default: found from the header"
    ),
) -> JSONResponse:
    """Upload a CSV (text/csv, UTF-8 or GBK) or XLSX file as the body, in a province's
    columns (身份证号, 学时, 培训形式…) or the suite's own; rows are processed after it
    returns (follow GET /v1/ledger/imports/{id} until its status is done or failed)."""
    if replay := await idem.replay():
        return replay
    content_type = request.headers.get("content-type", "text/csv")
    if content_type.startswith("text/csv"):
        fmt = "csv"
    elif content_type.startswith(XLSX):
        fmt = "xlsx"
    else:
        raise BadRequest("请以 text/csv 或 XLSX 文件作为请求体上传。", code="bad-file-type")
    job, created = await imports.submit(
        session,
        principal=caller,
        content=await request.body(),
        filename=filename,
        fmt=fmt,
        mode=mode,
        column_map=column_map,
    )
    if created:  # this process's worker starts on it at once; else a replica's finds it
        wake_after_commit(session, request.app.state.workers.get(imports.LedgerImports.name))
    response = await idem.respond(202 if created else 200, ImportRead.model_validate(job))
    response.headers["Location"] = f"/v1/ledger/imports/{job.id}"
    return response


@router.get("/imports", response_model=Page[ImportRead])
async def listing(session: Session, caller: Caller, paging: Paging) -> dict:
    query = paginate(imports.listing(caller), LedgerImport, paging)
    return page_of(list((await session.scalars(query)).all()), paging, ImportRead)


@router.get("/imports/{import_id}", response_model=ImportRead)
async def progress(import_id: uuid.UUID, session: Session, caller: Caller) -> LedgerImport:
    return await imports.get(session, principal=caller, import_id=import_id)


@router.get("/imports/{import_id}/errors", responses=file_responses("text/csv"))
async def errors(import_id: uuid.UUID, session: Session, caller: Caller) -> Response:
    """The rows that were refused and why, as CSV."""
    await imports.get(session, principal=caller, import_id=import_id)
    rows = await imports.errors_of(session, import_id)
    return Response(
        csv_bytes(("row", "message"), rows),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )


@router.get("/export", responses=file_responses("text/csv", XLSX))
async def export_entries(
    session: Session,
    caller: Caller,
    year: int | None = Query(None, ge=1990, le=2100),
    school_id: uuid.UUID | None = Query(None),
    format: Literal["csv", "xlsx"] | None = Query(None, description="or by Accept"),
    accept: str | None = Header(None),
) -> Response:
    rows = await export.standing_entries(session, principal=caller, year=year, school_id=school_id)
    if pick_format(format, accept, ("csv", "xlsx")) == "xlsx":
        return Response(
            xlsx_bytes([("entries", imports.COLUMNS, rows)]),
            media_type=XLSX,
            headers={"Content-Disposition": 'attachment; filename="ledger-entries.xlsx"'},
        )
    return Response(
        csv_bytes(imports.COLUMNS, rows),
        media_type=CSV,
        headers={"Content-Disposition": 'attachment; filename="ledger-entries.csv"'},
    )
