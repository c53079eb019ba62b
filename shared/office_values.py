"""Values as an office writes them in a spreadsheet: dates in the common Chinese forms and
Excel serials, identity numbers (GB 11643), mobile numbers. Each parser returns the value
or raises CellError with the key of a row message (shared/messages.py ROWS), so every
import tells a person the same thing for the same mistake.
"""

from __future__ import annotations

import datetime as dt
import re

# Excel's 1900 date system counts days from 1899-12-30 (its phantom 1900-02-29 included).
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_SERIAL = re.compile(r"^\d{4,5}(\.0+)?$")
_DATE = re.compile(
    r"^(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class CellError(ValueError):
    """A cell refused: `key` names the message (ROWS), `params` fill it."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def parse_date(text: str, *, today: dt.date | None = None) -> dt.date:
    """2008-09-01, 2008/9/1, 2010.09.01, 2019年9月1日, 20080901 or an Excel serial (39692)."""
    value = text.strip()
    if _SERIAL.match(value):
        serial = int(float(value))
        if not 1 <= serial <= 2_958_465:  # Excel's own range, up to 9999-12-31
            raise CellError("date", value=value)
        day = _EXCEL_EPOCH + dt.timedelta(days=serial)
    else:
        match = _DATE.match(value) or _COMPACT.match(value)
        if match is None:
            raise CellError("date", value=value)
        try:
            day = dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
        except ValueError as exc:  # 2月30日
            raise CellError("date-impossible", value=value) from exc
    if day > (today or dt.date.today()):
        raise CellError("date-future", value=value)
    return day


def check_digit(first17: str) -> str:
    """GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def parse_id_number(text: str) -> str:
    """An 18-character identity number whose check digit and birth date are right."""
    value = text.strip().upper().replace(" ", "")
    if re.fullmatch(r"\d(\.\d+)?E\+?\d+", value) or re.fullmatch(r"\d{15,18}\.0+", value):
        raise CellError("id-number-as-number")  # a spreadsheet turned it into a float
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise CellError("id-number-format")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise CellError("id-number-birth") from exc
    if born.year < 1900 or born > dt.date.today():
        raise CellError("id-number-birth")
    if check_digit(value[:17]) != value[17]:
        raise CellError("id-number-check")
    return value


def parse_mobile(text: str) -> str:
    value = re.sub(r"[\s-]", "", text.strip())
    value = value.removeprefix("+86").removesuffix(".0")
    if not _MOBILE.match(value):
        raise CellError("mobile", value=text)
    return value
