"""Reporting recognised hours up to the province in batches, and its acknowledgement."""

from __future__ import annotations

import csv
import io
import random
import uuid

from openpyxl import load_workbook

from tests.ledger.conftest import District
from tests.ledger.test_imports import upload
from tests.ledger.test_provincial_imports import gbk_csv, id_number, line, teacher_with_id


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


async def new_batch(district: District, status: int = 201) -> dict:
    response = await district.client.post("/v1/ledger/province/batches", headers=district.bureau())
    assert response.status_code == status, response.text
    return response.json()


async def batch_file(district: District, batch: dict, fmt: str = "csv") -> bytes:
    response = await district.client.get(
        f"/v1/ledger/province/batches/{batch['id']}/file",
        params={"format": fmt},
        headers=district.bureau(),
    )
    assert response.status_code == 200, response.text
    return response.content


async def acknowledge(district: District, batch: dict, rows: list[list[str]]) -> tuple[int, dict]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["记录编号", "结果", "原因"])
    writer.writerows(rows)
    response = await district.client.post(
        f"/v1/ledger/province/batches/{batch['id']}/acknowledgement",
        content=out.getvalue().encode("gbk"),
        headers=district.bureau() | {"Content-Type": "text/csv"},
    )
    return response.status_code, response.json()


async def test_batches_report_each_entry_once_and_the_acknowledgement_marks_rejections(
    district: District,
) -> None:
    rng = random.Random(21)
    number, other = id_number(rng), id_number(rng)
    teacher = await teacher_with_id(district, number, name="孙老师")
    colleague = await teacher_with_id(district, other, name="周老师")
    entries = [
        await district.recognise(teacher, hours="10.0", occurred_on="2026-03-01"),
        await district.recognise(
            teacher, hours="6.0", occurred_on="2026-04-01", mode="online", level="municipal"
        ),
        await district.recognise(colleague, hours="8.0", occurred_on="2026-05-01"),
    ]
    # Hours from the province are not sent back up.
    await upload(district, gbk_csv([line("P-1", number, hours="4.0")]))

    first = await new_batch(district)
    assert (first["number"], first["entries"], first["acknowledged_at"]) == (1, 3, None)
    lines = read_csv(await batch_file(district, first))
    assert lines[0][:3] == ["记录编号", "姓名", "身份证号"] and lines[0][-1] == "上报批次"
    by_record = {line[0]: dict(zip(lines[0], line, strict=True)) for line in lines[1:]}
    assert set(by_record) == {e["id"] for e in entries}
    mine = by_record[entries[1]["id"]]
    assert (mine["身份证号"], mine["姓名"], mine["培训形式"], mine["培训级别"]) == (
        number,
        "孙老师",
        "网络研修",
        "市级",
    )
    assert (mine["学时"], mine["培训日期"], mine["上报批次"]) == ("6.0", "2026-04-01", "000001")
    # The XLSX is the same batch, as a spreadsheet program opens it.
    sheet = load_workbook(io.BytesIO(await batch_file(district, first, "xlsx"))).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == lines[0] and len(cells) == 4
    await new_batch(district, status=422)  # nothing new to report

    later = await district.recognise(colleague, hours="2.0", occurred_on="2026-06-01")
    second = await new_batch(district)
    assert (second["number"], second["entries"]) == (2, 1)
    assert [line[0] for line in read_csv(await batch_file(district, second))[1:]] == [later["id"]]
    assert read_csv(await batch_file(district, first)) == lines  # downloadable again

    # An acknowledgement naming a record of another batch marks nothing.
    status, problem = await acknowledge(district, first, [[later["id"], "接收", ""]])
    assert status == 422 and problem["errors"][0]["row"] == 2
    assert "不在本批次中" in problem["errors"][0]["message"]
    status, body = await acknowledge(
        district,
        first,
        [
            [entries[0]["id"], "接收", ""],
            [entries[1]["id"], "退回", "培训级别与项目备案不符"],
            [entries[2]["id"], "退回", "身份证号与姓名不一致"],
        ],
    )
    assert status == 200, body
    assert (body["accepted"], body["rejected"]) == (1, 2)
    shown = await district.client.get(
        f"/v1/ledger/province/batches/{first['id']}", headers=district.bureau()
    )
    assert shown.json()["rejected"] == 2 and shown.json()["acknowledged_at"]

    # The teacher sees the rejection and its reason on their own record.
    own = await district.hours(teacher, 2026, headers=district.teacher(teacher))
    assert [(r["entry_id"], r["reason"]) for r in own["province_rejections"]] == [
        (entries[1]["id"], "培训级别与项目备案不符")
    ]
    # The school's report lists both of its teachers' rejections.
    report = await district.client.get(
        "/v1/reports/compliance", params={"year": 2026}, headers=district.school()
    )
    rejected = report.json()["province_rejections"]
    assert rejected["count"] == 2
    assert {r["reason"] for r in rejected["items"]} == {
        "培训级别与项目备案不符",
        "身份证号与姓名不一致",
    }
    other_school = await district.client.get(
        "/v1/reports/compliance",
        params={"year": 2026},
        headers=district.school(school_id=uuid.uuid4()),
    )
    assert other_school.json()["province_rejections"]["count"] == 0


async def test_a_reversal_of_a_reported_entry_goes_up_and_reported_hours_do_not_come_back(
    district: District,
) -> None:
    number = id_number(random.Random(22))
    teacher = await teacher_with_id(district, number)
    entry = await district.recognise(teacher, hours="10.0", occurred_on="2026-03-01")
    first = await new_batch(district)
    reversal = await district.client.post(
        f"/v1/ledger/entries/{entry['id']}/reversal",
        json={"reason": "重复登记"},
        headers=district.bureau(),
    )
    assert reversal.status_code == 201
    second = await new_batch(district)
    lines = read_csv(await batch_file(district, second))
    assert [(line[0], line[lines[0].index("学时")]) for line in lines[1:]] == [
        (reversal.json()["id"], "-10.0")
    ]
    # The province's own file holds what the district reported: those rows change nothing.
    sent = read_csv(await batch_file(district, first))
    back = io.StringIO()
    csv.writer(back).writerows(sent)
    job = await upload(district, back.getvalue().encode("gbk"))
    assert (job["posted"], job["duplicates"], job["failed"]) == (0, 1, 0)
    assert (await district.hours(teacher, 2026))["total_hours"] == "0.0"


async def test_discrepancies_say_what_the_province_lacks_per_teacher_and_year(
    district: District,
) -> None:
    rng = random.Random(23)
    number, other = id_number(rng), id_number(rng)
    teacher = await teacher_with_id(district, number)
    settled = await teacher_with_id(district, other)
    await upload(district, gbk_csv([line("Q-1", number, hours="4.0")]))
    accepted = await district.recognise(teacher, hours="10.0", occurred_on="2026-03-01")
    rejected = await district.recognise(teacher, hours="6.0", occurred_on="2026-03-02")
    fine = await district.recognise(settled, hours="5.0", occurred_on="2026-03-03")
    first = await new_batch(district)
    status, _ = await acknowledge(
        district,
        first,
        [
            [accepted["id"], "接收", ""],
            [rejected["id"], "退回", "无结业证书"],
            [fine["id"], "接收", ""],
        ],
    )
    assert status == 200
    await district.recognise(teacher, hours="3.0", occurred_on="2026-04-01")
    await new_batch(district)  # sent, not answered yet
    await district.recognise(teacher, hours="2.0", occurred_on="2026-05-01")  # not reported
    own = await district.client.get(
        f"/v1/teachers/{teacher}/province-discrepancies", headers=district.teacher(teacher)
    )
    assert own.status_code == 200, own.text
    [year] = own.json()
    assert {k: year[k] for k in year if k not in ("teacher_id", "name")} == {
        "year": 2026,
        "from_province": "4.0",
        "accepted": "10.0",
        "pending": "3.0",
        "rejected": "6.0",
        "not_reported": "2.0",
        "province_holds": "14.0",
        "ledger_holds": "25.0",
        "difference": "11.0",
    }
    report = await district.client.get(
        "/v1/reports/province-discrepancies", params={"year": 2026}, headers=district.school()
    )
    assert report.status_code == 200, report.text
    assert [line["teacher_id"] for line in report.json()["teachers"]] == [str(teacher)]
    stranger = await district.client.get(
        "/v1/reports/province-discrepancies",
        params={"year": 2026, "school_id": str(uuid.uuid4())},
        headers=district.school(),
    )
    assert stranger.status_code == 403
