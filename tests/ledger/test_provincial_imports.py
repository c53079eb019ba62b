"""The provincial platform's files: Chinese headers and values, rows keyed by 身份证号, GBK or
UTF-8, CSV or XLSX, corrections (R16), both modes, Chinese row errors, never a 500."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import random
import uuid

from openpyxl import Workbook

from services.ledger.province_formats import with_check_digit
from shared import pii
from shared.events.enrolment import KeyedIdNumber, TeacherIdNumbersKeyed
from tests.harness import Suite, wait_for
from tests.ledger.conftest import District
from tests.ledger.test_imports import upload

HEADER = [
    "记录编号",
    "姓名",
    "身份证号",
    "培训项目",
    "培训形式",
    "培训级别",
    "培训类别",
    "学时",
    "学分",
    "培训日期",
    "培训机构",
    "证书编号",
]


def id_number(rng: random.Random) -> str:
    birth = dt.date(1970, 1, 1) + dt.timedelta(days=rng.randrange(12_000))
    return with_check_digit(
        f"{rng.randrange(110000, 659999)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    )


async def teacher_with_id(district: District, number: str, name: str = "王老师") -> uuid.UUID:
    """A teacher of the district, and enrolment's event telling the ledger their number's hash."""
    teacher = await district.register(name=name)
    await district.apply(
        TeacherIdNumbersKeyed(
            teachers=[
                KeyedIdNumber(
                    teacher_id=teacher,
                    district_id=district.id,
                    id_number_hash=pii.lookup_hash(number),
                    id_number_encrypted=pii.encrypt(number),
                )
            ]
        )
    )
    return teacher


def line(record: str, number: str, hours: str = "12.0", **kw: str) -> list[str]:
    values = {
        "姓名": "王老师",
        "培训项目": "2026年省级骨干教师网络研修",
        "培训形式": "网络研修",
        "培训级别": "省级",
        "培训类别": "自主选学",
        "学分": "1.2",
        "培训日期": "2026-04-01",
        "培训机构": "省教师发展中心",
        "证书编号": f"ZS{record}",
    } | kw
    return [record, values["姓名"], number, *(values[h] for h in HEADER[3:7]), hours] + [
        values[h] for h in HEADER[8:]
    ]


def gbk_csv(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("gbk")


async def errors_of(district: District, job: dict) -> dict[int, str]:
    response = await district.client.get(
        f"/v1/ledger/imports/{job['id']}/errors", headers=district.bureau()
    )
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    return {int(n): message for n, message in lines[1:]}


async def test_a_gbk_file_of_1000_rows_imports_once_and_another_district_keeps_its_own(
    suite: Suite,
) -> None:
    rng = random.Random(14)
    north = District(suite=suite, id=uuid.uuid4(), school_id=uuid.uuid4())
    south = District(suite=suite, id=uuid.uuid4(), school_id=uuid.uuid4())
    people = {d.id: [id_number(rng) for _ in range(40)] for d in (north, south)}
    teachers = {d.id: [await teacher_with_id(d, n) for n in people[d.id]] for d in (north, south)}
    rows = [
        line(f"SX2026{n:06d}", people[north.id][n % 40], hours="2.5", 培训日期="2026-03-15")
        for n in range(1000)
    ]
    content = gbk_csv(rows)
    job = await upload(north, content)
    assert job["submitted_status"] == 202 and job["column_map"] == "province/1"
    assert (job["status"], job["total_rows"], job["processed_rows"]) == ("done", 1000, 1000)
    assert (job["posted"], job["duplicates"], job["failed"]) == (1000, 0, 0)
    # 25 rows of 2.5 h for each of the 40 teachers.
    first = await north.hours(teachers[north.id][0], 2026)
    assert first["total_hours"] == "62.5"
    assert first["by_mode"]["online"] == "62.5"
    again = await upload(north, content)
    assert again["submitted_status"] == 200 and again["id"] == job["id"]
    overlapping = gbk_csv(
        [*rows[900:], line("SX2026-NEW", people[north.id][0], hours="3.0", 培训日期="2026-03-15")]
    )
    more = await upload(north, overlapping)
    assert (more["posted"], more["duplicates"], more["corrected"]) == (1, 100, 0)
    assert (await north.hours(teachers[north.id][0], 2026))["total_hours"] == "65.5"
    # The same record ids in another district are that district's own records.
    theirs = [line(r[0], people[south.id][n % 40], hours="1.0") for n, r in enumerate(rows)]
    south_job = await upload(south, gbk_csv(theirs))
    assert (south_job["posted"], south_job["duplicates"]) == (1000, 0)
    assert (await south.hours(teachers[south.id][0], 2026))["total_hours"] == "25.0"
    assert (await north.hours(teachers[north.id][0], 2026))["total_hours"] == "65.5"


async def test_r16_a_corrected_record_is_a_reversal_and_a_new_entry(district: District) -> None:
    number = id_number(random.Random(16))
    teacher = await teacher_with_id(district, number)
    await upload(district, gbk_csv([line("C-1", number, hours="12.0")]))
    fixed = await upload(
        district, gbk_csv([line("C-1", number, hours="10.0", 培训形式="集中培训")])
    )
    assert (fixed["posted"], fixed["corrected"], fixed["duplicates"]) == (1, 1, 0)
    summary = await district.hours(teacher, 2026)
    assert summary["total_hours"] == "10.0" and summary["by_mode"].get("online", "0.0") == "0.0"
    entries = (
        await district.client.get(f"/v1/teachers/{teacher}/ledger", headers=district.bureau())
    ).json()["items"]
    by_ref = {e["source_ref"]: e for e in entries if e["source"] == "provincial_import"}
    assert set(by_ref) == {"C-1", "C-1#2"}
    reversal = next(e for e in entries if e["source"] == "reversal")
    assert reversal["reverses_id"] == by_ref["C-1"]["id"] and reversal["hours"] == "-12.0"
    assert "省平台更正" in reversal["reason"]
    # The corrected file again changes nothing.
    same = await upload(district, gbk_csv([line("C-1", number, hours="10.0", 培训形式="集中培训")]))
    assert same["submitted_status"] == 200
    resent = await upload(
        district, gbk_csv([line("C-1", number, hours="10.0", 培训形式="集中培训")]) + b"\r\n"
    )
    assert (resent["posted"], resent["corrected"], resent["duplicates"]) == (0, 0, 1)


async def test_bad_rows_get_chinese_errors_all_or_nothing_writes_none(district: District) -> None:
    rng = random.Random(3)
    number, unknown = id_number(rng), id_number(rng)
    teacher = await teacher_with_id(district, number)
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    rows = [
        line("E-1", number),
        line("E-2", number[:17] + ("0" if number[17] != "0" else "1")),  # check digit
        line("E-3", unknown, 姓名="赵六"),
        line("E-4", number, hours="-4.0"),
        line("E-5", number, hours="1.25"),
        line("E-6", number, 培训日期=tomorrow),
        line("E-7", number, 培训形式="散步"),
        line("E-8", number, 培训级别="宇宙级"),
        line("E-9", number, hours="3.0", 培训日期="2026年5月4日"),
    ]
    content = gbk_csv(rows)
    response = await district.client.post(
        "/v1/ledger/imports",
        params={"mode": "all_or_nothing"},
        content=content,
        headers=district.bureau() | {"Content-Type": "text/csv"},
    )
    assert response.status_code == 202, response.text

    async def finished() -> dict | None:
        body = (
            await district.client.get(
                f"/v1/ledger/imports/{response.json()['id']}", headers=district.bureau()
            )
        ).json()
        return body if body["status"] in ("done", "failed") else None

    job = await wait_for(finished, timeout=30)
    assert (job["status"], job["posted"], job["failed"], job["mode"]) == (
        "failed",
        0,
        7,
        "all_or_nothing",
    )
    assert (await district.hours(teacher, 2026))["total_hours"] == "0.0"
    errors = await errors_of(district, job)
    assert "校验位" in errors[3]
    assert "不是本区（县）登记的教师" in errors[4] and "赵六" in errors[4]
    assert unknown not in errors[4]  # masked, never the whole number
    assert "应大于0" in errors[5] and "最多一位小数" in errors[6] and "晚于今天" in errors[7]
    assert "培训形式“散步”无法识别" in errors[8] and "培训级别“宇宙级”" in errors[9]
    # The same file with valid rows only: the two good rows are written.
    job = await upload(district, content + b"")  # default mode: valid_rows
    response = await district.client.post(
        "/v1/ledger/imports",
        params={"mode": "valid_rows"},
        content=content,
        headers=district.bureau() | {"Content-Type": "text/csv"},
    )
    assert response.status_code == 200 and response.json()["id"] == job["id"]
    assert (job["status"], job["posted"], job["failed"]) == ("done", 2, 7)
    assert (await district.hours(teacher, 2026))["total_hours"] == "15.0"


async def test_headers_and_encodings_are_refused_in_chinese_never_a_500(
    district: District,
) -> None:
    number = id_number(random.Random(5))
    await teacher_with_id(district, number)

    async def send(content: bytes, content_type: str = "text/csv") -> tuple[int, dict]:
        response = await district.client.post(
            "/v1/ledger/imports",
            content=content,
            headers=district.bureau() | {"Content-Type": content_type},
        )
        return response.status_code, response.json()

    status, body = await send(gbk_csv([line("H-1", number)], [*HEADER[:-1], "备注栏"]))
    assert status == 400 and "无法识别的列：备注栏" in body["detail"]
    status, body = await send(gbk_csv([line("H-1", number)[1:]], HEADER[1:]))
    assert status == 400 and "缺少列：记录编号" in body["detail"]
    status, body = await send("记录编号,姓名\n".encode("utf-16"))
    assert status == 422 and body["type"].endswith("import-encoding")
    status, body = await send(b"\x81\x30\xff\xfe\x00,\x81\n")
    assert status in (400, 422), body
    listed = await district.client.get("/v1/ledger/imports", headers=district.bureau())
    assert listed.json()["items"] == []


async def test_an_xlsx_in_the_provinces_columns_with_date_cells(district: District) -> None:
    number = id_number(random.Random(9))
    teacher = await teacher_with_id(district, number)
    book = Workbook()
    sheet = book.active
    sheet.append([*HEADER, "学历", "是否培训者"])
    values = line("X-1", number.lower(), hours="16.0", 培训形式="集中培训", 培训级别="区级")
    values[HEADER.index("培训日期")] = dt.datetime(2026, 6, 1)
    sheet.append([*values, "本科", "是"])
    buffer = io.BytesIO()
    book.save(buffer)
    job = await upload(
        district,
        buffer.getvalue(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    assert (job["posted"], job["failed"]) == (1, 0)
    summary = await district.hours(teacher, 2026)
    assert summary["by_mode"]["centralized"] == "16.0"
    entries = (
        await district.client.get(f"/v1/teachers/{teacher}/ledger", headers=district.bureau())
    ).json()["items"]
    assert entries[0]["occurred_on"] == "2026-06-01"
    assert "省教师发展中心" in entries[0]["description"]


async def test_a_teacher_registered_with_an_id_number_is_matched_through_the_gateway(
    suite: Suite,
) -> None:
    """Enrolment tells the ledger the keyed hash (never the number); the province's row, keyed
    by 身份证号, lands on that teacher."""
    gw, admin = suite.gateway, suite.headers()
    number = id_number(random.Random(uuid.uuid4().int))
    school = await gw.post(
        "/v1/schools", headers=admin, json={"name": "身份小学", "stage": "primary"}
    )
    assert school.status_code == 201, school.text
    teacher = await gw.post(
        "/v1/teachers",
        headers=admin,
        json={
            "name": "钱老师",
            "school_id": school.json()["id"],
            "stage": "primary",
            "subject": "语文",
            "id_number": number,
        },
    )
    assert teacher.status_code == 201, teacher.text
    teacher_id = teacher.json()["id"]
    record = f"GW-{uuid.uuid4().hex[:8]}"
    attempts: list[int] = []

    async def imported() -> dict | None:
        # Until the event arrives the row is an unknown person; each try is another file.
        attempts.append(1)
        content = gbk_csv([line(record, number, hours="6.0")]) + b"\r\n" * len(attempts)
        response = await gw.post(
            "/v1/ledger/imports", content=content, headers=admin | {"Content-Type": "text/csv"}
        )
        assert response.status_code == 202, response.text
        job = response.json()
        while job["status"] not in ("done", "failed"):
            await asyncio.sleep(0.05)
            job = (await gw.get(f"/v1/ledger/imports/{job['id']}", headers=admin)).json()
        return job if job["posted"] == 1 else None

    job = await wait_for(imported, timeout=30)
    assert job["failed"] == 0
    hours = await gw.get(f"/v1/teachers/{teacher_id}/hours", params={"year": 2026}, headers=admin)
    assert hours.json()["total_hours"] == "6.0"
