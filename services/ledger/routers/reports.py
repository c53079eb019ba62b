"""HTTP of the compliance report: JSON, CSV or XLSX."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import compliance, province_export
from services.ledger.risk import today
from services.ledger.spreadsheets import (
    CSV,
    XLSX,
    csv_bytes,
    csv_part,
    file_responses,
    pick_format,
    xlsx_bytes,
)
from shared.auth import Principal
from shared.deps import Caller, Session

router = APIRouter(prefix="/v1/reports", tags=["reports"])

TEACHER_HEADER = (
    "teacher_id",
    "school_id",
    "name",
    "year_hours",
    "cycle_hours",
    "centralized_hours",
    "self_selected_hours",
    "district_level_hours",
    "school_based_hours",
    "compliant",
    "missing",
)


def teacher_lines(rows: list[compliance.TeacherRow]) -> list[list[object]]:
    h = compliance.hours_text
    return [
        [
            str(r.teacher_id),
            str(r.school_id),
            r.name,
            h(r.totals.year_total),
            h(r.totals.cycle_total),
            h(r.totals.year_centralized),
            h(r.totals.year_self_selected),
            h(r.totals.year_district_level),
            h(r.totals.year_school_based),
            "yes" if not r.missing else "no",
            "; ".join(f"{rule} {h(v)}" for rule, v in sorted(r.missing.items())),
        ]
        for r in rows
    ]


@router.get(
    "/compliance",
    response_class=Response,
    responses=file_responses("application/json", "text/csv", XLSX),
)
async def compliance_report(
    request: Request,
    session: Session,
    caller: Caller,
    year: int | None = Query(None, ge=1990, le=2100, description="default this year"),
    school_id: uuid.UUID | None = Query(None, description="one school; default the district"),
    format: Literal["json", "csv", "xlsx"] | None = Query(None, description="or by Accept"),
    shortfall_limit: int = Query(1000, ge=0, le=100_000),
    accept: str | None = Header(None),
) -> Response:
    """Who meets the requirements of the year (R10-R15, R18): per-rule shares and per-school lines
    as JSON, or one line per teacher as CSV (streamed) or XLSX."""
    chosen = pick_format(format, accept, ("json", "csv", "xlsx"))
    if chosen == "csv":
        return await _streamed_csv(request, session, caller, year or today().year, school_id)
    body, per_teacher, policy = await compliance.report(
        session,
        principal=caller,
        year=year or today().year,
        school_id=school_id,
        shortfall_limit=shortfall_limit,
    )
    if chosen == "json":
        rejected = await province_export.rejections(
            session,
            district_id=uuid.UUID(body["district_id"]),
            school_id=uuid.UUID(body["school_id"]) if body["school_id"] else None,
            limit=shortfall_limit,
        )
        body["province_rejections"] = {"count": len(rejected), "items": rejected}
        return JSONResponse(body)
    rows = await compliance.teacher_rows(
        session, policy=policy, query=per_teacher, year=body["year"]
    )
    name = f"compliance-{body['year']}"
    if chosen == "xlsx":
        summary = [
            ("policy", body["policy"]["version"]),
            ("year", body["year"]),
            ("teachers", body["teachers"]),
            ("compliant_share", body["compliant_share"]),
            ("r14_share", body["r14"]["share"]),
            *((f"{r['rule']} share", r["share"]) for r in body["rules"]),
        ]
        return Response(
            xlsx_bytes(
                [
                    ("summary", ("item", "value"), summary),
                    ("teachers", TEACHER_HEADER, teacher_lines(rows)),
                ]
            ),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(
        csv_bytes(TEACHER_HEADER, teacher_lines(rows)),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


async def _streamed_csv(
    request: Request,
    session: AsyncSession,
    caller: Principal,
    year: int,
    school_id: uuid.UUID | None,
) -> StreamingResponse:
    """A line per teacher, sent as it is read (a province's 1.2 M teachers in bounded
    memory), from a session of its own: the request's is done before the body is sent."""
    query, policy = await compliance.per_teacher(
        session, principal=caller, year=year, school_id=school_id
    )
    database = request.app.state.database

    async def pieces() -> AsyncIterator[bytes]:
        yield csv_part([], header=TEACHER_HEADER)
        async with database.sessions() as own:
            async for rows in compliance.stream_teacher_rows(
                own, policy=policy, query=query, year=year
            ):
                yield csv_part(teacher_lines(rows))

    return StreamingResponse(
        pieces(),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="compliance-{year}.csv"'},
    )
