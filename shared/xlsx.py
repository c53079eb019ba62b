"""Spreadsheets in and out: the one reader of uploaded CSV/XLSX files and the one writer of
every CSV and XLSX the suite produces.

Reading: an XLSX is a zip, and 140 KB of it can unpack to a million rows. Its members'
sizes are checked before parsing (zipfile never inflates past a member's declared size, so
the declared sizes bound the work), it is parsed streaming (openpyxl read_only), in a worker
thread so the event loop keeps serving, and it stops at a row limit.

Writing: Chinese headers, bold and kept in view; money as `Yuan` (元, two decimals, a
number); dates, hours and counts as real cells; CSV with a BOM or in GBK. Text a person typed
may start with = + - @ (or a tab or CR), which a spreadsheet program runs as a formula
(`=HYPERLINK(...)`); such cells get a leading apostrophe (OWASP's advice), and the control
characters XLSX cannot hold are taken out.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import itertools
import re
import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from shared.errors import TooLarge, Unprocessable

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
PDF = "application/pdf"
MB = 1024 * 1024
SHANGHAI = ZoneInfo("Asia/Shanghai")


CsvEncoding = Literal["utf-8", "gbk"]
ENCODING_HELP = "CSV only: utf-8 (with a BOM, the default) or gbk for older spreadsheet programs"


def csv_type(encoding: str) -> str:
    return CSV if encoding == "utf-8" else "text/csv; charset=gb18030"


def file_responses(*media_types: str) -> dict[int | str, dict]:
    """OpenAPI `responses` of an endpoint that answers in these formats (by Accept/format),
    the default first; files are binary, so generated clients download them as bytes. The
    route takes `response_class=Response`, or FastAPI lists a JSON answer first."""
    return {
        200: {
            "description": "the file, in the format asked for (the first by default)",
            "content": {media: {"schema": _schema(media)} for media in media_types},
        }
    }


def _schema(media_type: str) -> dict[str, str]:
    if media_type == "application/json":
        return {"type": "object"}
    return {"type": "string", "format": "binary"}  # CSV too: bytes, a BOM or GBK kept


def pick_format(requested: str | None, accept: str | None, allowed: Sequence[str]) -> str:
    """The `format` query parameter wins; otherwise the Accept header; otherwise the first."""
    if requested:
        return requested
    accept = accept or ""
    for name, mime in (("csv", "text/csv"), ("xlsx", XLSX), ("pdf", PDF), ("json", "json")):
        if mime in accept and name in allowed:
            return name
    return allowed[0]


@dataclass(frozen=True)
class SheetLimits:
    """What one upload may hold: data rows (after the header) and the XLSX unpacked."""

    max_rows: int
    max_unpacked_bytes: int


def is_xlsx(content: bytes) -> bool:
    return content[:2] == b"PK"


def _check_zip(content: bytes, limits: SheetLimits) -> None:
    try:
        members = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise Unprocessable(
            "The file is not a readable XLSX workbook.",
            code="import-file",
        ) from exc
    unpacked = sum(m.file_size for m in members)
    if unpacked > limits.max_unpacked_bytes:
        raise TooLarge(
            f"The workbook unpacks to {unpacked // MB} MB, more than "
            f"{limits.max_unpacked_bytes // MB} MB; split it.",
            code="import-too-large",
            max_unpacked_bytes=limits.max_unpacked_bytes,
        )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _xlsx_rows(content: bytes) -> Iterator[list[str]]:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            for row in book.worksheets[0].iter_rows(values_only=True):
                yield [_text(v) for v in row]
        finally:
            book.close()
    except (Unprocessable, TooLarge):
        raise
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise Unprocessable(
            f"The XLSX file cannot be read ({type(exc).__name__}).",
            code="import-file",
        ) from exc


def _decode(content: bytes, encodings: Sequence[str]) -> str:
    for encoding in encodings:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Unprocessable(
        f"The file is not text in {' or '.join(encodings)}.",
        code="import-encoding",
    )


def iter_rows(
    content: bytes, limits: SheetLimits, *, encodings: Sequence[str] = ("utf-8-sig",)
) -> Iterator[list[str]]:
    """Rows as lists of text, the header first; an XLSX by its zip signature, else CSV.

    Blocking: call it in a worker thread (`read_all`, `read_chunks`)."""
    if is_xlsx(content):
        _check_zip(content, limits)
        rows: Iterator[list[str]] = _xlsx_rows(content)
    else:
        text = _decode(content, encodings)
        if "\x00" in text:  # no text of the suite holds NUL; PostgreSQL cannot store it
            raise Unprocessable(
                "The file holds NUL characters; is it UTF-16?",
                code="import-encoding",
            )
        rows = csv.reader(io.StringIO(text))
    for number, row in enumerate(rows):
        if number > limits.max_rows:  # number 0 is the header
            raise TooLarge(
                f"The file has more than {limits.max_rows} rows; split it.",
                code="import-too-many-rows",
                max_rows=limits.max_rows,
            )
        yield row


async def read_all(
    content: bytes, limits: SheetLimits, *, encodings: Sequence[str] = ("utf-8-sig",)
) -> list[list[str]]:
    """Every row, read off the event loop."""
    return await asyncio.to_thread(lambda: list(iter_rows(content, limits, encodings=encodings)))


async def read_chunks(
    content: bytes, limits: SheetLimits, size: int, *, encodings: Sequence[str] = ("utf-8-sig",)
) -> AsyncIterator[list[list[str]]]:
    """The rows in chunks of `size`, each read in a worker thread: a large file is never
    held whole, and the loop serves requests between chunks."""
    rows = iter_rows(content, limits, encodings=encodings)
    while chunk := await asyncio.to_thread(lambda: list(itertools.islice(rows, size))):
        yield chunk


# --- writing ---

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A signed number typed as text ("-4.0", a reversal's hours) is no formula; it stays as is.
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def safe_text(value: str) -> str:
    """Text that a spreadsheet shows as typed and never evaluates."""
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def cells(values: Iterable[Any]) -> list[Any]:
    """A row fit for a worksheet or CSV: text neutralised, numbers and dates as they are."""
    return [safe_text(v) if isinstance(v, str) else v for v in values]


@dataclass(frozen=True)
class Yuan:
    """Money for people: integer fen shown in 元 with two decimals, a number in a worksheet
    ("1234.50" in CSV). JSON keeps integer fen; only the files a person opens say 元."""

    fen: int

    @property
    def value(self) -> Decimal:
        return (Decimal(self.fen) / 100).quantize(Decimal("0.01"))


def yes_no(value: bool) -> str:
    return "是" if value else "否"


Sheet = tuple[str, Sequence[Any], Iterable[Sequence[Any]]]
_FORMATS = {Yuan: "#,##0.00", dt.date: "yyyy-mm-dd", dt.datetime: "yyyy-mm-dd hh:mm"}


def _csv_value(value: Any) -> Any:
    if isinstance(value, Yuan):
        return f"{value.value:.2f}"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(SHANGHAI)
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _csv_text(header: Sequence[Any] | None, rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    if header is not None:
        writer.writerow(cells(header))
    writer.writerows(cells(_csv_value(v) for v in row) for row in rows)
    return out.getvalue()


def csv_bytes(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], *, encoding: str = "utf-8"
) -> bytes:
    """A CSV as spreadsheet programs on Chinese Windows read it: UTF-8 with a BOM, or GBK
    (gb18030, its superset) when asked; text neutralised."""
    if encoding.lower() in ("gbk", "gb18030"):
        return _csv_text(header, rows).encode("gb18030")
    return csv_part(rows, header=header)


def csv_part(rows: Iterable[Sequence[Any]], *, header: Sequence[Any] | None = None) -> bytes:
    """One piece of a UTF-8 CSV sent in pieces (a streamed download); the piece with the
    header starts with the BOM, which lets spreadsheet programs on Chinese Windows read it."""
    bom = "\ufeff" if header is not None else ""
    return (bom + _csv_text(header, rows)).encode("utf-8")


def _width(value: Any) -> int:
    text = _csv_value(value.value if isinstance(value, Yuan) else value)
    text = f"{text:,.2f}" if isinstance(text, Decimal) else str(text)
    # A CJK character is as wide as two Latin ones.
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def _cell(sheet: Any, value: Any, *, bold: bool = False) -> Any:
    if isinstance(value, str):
        value = safe_text(value)
    number_format = None
    if isinstance(value, Yuan):
        value, number_format = value.value, _FORMATS[Yuan]
    elif isinstance(value, dt.datetime):
        number_format = _FORMATS[dt.datetime]
        if value.tzinfo is not None:  # XLSX holds no zone: a person reads Beijing time
            value = value.astimezone(SHANGHAI).replace(tzinfo=None)
    elif isinstance(value, dt.date):
        number_format = _FORMATS[dt.date]
    elif isinstance(value, Decimal) and value == value.quantize(Decimal("0.1")):
        number_format = "0.0"  # hours and credits, one place as everywhere
    if number_format is None and not bold:
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)
    return cell


def xlsx_bytes(sheets: Sequence[Sheet], *, freeze_header: bool = True) -> bytes:
    """A workbook of (title, header, rows) sheets, written streaming: a bold header that
    stays in view, columns as wide as their first rows need, money (Yuan), dates and
    numbers as real cells a person can sum and sort."""
    book = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        if freeze_header:
            sheet.freeze_panes = "A2"
        rows = iter(rows)
        first = list(itertools.islice(rows, 200))  # the widths are read off the first rows
        widths = [_width(h) for h in header]
        for row in first:
            for k, value in enumerate(row):
                if k < len(widths):
                    widths[k] = max(widths[k], _width(value))
        for k, width in enumerate(widths):
            sheet.column_dimensions[get_column_letter(k + 1)].width = min(max(width, 6), 60) + 2
        sheet.append([_cell(sheet, h, bold=True) for h in header])
        for row in itertools.chain(first, rows):
            sheet.append([_cell(sheet, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
