"""Transcripts: a PDF whose Chinese text reads back, and an XLSX of the same record."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pypdfium2 as pdfium
from openpyxl import load_workbook
from pypdf import PdfReader

from services.ledger import transcript
from shared.events.enrolment import DistrictNamed, SchoolRegistered
from tests.ledger.conftest import District


async def test_pdf_transcript_carries_correct_chinese_text(district: District) -> None:
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
    # Subsets of the Simplified Chinese faces, not the Taiwan (TC) or Japanese ones.
    assert any("NotoSerifSC" in str(f) for f in fonts) and any(
        "NotoSansSC" in str(f) for f in fonts
    )


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


NO_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_wrap_keeps_closing_punctuation_off_the_start_of_a_line() -> None:
    measure = len  # one unit a character: "（更正：重复登记）" wraps where we choose
    text = "小学数学骨干教师研修（更正：重复登记）"
    for width in range(2, len(text) + 1):
        lines = transcript.wrap(text, width, measure)
        assert "".join(lines) == text
        for line in lines[1:]:
            assert line[0] not in transcript.NO_LINE_START, (width, lines)
        for line in lines[:-1]:
            assert line[-1] not in transcript.NO_LINE_END, (width, lines)


async def test_transcript_to_hand_out_as_a_person_sees_it(
    district: District, tmp_path: Path
) -> None:
    """Names rather than ids, the policy by its title, the bureau, its seal and signatures,
    page numbers, in Simplified Chinese faces; rendered to PNG as a person would see it."""
    await district.apply(DistrictNamed(district_id=district.id, name="甘州区教育局"))
    await district.apply(
        SchoolRegistered(
            school_id=district.school_id,
            district_id=district.id,
            name="甘州区实验小学",
            stage="primary",
        )
    )
    published = await district.client.post(
        "/v1/policies",
        json={
            "effective_from": "2027-01-01",
            "name": "甘州区教师培训管理办法",
            "rules": {"annual_hours": "72.0"},
        },
        headers=district.bureau(),
    )
    assert published.status_code == 201, published.text
    teacher = await district.register(name="欧阳明")
    # Enough entries for a second page; one of these "）" falls at the column's edge.
    for day in range(1, 29):
        await district.recognise(
            teacher,
            hours="2.0",
            occurred_on=f"2027-03-{day:02d}",
            description="研" * day + "小学数学骨干教师高级研修班跟岗实践（区级）",
        )
    response = await district.client.get(
        f"/v1/teachers/{teacher}/transcript", params={"year": 2027}, headers=district.school()
    )
    assert response.status_code == 200, response.text
    pdf_file = tmp_path / "transcript.pdf"
    pdf_file.write_bytes(response.content)

    document = pdfium.PdfDocument(pdf_file)
    pages = len(document)
    assert pages >= 2
    texts = []
    for number, page in enumerate(document, start=1):
        image = page.render(scale=2).to_pil()
        image.save(tmp_path / f"transcript-{number}.png")
        # Ink on the page: not a blank render (a missing font draws nothing).
        assert image.convert("L").getextrema()[0] < 100
        texts.append(page.get_textpage().get_text_range())
    text = "\n".join(texts)
    for expected in (
        "欧阳明",
        "甘州区实验小学",
        "甘州区教师培训管理办法（第1版，2027年1月1日起施行）",
        "甘州区教育局",
        "（盖章）",
        "经办人（签字）",
        f"第 1 页 共 {pages} 页",
        f"第 {pages} 页 共 {pages} 页",
    ):
        assert expected in text, expected
    assert not NO_ID.search(text), "an id printed where a name belongs"
    assert "seeds-default" not in text
    for line in text.splitlines():
        assert line.strip() not in {"）", "，", "。", "："}, "closing punctuation alone on a line"
