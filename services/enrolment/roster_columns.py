"""A roster file as a school office writes it: which of its columns the import reads, and
each row's cells turned into a teacher, with every mistake of the row told in the user's
own column names.

Columns are known by their Chinese or English names and the usual variants; any other
column (序号, 性别, 职称, …) is ignored and reported as such. Values are read as an office
writes them: 学段 小学/初中/…, dates as 2019/9/1, 2019年9月1日, 2010.09.01 or Excel
serials, identity numbers checked (GB 11643), the school by id or by name.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.enrolment.schemas import TeacherCreate
from shared import vocabulary
from shared.errors import validation_message
from shared.office_values import CellError, parse_date, parse_id_number, parse_mobile

# The import's fields and the headers they go by (compared without spaces, case folded).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "教师姓名", "name"),
    "school": ("学校", "学校名称", "学校id", "学校编号", "单位", "所在学校", "school", "school_id"),
    "stage": ("学段", "任教学段", "stage"),
    "subject": ("学科", "任教学科", "subject"),
    "hired_on": ("入职日期", "入职时间", "来校时间", "hired_on"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "证件号码", "id_number"),
    "mobile": ("手机号", "手机", "手机号码", "联系电话", "mobile"),
    "roles": ("角色", "岗位", "roles"),
}
REQUIRED = ("name", "stage", "subject")
# The template's header, the column's first name: what an export of the suite writes.
TEMPLATE = [words[0] for words in COLUMNS.values()]
_LIMITS = {"name": 100, "subject": 50}


def _fold(header: str) -> str:
    return re.sub(r"\s+", "", header).replace("（", "(").replace("）", ")").lower()


_BY_HEADER = {_fold(word): name for name, words in COLUMNS.items() for word in words}


@dataclass
class Header:
    """The file's header: the field of each column (None: ignored) and what was ignored."""

    titles: list[str]
    fields: list[str | None]
    ignored: list[str]

    def position(self, title: str | None) -> int:
        """Where a column stands in the file: a row's errors are told left to right."""
        return self.titles.index(title) if title in self.titles else len(self.titles)

    def column(self, name: str) -> str:
        """The user's own header of a field."""
        return self.titles[self.fields.index(name)] if name in self.fields else name


def read_header(titles: list[str]) -> tuple[Header, list[str]]:
    """The header, and the required fields it lacks (as the template names them)."""
    fields: list[str | None] = []
    ignored: list[str] = []
    for title in titles:
        name = _BY_HEADER.get(_fold(title))
        if name is not None and name in fields:
            name = None  # a second column of the same field: the first one counts
        if name is None and title.strip():
            ignored.append(title.strip())
        fields.append(name)
    missing = [COLUMNS[n][0] for n in REQUIRED if n not in fields]
    return Header(list(titles), fields, ignored), missing


@dataclass
class Cells:
    """One row's cells by field, and the row's errors (each naming the user's column)."""

    values: dict[str, str]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, header: Header, name: str, key: str, **params: Any) -> None:
        self.errors.append({"column": header.column(name), "code": key, "params": params})


def row_cells(header: Header, values: list[str]) -> dict[str, str]:
    return {f: v.strip() for f, v in zip(header.fields, values, strict=False) if f and v.strip()}


def parse_row(
    header: Header, cells: dict[str, str], *, school_id: uuid.UUID | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The row's teacher fields (the school as `school` text or `school_id`) and every
    error of it; the school's name is looked up later, with the district's schools."""
    row = Cells(cells)
    out: dict[str, Any] = {}
    for name in ("name", "subject"):
        text = cells.get(name, "")
        if not text:
            row.refuse(header, name, "required")
        elif len(text) > _LIMITS[name]:
            row.refuse(header, name, "too-long", max_length=_LIMITS[name])
        else:
            out[name] = text
    if stage := cells.get("stage"):
        code = vocabulary.lookup(vocabulary.STAGES, stage)
        if code is None:
            choices = vocabulary.choices(vocabulary.STAGES)
            row.refuse(header, "stage", "choice", value=stage, choices=choices)
        out["stage"] = code
    else:
        row.refuse(header, "stage", "required")
    for name, parse in (
        ("hired_on", parse_date),
        ("id_number", parse_id_number),
        ("mobile", parse_mobile),
    ):
        if text := cells.get(name):
            try:
                out[name] = parse(text)
            except CellError as exc:
                row.refuse(header, name, exc.key, **exc.params)
    if text := cells.get("roles"):
        roles = []
        for word in (w for w in re.split(r"[,;，；、/\s]+", text) if w):
            code = vocabulary.lookup(vocabulary.ROLES, word)
            if code is None:
                choices = vocabulary.choices(vocabulary.ROLES)
                row.refuse(header, "roles", "choice", value=word, choices=choices)
            roles.append(code)
        out["roles"] = roles
    school = cells.get("school")
    if school:
        out["school"] = school
    elif school_id is None:
        row.refuse(header, "school", "required")
    return out, row.errors


def school_key(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def validate(
    header: Header, fields: dict[str, Any], school_id: uuid.UUID
) -> tuple[TeacherCreate | None, list[dict[str, Any]]]:
    """The teacher the row describes, checked by the same schema as the API."""
    values = {k: v for k, v in fields.items() if k != "school" and v is not None}
    try:
        return TeacherCreate.model_validate({**values, "school_id": school_id}), []
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            name = "school" if name == "school_id" else name
            errors.append(
                {
                    "column": header.column(name),
                    "code": "invalid",
                    "params": {
                        "message_zh": validation_message({**err, "loc": ()}, "zh"),
                        "message_en": validation_message({**err, "loc": ()}, "en"),
                    },
                }
            )
        return None, errors
