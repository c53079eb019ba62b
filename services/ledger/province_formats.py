"""How provincial platforms lay out their hour files: column maps per province, as versioned data.

A map names each column the ledger reads (by every header a province uses for it), the words
a province writes for modes, levels, categories and degrees, and who a row is about: a
teacher's identity number (身份证号, matched by its keyed hash, never stored) or, in the suite's
own format, the teacher's id here. A file's map is found from its header; a province that
changes its layout gets a new version beside the old one, so files already taken stay
readable. The export writes the same columns, so what goes up can come back.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from dataclasses import dataclass, field
from functools import lru_cache

from services.ledger.policy import CATEGORIES, DEGREES, LEVELS, MODES

# gb18030 reads every GBK (and GB2312) file; a province's Windows tools write GBK.
ENCODINGS = ("utf-8-sig", "gb18030")

# Fields a row may carry. record_id, the key, hours, mode, level, category and occurred_on are
# needed by every map.
FIELD_NAMES = {
    "record_id": "记录编号",
    "id_number": "身份证号",
    "teacher_id": "教师ID",
    "name": "姓名",
    "description": "培训项目",
    "mode": "培训形式",
    "level": "培训级别",
    "category": "培训类别",
    "hours": "学时",
    "credits": "学分",
    "occurred_on": "培训日期",
    "institution": "培训机构",
    "certificate": "证书编号",
    "degree": "学历",
    "trainer": "是否培训者",
}

CHINESE_MODES = {
    "集中培训": "centralized",
    "集中面授": "centralized",
    "面授": "centralized",
    "集中": "centralized",
    "网络研修": "online",
    "网络培训": "online",
    "远程培训": "online",
    "远程": "online",
    "线上": "online",
    "混合式培训": "blended",
    "混合式": "blended",
    "线上线下混合": "blended",
    "校本研修": "school_based",
    "校本培训": "school_based",
    "校本": "school_based",
    "学历提升": "degree",
    "学历教育": "degree",
}
CHINESE_LEVELS = {
    "国家级": "national",
    "国培": "national",
    "省级": "provincial",
    "省培": "provincial",
    "市级": "municipal",
    "地市级": "municipal",
    "区级": "district",
    "县级": "district",
    "区县级": "district",
    "校级": "school",
    "校本": "school",
}
CHINESE_CATEGORIES = {
    "指令性": "mandatory",
    "必修": "mandatory",
    "自主选学": "self_selected",
    "选修": "self_selected",
}
CHINESE_DEGREES = {
    "无": "none",
    "中专": "secondary",
    "高中": "secondary",
    "大专": "associate",
    "专科": "associate",
    "本科": "bachelor",
    "硕士研究生": "master",
    "硕士": "master",
    "博士研究生": "doctor",
    "博士": "doctor",
}
YES_NO = {"": None, "是": True, "否": False, "1": True, "0": False, "true": True, "false": False}


@dataclass(frozen=True)
class ColumnMap:
    name: str  # "<province>/<version>", kept on each import
    title: str
    key: str  # "id_number" or "teacher_id"
    # header as written → field; the first header of a field is the one the export writes.
    headers: dict[str, str]
    modes: dict[str, str] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    degrees: dict[str, str] = field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        return (
            "record_id",
            self.key,
            "hours",
            "mode",
            "level",
            "category",
            "occurred_on",
        )

    def header_of(self, name: str) -> str:
        return next(h for h, f in self.headers.items() if f == name)

    def export_columns(self) -> list[str]:
        """Each field the export writes once, in the map's order."""
        seen: list[str] = []
        for name in self.headers.values():
            if name not in seen and name not in ("degree", "trainer", "batch"):
                seen.append(name)
        return seen


def _with_codes(words: dict[str, str], codes: tuple[str, ...]) -> dict[str, str]:
    """A province's words, and the suite's codes too (a file exported here, sent back)."""
    return words | {c: c for c in codes}


PROVINCE_GENERIC_1 = ColumnMap(
    name="province/1",
    title="省教师培训网络管理平台 学时记录（第1版）",
    key="id_number",
    headers={
        "记录编号": "record_id",
        "学时记录编号": "record_id",
        "姓名": "name",
        "身份证号": "id_number",
        "身份证号码": "id_number",
        "培训项目": "description",
        "项目名称": "description",
        "培训形式": "mode",
        "培训级别": "level",
        "培训类别": "category",
        "学时": "hours",
        "学分": "credits",
        "培训日期": "occurred_on",
        "结业日期": "occurred_on",
        "培训机构": "institution",
        "证书编号": "certificate",
        "学历": "degree",
        "是否培训者": "trainer",
        # Written by the export (province_export.py); read and left aside.
        "上报批次": "batch",
    },
    modes=_with_codes(CHINESE_MODES, MODES),
    levels=_with_codes(CHINESE_LEVELS, LEVELS),
    categories=_with_codes(CHINESE_CATEGORIES, CATEGORIES),
    degrees=_with_codes(CHINESE_DEGREES, DEGREES),
)

SHIXUN_1 = ColumnMap(
    name="shixun/1",
    title="shixun internal columns (teacher ids of this system)",
    key="teacher_id",
    headers={
        "record_id": "record_id",
        "teacher_id": "teacher_id",
        "hours": "hours",
        "mode": "mode",
        "level": "level",
        "category": "category",
        "occurred_on": "occurred_on",
        "description": "description",
        "degree": "degree",
        "trainer": "trainer",
    },
    modes=_with_codes(CHINESE_MODES, MODES),
    levels=_with_codes(CHINESE_LEVELS, LEVELS),
    categories=_with_codes(CHINESE_CATEGORIES, CATEGORIES),
    degrees=_with_codes(CHINESE_DEGREES, DEGREES),
)

# Newest first: a header is read with the first map that knows all its required columns.
MAPS: dict[str, ColumnMap] = {m.name: m for m in (PROVINCE_GENERIC_1, SHIXUN_1)}
DEFAULT_EXPORT = PROVINCE_GENERIC_1


class HeaderError(ValueError):
    """The header fits no map; the message says what is missing or unknown, in Chinese."""


def pick(header: list[str], wanted: str | None = None) -> tuple[ColumnMap, list[str | None]]:
    """The map a header is written in and each column's field (None: a column left aside)."""
    cleaned = [h.strip().lstrip("\ufeff") for h in header]
    candidates = [MAPS[wanted]] if wanted else list(MAPS.values())
    best: tuple[ColumnMap, list[str | None], list[str], list[str]] | None = None
    for column_map in candidates:
        fields = [column_map.headers.get(h) for h in cleaned]
        missing = [f for f in column_map.required if f not in fields]
        unknown = [h for h, f in zip(cleaned, fields, strict=True) if f is None and h]
        if not missing and not unknown:
            return column_map, fields
        score = (len(missing), len(unknown))
        if best is None or score < (len(best[2]), len(best[3])):
            best = (column_map, fields, missing, unknown)
    assert best is not None
    column_map, _, missing, unknown = best
    parts = []
    if missing:
        parts.append("缺少列：" + "、".join(FIELD_NAMES.get(f, f) for f in missing))
    if unknown:
        parts.append("无法识别的列：" + "、".join(unknown))
    raise HeaderError(
        f"表头与{column_map.title}不符，{'；'.join(parts)}。"
        f"可用的列：{'、'.join(dict.fromkeys(column_map.headers))}"
    )


_ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def normalise_id_number(text: str) -> str:
    """An 18-digit resident identity number (GB 11643) with a right check digit and birth
    date, upper-cased; ValueError otherwise."""
    number = text.strip().upper()
    if not _ID_NUMBER.match(number):
        raise ValueError("身份证号应为18位（最后一位可为X）")
    if _CHECK[sum(map(operator.mul, map(int, number[:17]), _WEIGHTS)) % 11] != number[17]:
        raise ValueError("身份证号校验位不正确")
    try:
        dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise ValueError("身份证号中的出生日期不存在") from exc
    return number


def with_check_digit(first17: str) -> str:
    """The full number for 17 digits (test data, the bench's files)."""
    return first17 + _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


@lru_cache(maxsize=8192)  # a file has a few hundred days, each on thousands of rows
def parse_date(text: str) -> dt.date:
    """2027-04-01, 2027/4/1, 2027.4.1, 2027年4月1日 or 20270401 (and an XLSX date)."""
    value = text.strip()[:19].split(" ")[0].split("T")[0]
    if len(value) == 8 and value.isdigit():
        value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
    match = _DATE.match(value)
    if match is None:
        raise ValueError(f"培训日期“{text.strip()}”不是日期")
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError as exc:
        raise ValueError(f"培训日期“{text.strip()}”不存在") from exc
