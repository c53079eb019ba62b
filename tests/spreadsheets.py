"""Spreadsheets for tests: an XLSX of many identical rows that compresses to almost nothing
(the shape of an XLSX bomb)."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

from openpyxl import Workbook


def _row(values: list[str]) -> str:
    cells = "".join(f'<c t="inlineStr"><is><t>{escape(v)}</t></is></c>' for v in values)
    return f"<row>{cells}</row>"


def xlsx_of_rows(header: list[str], row: list[str], count: int) -> bytes:
    """A valid workbook: the header, then `row` `count` times."""
    book = Workbook()
    book.active.append(header)
    plain = io.BytesIO()
    book.save(plain)
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{_row(header)}{_row(row) * count}</sheetData></worksheet>"
    ).encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(plain.getvalue())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            data = sheet if member.filename == "xl/worksheets/sheet1.xml" else source.read(member)
            target.writestr(member.filename, data, compresslevel=9)
    return out.getvalue()
