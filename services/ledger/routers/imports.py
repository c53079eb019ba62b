"""HTTP of provincial imports and the export in the same columns."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile as StarletteUploadFile

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
from shared.idempotency import fingerprint_of
from shared.pagination import Page, page_of, paginate
from shared.worker import wake_after_commit

router = APIRouter(prefix="/v1/ledger", tags=["imports"])


# The file as a multipart form's `file` (what generated clients and browsers send), or as
# the raw body; documented so that clients (and fuzzers) send one.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "the CSV (.csv) or XLSX (.xlsx) file",
                    }
                },
            }
        },
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
async def submit_ledger_import(
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
    """Upload a CSV (UTF-8 or GBK) or XLSX file, as a multipart form's `file` or as the body
    itself, in a province's columns (身份证号, 学时, 培训形式…) or the suite's own; rows are
    processed after it returns (follow GET /v1/ledger/imports/{id} until its status is done
    or failed). The same file again answers 200 with the first import."""
    content_type = request.headers.get("content-type", "text/csv")
    if content_type.startswith("multipart/form-data"):
        content, filename, content_type = await _form_file(request, filename)
        # The same file is the same request, whatever boundary the form was sent with.
        idem.fingerprint = fingerprint_of(request.method, request.url.path, "", content)
    else:
        content = await request.body()
    if replay := await idem.replay():
        return replay
    if content_type.startswith("text/csv"):
        fmt = "csv"
    elif content_type.startswith(XLSX):
        fmt = "xlsx"
    else:
        raise BadRequest("请以 text/csv 或 XLSX 文件作为请求体上传。", code="bad-file-type")
    job, created = await imports.submit(
        session,
        principal=caller,
        content=content,
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


async def _form_file(request: Request, filename: str) -> tuple[bytes, str, str]:
    """The form's `file`: its bytes, its name and its type (by the name when the part has
    none: browsers send .csv as application/vnd.ms-excel)."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, StarletteUploadFile):
        raise BadRequest("Send the file as the form field `file`.", code="bad-file-type")
    content = await upload.read()
    name = upload.filename or filename
    if name.lower().endswith(".xlsx"):
        return content, name, XLSX
    if name.lower().endswith(".csv"):
        return content, name, "text/csv"
    return content, name, upload.content_type or ""


@router.get("/imports", response_model=Page[ImportRead])
async def list_ledger_imports(session: Session, caller: Caller, paging: Paging) -> dict:
    """The provincial imports of the district, newest first."""
    query = paginate(imports.listing(caller), LedgerImport, paging)
    return page_of(list((await session.scalars(query)).all()), paging, ImportRead)


@router.get("/imports/{import_id}", response_model=ImportRead)
async def get_ledger_import(import_id: uuid.UUID, session: Session, caller: Caller) -> LedgerImport:
    """An import's status and progress: rows processed, posted, duplicates and refused."""
    return await imports.get(session, principal=caller, import_id=import_id)


@router.get(
    "/imports/{import_id}/errors", response_class=Response, responses=file_responses("text/csv")
)
async def get_ledger_import_errors(
    import_id: uuid.UUID, session: Session, caller: Caller
) -> Response:
    """The rows that were refused and why, as CSV."""
    await imports.get(session, principal=caller, import_id=import_id)
    rows = await imports.errors_of(session, import_id)
    return Response(
        csv_bytes(("row", "message"), rows),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )


@router.get("/export", response_class=Response, responses=file_responses("text/csv", XLSX))
async def export_entries(
    session: Session,
    caller: Caller,
    year: int | None = Query(None, ge=1990, le=2100),
    school_id: uuid.UUID | None = Query(None),
    format: Literal["csv", "xlsx"] | None = Query(None, description="or by Accept"),
    accept: str | None = Header(None),
) -> Response:
    """Standing entries (no reversals, nothing reversed) in the import's columns, as CSV or XLSX."""
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
