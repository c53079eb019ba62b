"""CSV and XLSX bodies from rows, for reports, exports and transcripts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

from shared.xlsx import cells

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_responses(*media_types: str) -> dict[int | str, dict]:
    """OpenAPI `responses` of an endpoint that answers in these formats (by Accept/format)."""
    return {200: {"content": {media: {} for media in media_types}, "description": "the file"}}


PDF = "application/pdf"


def pick_format(requested: str | None, accept: str | None, allowed: Sequence[str]) -> str:
    """The `format` query parameter wins; otherwise the Accept header; otherwise the first."""
    if requested:
        return requested
    accept = accept or ""
    for name, mime in (("csv", "text/csv"), ("xlsx", XLSX), ("pdf", PDF), ("json", "json")):
        if mime in accept and name in allowed:
            return name
    return allowed[0]


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    # The BOM lets spreadsheet programs on Chinese Windows read UTF-8 correctly.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    book = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.append(list(header))
        for row in rows:
            sheet.append(cells(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
