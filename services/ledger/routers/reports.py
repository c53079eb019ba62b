"""HTTP of the compliance report: JSON, CSV or XLSX."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response

from services.ledger import compliance
from services.ledger.policy import RULE_NAMES
from services.ledger.risk import today
from services.ledger.spreadsheets import (
    XLSX,
    csv_bytes,
    file_responses,
    pick_format,
    xlsx_bytes,
)
from shared.deps import Caller, Session
from shared.xlsx import ENCODING_HELP, CsvEncoding, csv_type, yes_no

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


@router.get("/compliance", responses=file_responses("application/json", "text/csv", XLSX))
async def compliance_report(
    session: Session,
    caller: Caller,
    year: int | None = Query(None, ge=1990, le=2100, description="default this year"),
    school_id: uuid.UUID | None = Query(None, description="one school; default the district"),
    format: Literal["json", "csv", "xlsx"] | None = Query(None, description="or by Accept"),
    shortfall_limit: int = Query(1000, ge=0, le=100_000),
    accept: str | None = Header(None),
    encoding: CsvEncoding = Query("utf-8", description=ENCODING_HELP),
) -> Response:
    body, per_teacher, policy = await compliance.report(
        session,
        principal=caller,
        year=year or today().year,
        school_id=school_id,
        shortfall_limit=shortfall_limit,
    )
    chosen = pick_format(format, accept, ("json", "csv", "xlsx"))
    if chosen == "json":
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
