"""HTTP of the compliance report: JSON, CSV or XLSX."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import compliance, province_export
from services.ledger.policy import RULE_NAMES
from services.ledger.risk import today
from services.ledger.spreadsheets import (
    XLSX,
    csv_bytes,
    csv_part,
    file_responses,
    pick_format,
    xlsx_bytes,
)
from shared.auth import Principal
from shared.deps import Caller, Session
from shared.xlsx import CSV, ENCODING_HELP, CsvEncoding, csv_type, yes_no

router = APIRouter(prefix="/v1/reports", tags=["reports"])

TEACHER_HEADER = (
    "姓名",
    "年度学时",
    "周期累计学时",
    "集中培训学时",
    "自主选学学时",
    "区级及以上学时",
    "校本研修学时",
    "是否达标",
    "未达标项（尚差）",
    "教师ID",
    "学校ID",
)


def _hours(tenths_value: int) -> Decimal:
    return (Decimal(tenths_value) / 10).quantize(Decimal("0.1"))


def teacher_lines(rows: list[compliance.TeacherRow]) -> list[list[object]]:
    return [
        [
            r.name,
            _hours(r.totals.year_total),
            _hours(r.totals.cycle_total),
            _hours(r.totals.year_centralized),
            _hours(r.totals.year_self_selected),
            _hours(r.totals.year_district_level),
            _hours(r.totals.year_school_based),
            yes_no(not r.missing),
            "；".join(
                f"{RULE_NAMES.get(rule, rule)} {_hours(v):.1f}"
                for rule, v in sorted(r.missing.items())
            ),
            str(r.teacher_id),
            str(r.school_id),
        ]
        for r in rows
    ]


def summary_lines(body: dict) -> list[tuple[str, object]]:
    """The report's head figures, shares as numbers (0.8500 is 85 %)."""
    return [
        ("政策版本", body["policy"]["version"]),
        ("年度", body["year"]),
        ("教师人数", body["teachers"]),
        ("达标比例", Decimal(body["compliant_share"])),
        ("集中培训满 90 学时的教师比例（R14）", Decimal(body["r14"]["share"])),
        *(
            (f"{RULE_NAMES.get(r['rule'], r['rule'])}达标比例", Decimal(r["share"]))
            for r in body["rules"]
        ),
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
    encoding: CsvEncoding = Query("utf-8", description=ENCODING_HELP),
) -> Response:
    """Who meets the requirements of the year (R10-R15, R18): per-rule shares and per-school lines
    as JSON, or one line per teacher as CSV (UTF-8 streamed) or XLSX."""
    chosen = pick_format(format, accept, ("json", "csv", "xlsx"))
    if chosen == "csv" and encoding == "utf-8":
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
        return Response(
            xlsx_bytes(
                [
                    ("概况", ("项目", "数值"), summary_lines(body)),
                    ("教师学时", TEACHER_HEADER, teacher_lines(rows)),
                ]
            ),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(
        csv_bytes(TEACHER_HEADER, teacher_lines(rows), encoding=encoding),
        media_type=csv_type(encoding),
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
