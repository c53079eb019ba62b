"""HTTP of the exchange with the provincial platform: batches of hours reported up, their
files (downloadable again) and the province's acknowledgements."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from services.ledger import province_export
from services.ledger.models import ProvincialBatch
from services.ledger.spreadsheets import (
    CSV,
    XLSX,
    csv_bytes,
    file_responses,
    pick_format,
    xlsx_bytes,
)
from shared.deps import Caller, Idem, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1/ledger/province", tags=["province"])


class BatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    district_id: uuid.UUID
    number: int
    entries: int
    accepted: int
    rejected: int
    created_by: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    acknowledged_at: dt.datetime | None


class AcknowledgementRead(BaseModel):
    batch_id: uuid.UUID
    accepted: int
    rejected: int


ACK_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        XLSX: {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post("/batches", status_code=201, response_model=BatchRead)
async def create_batch(session: Session, caller: Caller, idem: Idem) -> JSONResponse:
    """A batch of every recognised entry of the district not reported yet (and reversals of
    reported ones); 422 when there is nothing to report."""
    if replay := await idem.replay():
        return replay
    batch = await province_export.create_batch(session, principal=caller)
    response = await idem.respond(201, BatchRead.model_validate(batch))
    response.headers["Location"] = f"/v1/ledger/province/batches/{batch.id}"
    return response


@router.get("/batches", response_model=Page[BatchRead])
async def list_batches(session: Session, caller: Caller, paging: Paging) -> dict:
    """The district's batches of hours reported to the province, newest first."""
    query = paginate(province_export.batches(caller), ProvincialBatch, paging)
    return page_of(list((await session.scalars(query)).all()), paging, BatchRead)


@router.get("/batches/{batch_id}", response_model=BatchRead)
async def get_batch(batch_id: uuid.UUID, session: Session, caller: Caller) -> ProvincialBatch:
    """One batch reported to the province: its entries and what the province answered."""
    return await province_export.get_batch(session, principal=caller, batch_id=batch_id)


@router.get(
    "/batches/{batch_id}/file",
    response_class=Response,
    responses=file_responses("text/csv", XLSX),
)
async def batch_file(
    batch_id: uuid.UUID,
    session: Session,
    caller: Caller,
    format: Literal["csv", "xlsx"] | None = Query(None, description="or by Accept"),
    accept: str | None = Header(None),
) -> Response:
    """The batch in the province's columns (身份证号 in full: the province keys by it), the
    same every time it is downloaded."""
    batch = await province_export.get_batch(session, principal=caller, batch_id=batch_id)
    rows = await province_export.batch_rows(session, batch)
    name = f"province-batch-{province_export.batch_name(batch)}"
    header = province_export.header()
    if pick_format(format, accept, ("csv", "xlsx")) == "xlsx":
        body, media, name = xlsx_bytes([("学时上报", header, rows)]), XLSX, f"{name}.xlsx"
    else:
        body, media, name = csv_bytes(header, rows), CSV, f"{name}.csv"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/batches/{batch_id}/acknowledgement",
    response_model=AcknowledgementRead,
    openapi_extra={"requestBody": ACK_BODY},
)
async def acknowledge(
    batch_id: uuid.UUID, request: Request, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """The province's answer as the body (CSV or XLSX: 记录编号, 结果 接收/退回, 原因): each
    record of the batch marked accepted or rejected with the reason. A row that names a
    record of another batch or an unknown result is a 422 listing the rows; nothing is
    marked then. Sending it again sets the same marks."""
    if replay := await idem.replay():
        return replay
    result = await province_export.acknowledge(
        session, principal=caller, batch_id=batch_id, content=await request.body()
    )
    return await idem.respond(200, AcknowledgementRead.model_validate(result))
