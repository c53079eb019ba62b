"""Transcripts: a PDF whose Chinese text reads back, and an XLSX of the same record."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from services.ledger import transcript
from tests.ledger.conftest import District


@pytest.mark.parametrize("font", ["first available", "bundled wheel"])
async def test_pdf_transcript_carries_correct_chinese_text(
    district: District, font: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if font == "bundled wheel":
        # What a fresh machine without Debian's CJK fonts renders with.
        monkeypatch.setattr(transcript, "FONT_CANDIDATES", transcript.FONT_CANDIDATES[-1:])
    teacher = await district.register(name="欧阳明")
    entry = await district.recognise(teacher, hours="24.0", description="小学数学骨干教师研修")
    await district.recognise(teacher, hours="6.0", description="录错的记录")
    await district.client.post(
        f"/v1/ledger/entries/{entry['id']}/reversal",
        json={"reason": "重复登记"},
        headers=district.bureau(),
    )
    response = await district.client.get(
        f"/v1/teachers/{teacher}/transcript",
        params={"year": 2027},
        headers=district.teacher(teacher),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in (
        "中小学教师继续教育学时登记表",
        "欧阳明",
        "小学数学骨干教师研修",
        "更正：重复登记",
        "集中面授",
        "区县级",
        "自主选学",
        "-24.0",
        "年度学时",
        "尚差 66.0",
    ):
        assert expected in text, expected
    fonts = {
        font["/BaseFont"] for page in reader.pages for font in page["/Resources"]["/Font"].values()
    }
    assert any("WenQuanYi" in str(f) or "+" in str(f) for f in fonts)


async def test_xlsx_transcript_and_scope(district: District) -> None:
    teacher = await district.register(name="司马光")
    await district.recognise(teacher, hours="12.5", description="网络研修")
    response = await district.client.get(
        f"/v1/teachers/{teacher}/transcript",
        params={"year": 2027},
        headers=district.school()
        | {"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    rows = list(book["学时登记"].iter_rows(min_row=2, values_only=True))
    assert [(r[3], r[8]) for r in rows] == [("网络研修", 12.5)]
    # The date is a date cell, the hours a number: a person sorts and sums them.
    assert isinstance(rows[0][0], dt.datetime) and isinstance(rows[0][9], (int, float))
    facts = dict(book["概况"].iter_rows(min_row=2, values_only=True))
    assert facts["姓名"] == "司马光"
    other = await district.register()
    refused = await district.client.get(
        f"/v1/teachers/{teacher}/transcript", headers=district.teacher(other)
    )
    assert refused.status_code == 403
