"""Manual recognition and reversals through the API (R16), with scope and idempotency."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.ledger.models import LedgerEntry
from tests.harness import Suite, wait_for
from tests.ledger.conftest import District, requirement


async def entries_of(suite: Suite, teacher_id: uuid.UUID) -> list[LedgerEntry]:
    async with suite.apps["ledger"].state.database.sessions() as session:
        rows = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.teacher_id == teacher_id)
        )
        return list(rows.all())


async def test_manual_recognition_posts_hours_and_credits(district: District) -> None:
    teacher = await district.register()
    entry = await district.recognise(teacher, hours="24.0", mode="centralized")
    assert entry["hours"] == "24.0" and entry["credits"] == "2.4"
    assert entry["academic_year"] == "2026-2027" and entry["term"] == 2
    summary = await district.hours(teacher)
    assert summary["total_hours"] == "24.0"
    assert summary["policy_version"] == "seeds-default/1"
    assert requirement(summary, "R12.annual_minimum")["missing"] == "48.0"
    assert "R12.annual_minimum" in summary["missing"]


async def test_r16_a_reversal_is_a_new_entry_and_the_original_stays(
    district: District, suite: Suite
) -> None:
    teacher = await district.register()
    entry = await district.recognise(teacher, hours="30.0")
    url = f"/v1/ledger/entries/{entry['id']}/reversal"
    refused = await district.client.post(url, json={"reason": ""}, headers=district.bureau())
    assert refused.status_code == 422
    response = await district.client.post(
        url, json={"reason": "录入错误"}, headers=district.bureau()
    )
    assert response.status_code == 201, response.text
    reversal = response.json()
    assert reversal["hours"] == "-30.0" and reversal["reverses_id"] == entry["id"]
    assert reversal["reason"] == "录入错误" and reversal["recorded_by"]
    rows = {str(r.id): r for r in await entries_of(suite, teacher)}
    assert rows[entry["id"]].hours == 30 and rows[entry["id"]].reason == ""
    assert len(rows) == 2
    assert (await district.hours(teacher))["total_hours"] == "0.0"
    again = await district.client.post(url, json={"reason": "再次"}, headers=district.bureau())
    assert again.status_code == 409 and again.json()["reversal_id"] == reversal["id"]
    undo = await district.client.post(
        f"/v1/ledger/entries/{reversal['id']}/reversal",
        json={"reason": "撤销更正"},
        headers=district.bureau(),
    )
    assert undo.status_code == 422 and undo.json()["type"].endswith("reversal-of-reversal")
    assert len(await entries_of(suite, teacher)) == 2


async def test_the_same_source_reference_posts_once(district: District) -> None:
    teacher = await district.register()
    first = await district.recognise(
        teacher, reference="SB-2027-001", source="school_based", mode="school_based", level="school"
    )
    body = {
        "teacher_id": str(teacher),
        "source": "school_based",
        "reference": "SB-2027-001",
        "hours": "8.0",
        "mode": "school_based",
        "level": "school",
        "category": "mandatory",
        "occurred_on": "2027-04-01",
        "description": "校本研修",
    }
    again = await district.client.post("/v1/ledger/entries", json=body, headers=district.bureau())
    assert again.status_code == 409 and again.json()["entry_id"] == first["id"]
    assert (await district.hours(teacher))["total_hours"] == "10.0"


async def test_idempotency_key_replays_the_first_response(district: District) -> None:
    teacher = await district.register()
    body = {
        "teacher_id": str(teacher),
        "source": "manual_recognition",
        "reference": "R-1",
        "hours": "6.0",
        "mode": "online",
        "level": "provincial",
        "category": "self_selected",
        "occurred_on": "2027-05-01",
        "description": "省平台网络研修",
    }
    headers = district.bureau() | {"Idempotency-Key": uuid.uuid4().hex}
    one = await district.client.post("/v1/ledger/entries", json=body, headers=headers)
    two = await district.client.post("/v1/ledger/entries", json=body, headers=headers)
    assert one.status_code == two.status_code == 201
    assert one.json() == two.json() and two.headers["idempotent-replayed"] == "true"


async def test_bad_input_changes_nothing(district: District, suite: Suite) -> None:
    teacher = await district.register()
    base = {
        "teacher_id": str(teacher),
        "source": "manual_recognition",
        "reference": "X-1",
        "mode": "online",
        "level": "provincial",
        "category": "self_selected",
        "occurred_on": "2027-05-01",
        "description": "x",
    }
    for hours in ("1.25", "0.0", "-3.0", "abc"):
        response = await district.client.post(
            "/v1/ledger/entries", json=base | {"hours": hours}, headers=district.bureau()
        )
        assert response.status_code == 422, hours
        assert response.headers["content-type"].startswith("application/problem+json")
    wrong_mode = base | {"hours": "4.0", "source": "school_based"}
    response = await district.client.post(
        "/v1/ledger/entries", json=wrong_mode, headers=district.bureau()
    )
    assert response.status_code == 422
    assert await entries_of(suite, teacher) == []


async def test_scope_school_admin_recognises_only_its_own_school_based_hours(
    district: District,
) -> None:
    mine = await district.register()
    other = await district.register(school_id=uuid.uuid4())
    body = {
        "teacher_id": str(mine),
        "source": "school_based",
        "reference": uuid.uuid4().hex,
        "hours": "8.0",
        "mode": "school_based",
        "level": "school",
        "category": "mandatory",
        "occurred_on": "2027-04-01",
        "description": "校本研修指定内容",
    }
    ok = await district.client.post("/v1/ledger/entries", json=body, headers=district.school())
    assert ok.status_code == 201, ok.text
    manual = await district.recognise(mine, hours="3.0")
    refused = await district.client.post(
        f"/v1/ledger/entries/{manual['id']}/reversal",
        json={"reason": "学校更正"},
        headers=district.school(),
    )
    assert refused.status_code == 403
    corrected = await district.client.post(
        f"/v1/ledger/entries/{ok.json()['id']}/reversal",
        json={"reason": "学校更正"},
        headers=district.school(),
    )
    assert corrected.status_code == 201
    foreign = body | {"teacher_id": str(other), "reference": uuid.uuid4().hex}
    refused = await district.client.post(
        "/v1/ledger/entries", json=foreign, headers=district.school()
    )
    assert refused.status_code == 403
    manual = body | {"source": "manual_recognition", "reference": uuid.uuid4().hex}
    refused = await district.client.post(
        "/v1/ledger/entries", json=manual, headers=district.school()
    )
    assert refused.status_code == 403
    as_teacher = await district.client.post(
        "/v1/ledger/entries", json=body | {"reference": "t"}, headers=district.teacher(mine)
    )
    assert as_teacher.status_code == 403
    other_district = District(district.suite, uuid.uuid4(), district.school_id)
    response = await district.client.get(
        f"/v1/teachers/{mine}/hours", headers=other_district.bureau()
    )
    assert response.status_code == 403
    response = await district.client.get(f"/v1/teachers/{other}/hours", headers=district.school())
    assert response.status_code == 403


async def test_references_are_unique_per_district_and_school_based_per_school(
    suite: Suite,
) -> None:
    """A provincial record id another district also uses is posted in each district; a
    school-based reference another school also uses is its own record, without a 409 that
    would show the other school's entry id."""
    from services.ledger.imports import COLUMNS

    north = District(suite=suite, id=uuid.uuid4(), school_id=uuid.uuid4())
    south = District(suite=suite, id=uuid.uuid4(), school_id=uuid.uuid4())
    record = f"PROV-{uuid.uuid4().hex[:8]}"
    for district in (north, south):
        teacher = await district.register()
        csv_text = (
            ",".join(COLUMNS)
            + "\n"
            + (f"{record},{teacher},6.0,online,provincial,self_selected,2026-04-01,省平台\n")
        )
        response = await district.client.post(
            "/v1/ledger/imports",
            content=csv_text.encode(),
            headers=district.bureau() | {"Content-Type": "text/csv"},
        )
        assert response.status_code == 202, response.text
        url = f"/v1/ledger/imports/{response.json()['id']}"

        async def done(url: str = url, district: District = district) -> dict | None:
            job = (await district.client.get(url, headers=district.bureau())).json()
            return job if job["status"] == "done" else None

        job = await wait_for(done, timeout=30)
        assert (job["posted"], job["duplicates"]) == (1, 0), job
        assert (await district.hours(teacher, 2026))["total_hours"] == "6.0"

    other_school = uuid.uuid4()
    mine, theirs = await north.register(), await north.register(school_id=other_school)
    reference = f"SB-{uuid.uuid4().hex[:8]}"
    school_based = {"source": "school_based", "mode": "school_based", "level": "school"}
    body = {
        "teacher_id": str(theirs),
        "reference": reference,
        "hours": "4.0",
        "category": "mandatory",
        "occurred_on": "2027-04-01",
        "description": "校本研修",
    } | school_based
    first = await north.client.post(
        "/v1/ledger/entries", json=body, headers=north.school(other_school)
    )
    assert first.status_code == 201, first.text
    second = await north.client.post(
        "/v1/ledger/entries", json=body | {"teacher_id": str(mine)}, headers=north.school()
    )
    assert second.status_code == 201, second.text
    assert first.json()["id"] not in second.text
    assert (await north.hours(mine))["total_hours"] == "4.0"
