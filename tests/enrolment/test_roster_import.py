"""Roster import: CSV in UTF-8 or GBK, XLSX, per-row report, both modes, re-upload."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import random
import time

from openpyxl import Workbook

from services.enrolment.models import RosterImport
from shared.config import DEFAULT_DISTRICT_ID
from shared.office_values import check_digit
from tests.enrolment.conftest import World, ok
from tests.harness import wait_for


def id_number() -> str:
    """A valid 18-character identity number: a birth date and the GB 11643 check digit."""
    born = dt.date(1970, 1, 1) + dt.timedelta(days=random.randrange(12_000))
    first = f"{random.randrange(110000, 659999)}{born:%Y%m%d}{random.randrange(1000):03d}"
    return first + check_digit(first)


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    lines = ["姓名,学校ID,学段,学科,入职日期,身份证号,角色"] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


async def upload(world: World, content: bytes, name: str, mode: str, headers: dict | None = None):
    return await world.api.post(
        "/v1/teachers/imports",
        headers=headers or world.bureau,
        files={"file": (name, content)},
        data={"mode": mode},
    )


async def finished(world: World, job: dict, headers: dict | None = None) -> dict:
    async def done() -> dict | None:
        body = ok(
            await world.api.get(
                f"/v1/teachers/imports/{job['id']}", headers=headers or world.bureau
            )
        )
        return body if body["status"] in ("done", "failed") else None

    return await wait_for(done, timeout=30)


async def test_gbk_csv_valid_rows_imports_the_good_rows_and_reports_the_rest(world: World) -> None:
    school = await world.school()
    sid = school["id"]
    good = [
        [f"张{i}", sid, "primary", "数学", "2020-09-01", id_number(), "class_teacher"]
        for i in range(3)
    ]
    bad_stage = ["李四", sid, "college", "语文", "", "", ""]
    dup = [*good[0][:6], ""]
    content = csv_bytes([*good, bad_stage, dup], encoding="gbk")
    job = ok(await upload(world, content, "名单.csv", "valid_rows"), 202)
    assert job["total_rows"] == 5
    result = await finished(world, job)
    assert result["status"] == "done"
    assert result["created_count"] == 3 and result["processed_rows"] == 5
    assert [e["row"] for e in result["errors"]] == [5, 6]
    # In Chinese, naming the file's own column and the words it takes.
    assert result["errors"][0]["column"] == "学段" and "小学" in result["errors"][0]["error"]
    assert result["errors"][1]["code"] == "duplicate-id-number"
    listed = ok(
        await world.api.get("/v1/teachers", headers=world.bureau, params={"school_id": sid})
    )
    names = sorted(t["name"] for t in listed["items"])
    assert names == ["张0", "张1", "张2"]
    masked = {t["id_number_masked"] for t in listed["items"]}
    # The first and the last character only: too little to guess a number from.
    assert all(len(m) == 18 and m[1:-1] == "*" * 16 for m in masked)
    again = await upload(world, content, "名单.csv", "valid_rows")
    assert again.status_code == 200 and again.json()["id"] == job["id"]


async def test_all_or_nothing_writes_nothing_when_a_row_is_bad(world: World) -> None:
    school = await world.school()
    sid = school["id"]
    rows = [[f"王{i}", sid, "junior", "物理", "", id_number(), ""] for i in range(4)]
    rows.append(["", sid, "junior", "物理", "", "", ""])  # no name
    job = ok(await upload(world, csv_bytes(rows), "roster.csv", "all_or_nothing"), 202)
    result = await finished(world, job)
    assert result["status"] == "failed" and result["created_count"] == 0
    assert [e["row"] for e in result["errors"]] == [6]
    listed = ok(
        await world.api.get("/v1/teachers", headers=world.bureau, params={"school_id": sid})
    )
    assert listed["items"] == []


async def test_xlsx_import_by_a_school_for_its_own_teachers_only(world: World) -> None:
    school, other = await world.school(), await world.school()
    book = Workbook()
    sheet = book.active
    sheet.append(["name", "stage", "subject", "hired_on", "id_number", "school_id"])
    sheet.append(["赵一", "primary", "英语", "2019-09-01", id_number(), ""])
    sheet.append(["赵二", "primary", "英语", "", id_number(), other["id"]])
    buffer = io.BytesIO()
    book.save(buffer)
    admin = world.school_admin(school)
    job = ok(await upload(world, buffer.getvalue(), "roster.xlsx", "valid_rows", admin), 202)
    result = await finished(world, job, admin)
    assert result["created_count"] == 1
    assert result["errors"] == [
        {
            "row": 3,
            "column": "school_id",
            "code": "school-other",
            "error": "school_id：学校只能导入本校教师",
        }
    ]
    english = ok(
        await world.api.get(
            f"/v1/teachers/imports/{job['id']}", headers={**admin, "Accept-Language": "en"}
        )
    )
    assert english["errors"][0]["error"] == "school_id: a school imports only its own teachers"
    other_admin = world.school_admin(other)
    hidden = await world.api.get(f"/v1/teachers/imports/{job['id']}", headers=other_admin)
    assert hidden.status_code == 404


async def test_a_bad_header_is_refused_at_upload(world: World) -> None:
    refused = await upload(world, "名字,学段\n甲,primary\n".encode(), "x.csv", "valid_rows")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"


async def test_an_interrupted_import_resumes_after_its_last_committed_chunk(world: World) -> None:
    """The sweep derives its work from the job row: a restart continues, never repeats."""
    school = await world.school()
    rows = [[f"续{i}", school["id"], "primary", "数学", "", "", ""] for i in range(250)]
    content = csv_bytes(rows)
    app = world.suite.apps["enrolment"]
    async with app.state.database.sessions() as session:
        # As left by a service that stopped after committing the first chunk of 200 rows.
        job = RosterImport(
            district_id=DEFAULT_DISTRICT_ID,
            school_scope=DEFAULT_DISTRICT_ID,
            requested_by="test",
            filename="big.csv",
            digest=hashlib.sha256(content).hexdigest(),
            mode="valid_rows",
            status="running",
            total_rows=250,
            processed_rows=200,
            content=content,
        )
        session.add(job)
        await session.commit()
    result = await finished(world, {"id": str(job.id)})
    assert result["status"] == "done" and result["processed_rows"] == 250
    assert result["created_count"] == 50
    listed = ok(
        await world.api.get(
            "/v1/teachers", headers=world.bureau, params={"school_id": school["id"], "limit": 500}
        )
    )
    assert sorted(t["name"] for t in listed["items"]) == sorted(f"续{i}" for i in range(200, 250))


async def test_xlsx_bomb_is_refused_early_without_blocking_the_service(world: World) -> None:
    """A million rows in a small XLSX: refused by its unpacked size before parsing; a file
    just over the row limit is parsed in a worker thread (the service answers meanwhile)
    and refused at the limit. Both 413, nothing queued."""
    from tests.spreadsheets import xlsx_of_rows

    header, row = ["姓名", "学段", "学科"], ["张三", "primary", "数学"]
    bomb = xlsx_of_rows(header, row, 1_000_000)
    assert len(bomb) < 1_000_000  # about a thousand to one
    started = time.monotonic()
    response = await upload(world, bomb, "bomb.xlsx", "valid_rows")
    assert time.monotonic() - started < 10
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/import-too-large")

    from services.enrolment.roster_import import LIMITS

    many = xlsx_of_rows(header, row, LIMITS.max_rows + 1)
    sent = asyncio.create_task(upload(world, many, "many.xlsx", "valid_rows"))
    await asyncio.sleep(0.3)
    # Ordering, not a stopwatch: parsed on the event loop, the health check would only be
    # answered after the upload's answer.
    assert (await world.api.get("/healthz")).status_code == 200
    assert not sent.done()
    response = await sent
    assert response.status_code == 413, response.text
    assert response.json()["type"].endswith("/import-too-many-rows")
    assert response.json()["max_rows"] == LIMITS.max_rows


async def test_the_uploaded_roster_is_sealed_and_dropped_when_imported(world: World) -> None:
    """Identity numbers of an upload are never at rest in clear: the stored file is
    encrypted while the import runs and gone once it is finished."""
    import uuid

    from services.enrolment.roster_import import start_import
    from services.enrolment.schemas import ImportMode
    from shared.auth import Principal, Role
    from shared.config import DEFAULT_DISTRICT_ID

    school = await world.school()
    number = id_number()
    content = csv_bytes([["郑老师", school["id"], "primary", "数学", "", number, ""]])
    database = world.suite.apps["enrolment"].state.database
    bureau = Principal(subject="t", role=Role.BUREAU_ADMIN, district_id=DEFAULT_DISTRICT_ID)
    async with database.sessions() as session:
        job, _ = await start_import(
            session, principal=bureau, filename="r.csv", content=content, mode=ImportMode.VALID_ROWS
        )
        assert number.encode() not in job.content and b"\xe9\x83\x91" not in job.content
        await session.rollback()

    job = ok(await upload(world, content, "r.csv", "valid_rows"), 202)
    result = await finished(world, job)
    assert result["created_count"] == 1
    async with database.sessions() as session:
        stored = await session.get(RosterImport, uuid.UUID(job["id"]))
        assert stored is not None and stored.content == b""


async def test_a_change_while_importing_fails_the_import_and_the_queue_goes_on(
    world: World,
) -> None:
    """all_or_nothing: every row was checked clean, then a teacher took the file's mobile
    number before the rows were written. The import ends failed, saying why, writing none
    of its rows; the import queued behind it still runs."""
    import datetime as dt
    import uuid

    from shared import pii

    school = await world.school()
    mobile = "139" + "".join(random.choice("0123456789") for _ in range(8))
    await world.teacher(school, mobile=mobile)  # the concurrent change
    name = f"冲突{uuid.uuid4().hex[:4]}"
    content = f"姓名,学校ID,学段,学科,手机号\n{name},{school['id']},primary,数学,{mobile}\n"
    app = world.suite.apps["enrolment"]
    async with app.state.database.sessions() as session:
        # As left after its last chunk was checked, before the rows were written.
        changed = RosterImport(
            district_id=DEFAULT_DISTRICT_ID,
            school_scope=uuid.UUID(school["id"]),
            requested_by="test",
            filename="changed.csv",
            digest=hashlib.sha256(content.encode()).hexdigest(),
            mode="all_or_nothing",
            status="running",
            total_rows=1,
            processed_rows=1,
            content=pii.seal(content.encode()),
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
        )
        session.add(changed)
        await session.commit()
    behind = [["后来者", school["id"], "primary", "语文", "", id_number(), ""]]
    queued = ok(await upload(world, csv_bytes(behind), "behind.csv", "valid_rows"), 202)

    result = await finished(world, {"id": str(changed.id)})
    assert result["status"] == "failed" and result["created_count"] == 0
    assert [e["code"] for e in result["errors"]] == ["changed", "mobile-taken"]
    assert result["errors"][1]["code"] == "mobile-taken"
    assert (await finished(world, queued))["status"] == "done"
    listed = ok(
        await world.api.get(
            "/v1/teachers", headers=world.bureau, params={"school_id": school["id"]}
        )
    )
    assert name not in {t["name"] for t in listed["items"]}
    assert "后来者" in {t["name"] for t in listed["items"]}


async def test_an_import_that_keeps_failing_is_given_up_and_never_blocks_the_queue(
    world: World,
) -> None:
    """An import whose pass raises keeps its claim while the imports behind it run; one
    taken up too often ends failed, saying so."""
    import datetime as dt
    import uuid

    from services.enrolment.roster_import import MAX_ATTEMPTS

    school = await world.school()
    app = world.suite.apps["enrolment"]
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)

    def broken(attempts: int) -> RosterImport:
        return RosterImport(
            district_id=DEFAULT_DISTRICT_ID,
            school_scope=uuid.UUID(school["id"]),
            requested_by="test",
            filename="broken.csv",
            digest=uuid.uuid4().hex,
            mode="valid_rows",
            total_rows=1,
            content=b"\x00 not a sealed roster",  # unreadable: every pass raises
            created_at=earlier,
            attempts=attempts,
        )

    failing, exhausted = broken(0), broken(MAX_ATTEMPTS)
    async with app.state.database.sessions() as session:
        session.add_all([failing, exhausted])
        await session.commit()
    behind = [["排队者", school["id"], "primary", "语文", "", id_number(), ""]]
    queued = ok(await upload(world, csv_bytes(behind), "queued.csv", "valid_rows"), 202)
    assert (await finished(world, queued))["status"] == "done"
    given_up = await finished(world, {"id": str(exhausted.id)})
    assert given_up["status"] == "failed" and given_up["errors"][-1]["code"] == "given-up"
    async with app.state.database.sessions() as session:
        still = await session.get(RosterImport, failing.id)
        assert still is not None and still.status in ("queued", "running")
        assert still.attempts >= 1 and still.claimed_until is not None  # held, retried later
        still.status = "failed"  # not to be retried for the rest of the run
        await session.commit()
