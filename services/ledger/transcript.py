"""A teacher's transcript (学时登记表): the record taken to qualification re-registration.

PDF in Noto Serif SC with Noto Sans SC headings (the Simplified Chinese faces, so "：" and
"，" sit low-left as on the mainland; OFL-1.1, from the pinned pylopdf-fonts-zh-cn wheel),
or the TTF/OTF named by SHIXUN_LEDGER_TRANSCRIPT_FONT; and XLSX.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pylopdf_fonts_zh_cn
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.models import (
    DistrictProjection,
    LedgerEntry,
    SchoolProjection,
    TeacherProjection,
)
from services.ledger.policy import RULE_NAMES
from services.ledger.schemas import HoursSummary
from services.ledger.spreadsheets import xlsx_bytes
from shared.errors import Unavailable

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


@dataclass(frozen=True)
class Fonts:
    body: Path  # 宋体-like serif for the text
    heading: Path  # 黑体-like sans for titles and table heads


def fonts(configured: Path | None) -> Fonts:
    if configured is not None:
        if not configured.is_file():
            raise Unavailable(
                f"成绩单字体文件不存在：{configured}（SHIXUN_LEDGER_TRANSCRIPT_FONT）。",
                code="font-missing",
            )
        return Fonts(body=configured, heading=configured)
    return Fonts(body=pylopdf_fonts_zh_cn.serif_path(), heading=pylopdf_fonts_zh_cn.sans_path())


@dataclass(frozen=True)
class Names:
    """Who the transcript is of and who issues it, by name (never an id)."""

    teacher: str
    school: str
    bureau: str


async def names_of(session: AsyncSession, teacher: TeacherProjection | None) -> Names:
    if teacher is None:
        return Names(teacher="", school="", bureau="")
    school = await session.get(SchoolProjection, teacher.school_id)
    district = await session.get(DistrictProjection, teacher.district_id)
    return Names(
        teacher=teacher.name,
        school=school.name if school else "",
        bureau=district.name if district else "",
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


def basis(summary: HoursSummary) -> str:
    policy = summary.policy
    return (
        f"{policy.name}（第{policy.number}版，"
        f"{policy.effective_from.year}年{policy.effective_from.month}月"
        f"{policy.effective_from.day}日起施行）"
    )


def facts(names: Names, summary: HoursSummary, printed: dt.date) -> list[tuple[str, str]]:
    return [
        ("姓名", names.teacher or "—"),
        ("学校", names.school or "—"),
        (
            "考核周期",
            f"{summary.cycle.first_year}—{summary.cycle.last_year}年，"
            f"累计 {summary.cycle.hours:.1f} 学时",
        ),
        (f"{summary.year}年度", f"{summary.total_hours:.1f} 学时，{summary.credits:.1f} 学分"),
        ("要求依据", basis(summary)),
        ("出具单位", names.bureau or "—"),
        ("打印日期", f"{printed.year}年{printed.month}月{printed.day}日"),
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


# Kinsoku (禁则): these never begin a line, and these never end one (GB/T 15834 practice).
NO_LINE_START = set("，。、；：？！）」』】〕》〉”’…—·%‰℃,.;:?!)]}")
NO_LINE_END = set("（「『【〔《〈“‘([{")


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Lines of `text` no wider than `width`, broken between any two characters (Chinese has
    no spaces) but never before closing or after opening punctuation: the character that
    would break the rule moves down with its neighbour."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for char in paragraph:
            if not line or measure(line + char) <= width:
                line += char
                continue
            head, tail = line, char
            # Pull characters down until the new line does not start with closing
            # punctuation and the old one does not end with opening punctuation.
            while len(head) > 1 and (tail[0] in NO_LINE_START or head[-1] in NO_LINE_END):
                head, tail = head[:-1], head[-1] + tail
            out.append(head)
            line = tail
        out.append(line)
    return out


class _Transcript(FPDF):
    """A4 landscape with the page number in the footer of every page."""

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("body", size=9)
        self.cell(0, 6, f"第 {self.page_no()} 页 共 {{nb}} 页", align="C")


CELL_PADDING = 1.0  # mm each side, fpdf2's table default
# The sans face marks the heads ("" = no bold: a bold face would be one more font to load).
_HEADINGS = FontFace(family="heading", emphasis="", fill_color=(238, 238, 238))


def _table(doc: FPDF, widths: Sequence[float], header: Sequence[str], rows) -> None:
    """A table whose cells are wrapped here, by the Chinese rules, before fpdf2 sees them."""
    total = doc.epw
    inner = [w / sum(widths) * total - 2 * CELL_PADDING - 0.5 for w in widths]
    with doc.table(
        col_widths=tuple(widths),
        text_align="LEFT",
        padding=CELL_PADDING,
        headings_style=_HEADINGS,
        line_height=doc.font_size * 1.5,
    ) as table:
        for line in (header, *rows):
            row = table.row()
            for value, width in zip(line, inner, strict=True):
                row.cell("\n".join(wrap(str(value), width, doc.get_string_width)))


def pdf(
    *,
    names: Names,
    summary: HoursSummary,
    entries: Sequence[LedgerEntry],
    printed: dt.date,
    fonts: Fonts,
) -> bytes:
    doc = _Transcript(orientation="L", format="A4")
    doc.set_margins(14, 12, 14)
    doc.set_auto_page_break(auto=True, margin=18)
    doc.add_font("body", "", str(fonts.body))
    doc.add_font("heading", "", str(fonts.heading))
    doc.add_page()
    doc.set_font("heading", size=18)
    doc.cell(0, 12, "中小学教师继续教育学时登记表", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_font("body", size=11)
    for label, value in facts(names, summary, printed):
        doc.multi_cell(
            0,
            6.5,
            "\n".join(wrap(f"{label}：{value}", doc.epw, doc.get_string_width)),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    doc.ln(3)
    doc.set_font("body", size=10)
    _table(doc, (40, 30, 30, 30), ("要求", "标准", "已完成", "情况"), requirement_lines(summary))
    doc.ln(4)
    doc.set_font("body", size=9)
    _table(doc, (20, 20, 14, 70, 18, 14, 16, 18, 12, 12), HEADER, lines(entries))
    _seal_and_signature(doc, names, printed)
    return bytes(doc.output())


def _seal_and_signature(doc: FPDF, names: Names, printed: dt.date) -> None:
    """Where the bureau stamps and the officers sign: kept together on one page."""
    if doc.get_y() + 64 > doc.page_break_trigger:
        doc.add_page()
    doc.ln(6)
    top = doc.get_y()
    doc.set_font("body", size=11)
    doc.cell(0, 7, "以上学时经审核属实，特此证明。", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.ln(4)
    doc.cell(120, 8, "经办人（签字）：________________", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.cell(120, 8, "审核人（签字）：________________", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    # The seal's place: a dashed circle the size of an official seal (42 mm), over the
    # issuing bureau's name and the date, as on any certificate a bureau stamps.
    centre_x, centre_y, radius = doc.w - doc.r_margin - 50, top + 22, 21
    doc.set_draw_color(170, 170, 170)
    doc.set_dash_pattern(dash=1.5, gap=1.5)
    doc.circle(x=centre_x, y=centre_y, radius=radius)
    doc.set_dash_pattern()
    doc.set_draw_color(0, 0, 0)
    doc.set_text_color(140, 140, 140)
    doc.set_font("body", size=10)
    doc.set_xy(centre_x - radius, centre_y - 3)
    doc.cell(2 * radius, 6, "（盖章）", align="C")
    doc.set_text_color(0, 0, 0)
    doc.set_font("body", size=11)
    doc.set_xy(centre_x - 45, centre_y + radius + 3)
    doc.cell(90, 7, f"出具单位：{names.bureau or '________________'}", align="C")
    doc.set_xy(centre_x - 45, centre_y + radius + 10)
    doc.cell(90, 7, f"{printed.year}年{printed.month}月{printed.day}日", align="C")


def xlsx(
    *,
    names: Names,
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
            ("概况", ("项目", "内容"), facts(names, summary, printed)),
            ("达标情况", ("要求", "标准", "已完成", "情况"), requirement_lines(summary)),
        ]
    )
