"""A teacher's transcript (学时登记表): the record taken to qualification re-registration.

PDF with an embedded CJK font (WenQuanYi Micro Hei from the Debian package
fonts-wqy-microhei when installed, else Noto Sans CJK from a pinned wheel, or any TTF/TTC
named by SHIXUN_LEDGER_TRANSCRIPT_FONT), and XLSX.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import cvttf_NotoSansCJK_Regular
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from services.ledger.models import LedgerEntry, TeacherProjection
from services.ledger.policy import RULE_NAMES
from services.ledger.schemas import HoursSummary
from services.ledger.spreadsheets import xlsx_bytes
from shared.errors import Unavailable

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    # Shipped by a pinned wheel, so a fresh machine with only Python still prints Chinese.
    Path(cvttf_NotoSansCJK_Regular.__file__).parent / "NotoSansCJKtc-Regular.otf",
)
MODES = {
    "centralized": "集中面授",
    "online": "网络研修",
    "blended": "混合式",
    "school_based": "校本研修",
    "degree": "学历提升",
}
LEVELS = {
    "national": "国家级",
    "provincial": "省级",
    "municipal": "市级",
    "district": "区县级",
    "school": "校级",
}
CATEGORIES = {"mandatory": "指令性", "self_selected": "自主选学"}
SOURCES = {
    "program_completion": "项目结业",
    "school_based": "校本认定",
    "degree_study": "学历进修",
    "manual_recognition": "人工认定",
    "provincial_import": "省平台",
    "reversal": "更正冲销",
}
RULES = RULE_NAMES
HEADER = ("日期", "学年", "学期", "培训内容", "形式", "级别", "类别", "来源", "学时", "学分")


def font_path(configured: Path | None) -> Path:
    for path in (configured, *FONT_CANDIDATES):
        if path is not None and path.is_file():
            return path
    raise Unavailable(
        "No CJK font is installed for transcripts; install fonts-wqy-microhei or set "
        "SHIXUN_LEDGER_TRANSCRIPT_FONT.",
        code="font-missing",
    )


def lines(entries: Sequence[LedgerEntry]) -> list[tuple[str, ...]]:
    return [
        (
            e.occurred_on.isoformat(),
            e.academic_year,
            f"第{e.term}学期" if e.term else "",
            e.description + (f"（更正：{e.reason}）" if e.reverses_id else ""),
            MODES.get(e.mode, e.mode),
            LEVELS.get(e.level, e.level),
            CATEGORIES.get(e.category, e.category),
            SOURCES.get(e.source, e.source),
            f"{e.hours:.1f}",
            f"{e.credits:.1f}",
        )
        for e in entries
    ]


def facts(
    teacher: TeacherProjection | None, summary: HoursSummary, printed: dt.date
) -> list[tuple[str, str]]:
    return [
        ("姓名", teacher.name if teacher else ""),
        ("教师编号", str(summary.teacher_id)),
        ("学校编号", str(teacher.school_id) if teacher else ""),
        (
            "考核周期",
            f"{summary.cycle.first_year}—{summary.cycle.last_year}年，"
            f"累计 {summary.cycle.hours:.1f} 学时",
        ),
        (f"{summary.year}年度", f"{summary.total_hours:.1f} 学时，{summary.credits:.1f} 学分"),
        ("要求依据", summary.policy_version),
        ("打印日期", printed.isoformat()),
    ]


def requirement_lines(summary: HoursSummary) -> list[tuple[str, str, str, str]]:
    unit = {"hours": "学时", "credits": "学分"}
    return [
        (
            RULES.get(r.rule, r.rule),
            f"{r.required:.1f} {unit.get(r.unit, r.unit)}",
            f"{r.achieved:.1f}",
            "达标" if r.met else f"尚差 {r.missing:.1f}",
        )
        for r in summary.requirements
    ]


def pdf(
    *,
    teacher: TeacherProjection | None,
    summary: HoursSummary,
    entries: Sequence[LedgerEntry],
    printed: dt.date,
    font: Path,
) -> bytes:
    doc = FPDF(orientation="L", format="A4")
    doc.set_auto_page_break(auto=True, margin=12)
    doc.add_font("cjk", "", str(font))
    doc.add_font("cjk", "B", str(font))  # table headings ask for bold; one weight serves
    doc.add_page()
    doc.set_font("cjk", size=16)
    doc.cell(0, 10, "中小学教师继续教育学时登记表", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_font("cjk", size=10)
    for label, value in facts(teacher, summary, printed):
        doc.cell(0, 6, f"{label}：{value}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.ln(2)
    with doc.table(col_widths=(40, 30, 30, 30), text_align="LEFT") as table:
        table.row(("要求", "标准", "已完成", "情况"))
        for line in requirement_lines(summary):
            table.row(line)
    doc.ln(4)
    doc.set_font("cjk", size=9)
    with doc.table(col_widths=(20, 20, 14, 70, 18, 14, 16, 18, 12, 12), text_align="LEFT") as table:
        table.row(HEADER)
        for line in lines(entries):
            table.row(line)
    return bytes(doc.output())


def xlsx(
    *,
    teacher: TeacherProjection | None,
    summary: HoursSummary,
    entries: Sequence[LedgerEntry],
    printed: dt.date,
) -> bytes:
    # The same lines as the PDF, with the date and the hours as cells a person can sort and sum.
    cells = [
        (e.occurred_on, *line[1:8], e.hours, e.credits)
        for e, line in zip(entries, lines(entries), strict=True)
    ]
    return xlsx_bytes(
        [
            ("学时登记", HEADER, cells),
            ("概况", ("项目", "内容"), facts(teacher, summary, printed)),
            ("达标情况", ("要求", "标准", "已完成", "情况"), requirement_lines(summary)),
        ]
    )
