"""Provincial imports: row validation, idempotent re-upload, progress, errors, export."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from openpyxl import Workbook

from services.ledger.imports import COLUMNS
from services.ledger.spreadsheets import XLSX
from tests.harness import wait_for
from tests.ledger.conftest import District


def csv_file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def row(record: str, teacher: uuid.UUID, hours: str = "12.0", **kw: str) -> list[str]:
    values = {
        "mode": "online",
        "level": "provincial",
        "category": "self_selected",
        "occurred_on": "2026-04-01",
        "description": "省平台网络研修",
    } | kw
    return [record, str(teacher), hours, *(values[c] for c in COLUMNS[3:])]


async def upload(district: District, content: bytes, content_type: str = "text/csv") -> dict:
    response = await district.client.post(
        "/v1/ledger/imports",
        params={"filename": "省平台导出.csv"},
        content=content,
        headers=district.bureau() | {"Content-Type": content_type},
    )
    assert response.status_code in (200, 202), response.text
    job = response.json()

    async def finished() -> dict | None:
        url = f"/v1/ledger/imports/{job['id']}"
        body = (await district.client.get(url, headers=district.bureau())).json()
        return body if body["status"] in ("done", "failed") else None

    return await wait_for(finished, timeout=30) | {"submitted_status": response.status_code}


async def test_rows_are_validated_and_posted_once(district: District) -> None:
    teacher = await district.register()
    stranger = uuid.uuid4()
    content = csv_file(
        [
            row("P-1", teacher),
            row("P-2", teacher, hours="8.5", mode="centralized", level="district"),
            row("P-2", teacher, hours="8.5"),  # the same record again, changed: the later wins
            row("P-3", teacher, hours="1.25"),
            row("P-4", stranger),
            row("P-5", teacher, mode="walking"),
            row("P-6", teacher, occurred_on="2026-02-30"),
        ]
    )
    job = await upload(district, content)
    assert job["submitted_status"] == 202
    assert job["status"] == "done" and job["processed_rows"] == 7
    assert (job["posted"], job["duplicates"], job["failed"]) == (2, 0, 4)
    assert (await district.hours(teacher, 2026))["total_hours"] == "20.5"
    errors = await district.client.get(
        f"/v1/ledger/imports/{job['id']}/errors", headers=district.bureau()
    )
    lines = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig"))))
    assert [line[0] for line in lines[1:]] == ["5", "6", "7", "8"]
    assert "最多一位小数" in lines[1][1] and "不是本区（县）登记的教师" in lines[2][1]
    assert "培训形式“walking”无法识别" in lines[3][1] and "不存在" in lines[4][1]
    again = await upload(district, content)
    assert again["submitted_status"] == 200 and again["id"] == job["id"]
    widened = await upload(district, csv_file([row("P-1", teacher), row("P-9", teacher)]))
    assert (widened["posted"], widened["duplicates"]) == (1, 1)
    assert (await district.hours(teacher, 2026))["total_hours"] == "32.5"


async def test_xlsx_upload_and_export_round_trip(district: District) -> None:
    teacher = await district.register()
    book = Workbook()
    sheet = book.active
    sheet.append([*COLUMNS, "degree"])
    sheet.append([*row("X-1", teacher, hours="16.0"), "bachelor"])
    buffer = io.BytesIO()
    book.save(buffer)
    job = await upload(district, buffer.getvalue(), XLSX)
    assert (job["posted"], job["failed"]) == (1, 0)
    await district.recognise(teacher, hours="4.0", occurred_on="2026-03-01")
    exported = await district.client.get(
        "/v1/ledger/export", params={"year": 2026}, headers=district.bureau()
    )
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0] == list(COLUMNS)
    assert sorted(line[2] for line in lines[1:]) == ["16.0", "4.0"]
    assert "X-1" in [line[0] for line in lines[1:]]
    # The export goes back in as a file of the same shape: nothing new is posted twice.
    back = await upload(district, exported.content)
    assert back["failed"] == 0 and back["posted"] == 1 and back["duplicates"] == 1


async def test_only_the_bureau_imports(district: District) -> None:
    response = await district.client.post(
        "/v1/ledger/imports",
        content=csv_file([]),
        headers=district.school() | {"Content-Type": "text/csv"},
    )
    assert response.status_code == 403
    bad = await district.client.post(
        "/v1/ledger/imports",
        content=b"a,b\n1,2\n",
        headers=district.bureau() | {"Content-Type": "text/csv"},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "bad-columns"
    assert "记录编号" in bad.json()["detail"]


async def test_xlsx_beyond_the_limits_is_refused_before_it_is_stored(
    district: District, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger reads uploads with the shared reader: too many rows or too much unpacked
    XLSX is a 413, a broken workbook a 422, and no import is queued."""
    from services.ledger import imports
    from shared.xlsx import SheetLimits
    from tests.spreadsheets import xlsx_of_rows

    monkeypatch.setattr(imports, "LIMITS", SheetLimits(max_rows=100, max_unpacked_bytes=200_000))
    teacher = await district.register()
    sample = row("B-1", teacher)

    async def send(content: bytes) -> tuple[int, str]:
        response = await district.client.post(
            "/v1/ledger/imports",
            content=content,
            headers=district.bureau() | {"Content-Type": XLSX},
        )
        return response.status_code, response.json()["type"].rsplit("/", 1)[1]

    assert await send(xlsx_of_rows(list(COLUMNS), sample, 101)) == (413, "import-too-many-rows")
    assert await send(xlsx_of_rows(list(COLUMNS), sample, 5_000)) == (413, "import-too-large")
    assert await send(b"PK\x03\x04 not a zip") == (422, "import-file")
    listed = await district.client.get("/v1/ledger/imports", headers=district.bureau())
    assert listed.json()["items"] == []
    job = await upload(district, xlsx_of_rows(list(COLUMNS), sample, 100), XLSX)
    assert (job["status"], job["posted"], job["duplicates"]) == ("done", 1, 99)


async def test_a_multipart_form_uploads_and_its_retry_replays(district: District) -> None:
    """The form's `file` (what browsers and generated clients send): its name and ending
    decide the format; a retry with the same key replays, whatever the form's boundary."""
    teacher = await district.register()
    content = csv_file([row(f"M-{uuid.uuid4().hex[:8]}", teacher)])
    bureau = district.bureau() | {"Idempotency-Key": uuid.uuid4().hex}  # one caller, one key
    answers = [
        await district.client.post(
            "/v1/ledger/imports",
            files={"file": ("省平台导出.csv", content, "application/vnd.ms-excel")},
            headers=bureau,
        )
        for _ in range(2)  # httpx draws a new boundary for each form
    ]
    first, retry = answers
    assert first.status_code == 202, first.text
    assert first.json()["filename"] == "省平台导出.csv" and first.json()["format"] == "csv"
    assert retry.status_code == 202 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    refused = await district.client.post(
        "/v1/ledger/imports",
        files={"upload": ("x.csv", content, "text/csv")},
        headers=district.bureau(),
    )
    assert refused.status_code == 400 and refused.json()["code"] == "bad-file-type"
