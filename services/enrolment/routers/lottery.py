"""HTTP of lottery draws: the published inputs and result, as JSON, CSV or XLSX."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Header, Query, Response

from services.enrolment import lottery
from services.enrolment.schemas import DrawEntryRead, DrawRead
from shared.deps import Caller, Session
from shared.xlsx import XLSX, csv_bytes, xlsx_bytes

router = APIRouter(prefix="/v1", tags=["programs"])
CSV = "text/csv; charset=utf-8"


@router.get(
    "/programs/{program_id}/draw",
    response_model=DrawRead,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
async def get_draw(
    program_id: uuid.UUID,
    session: Session,
    caller: Caller,
    format: Literal["json", "csv", "xlsx"] | None = Query(None, description="or by Accept"),
    accept: str | None = Header(None),
) -> Response | DrawRead:
    """A lottery program's draw, for whoever sees the program: seed, algorithm, tiers and
    every applicant's tier, ticket, rank and outcome, enough to recompute it
    (docs/lottery_recompute.py)."""
    found, entries = await lottery.get_draw(session, principal=caller, program_id=program_id)
    wanted = format or (
        "xlsx" if XLSX in (accept or "") else "csv" if "text/csv" in (accept or "") else "json"
    )
    if wanted == "json":
        return DrawRead(
            **{k: getattr(found, k) for k in DrawRead.model_fields if k != "entries"},
            entries=[DrawEntryRead.model_validate(e) for e in entries],
        )
    rows = [
        [v if isinstance(v, int) else str(v) for v in (getattr(e, c) for c in lottery.CSV_COLUMNS)]
        for e in entries
    ]
    name = f"draw-{program_id}"
    if wanted == "xlsx":
        inputs = [
            ("program_id", str(found.program_id)),
            ("seed", found.seed),
            ("algorithm", found.algorithm),
            ("policy", found.policy),
            ("tiers", ",".join(found.tiers)),
            ("capacity", found.capacity),
            ("drawn_at", found.drawn_at.isoformat()),
        ]
        body = xlsx_bytes(
            [("draw", lottery.CSV_COLUMNS, rows), ("inputs", ("name", "value"), inputs)],
            freeze_header=True,
        )
        return Response(
            body,
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(
        csv_bytes(lottery.CSV_COLUMNS, rows),
        media_type=CSV,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            # The seed travels with the file so the CSV alone recomputes the draw.
            "X-Lottery-Seed": found.seed,
        },
    )
