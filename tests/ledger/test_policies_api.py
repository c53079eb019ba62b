"""Requirement policies as versioned data per district, and the at-risk event."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import select

from services.ledger.risk import today
from shared.auth import Role
from tests.harness import Suite
from tests.ledger.conftest import District, requirement


async def publish(district: District, rules: dict, effective_from: str) -> dict:
    response = await district.client.post(
        "/v1/policies",
        json={"effective_from": effective_from, "note": "区教育局2027年文件", "rules": rules},
        headers=district.bureau(),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_new_version_takes_effect_from_its_date(district: District) -> None:
    teacher = await district.register()
    await district.recognise(teacher, hours="74.0", occurred_on="2027-03-01")
    await district.recognise(teacher, hours="74.0", occurred_on="2028-03-01")
    v1 = await publish(district, {"annual_hours": "76.0"}, "2028-01-01")
    assert v1["version"] == 1 and v1["label"] == "district/1"
    assert v1["rules"]["cycle_hours"] == "360.0"  # unset numbers are the seeds' defaults
    in_2027 = await district.hours(teacher, year=2027)
    assert in_2027["policy_version"] == "seeds-default/1"
    assert requirement(in_2027, "R12.annual_minimum")["met"] is True
    in_2028 = await district.hours(teacher, year=2028)
    assert in_2028["policy"]["id"] == v1["id"]
    assert requirement(in_2028, "R12.annual_minimum")["missing"] == "2.0"
    v2 = await publish(district, {"annual_hours": "72.0"}, "2028-01-01")
    assert v2["version"] == 2
    assert (await district.hours(teacher, year=2028))["policy_version"] == "district/2"
    listed = await district.client.get("/v1/policies", headers=district.school())
    assert [p["version"] for p in listed.json()["items"]] == [1, 2]
    one = await district.client.get(f"/v1/policies/{v1['id']}", headers=district.teacher(teacher))
    assert one.status_code == 200 and one.json()["rules"]["annual_hours"] == "76.0"


async def test_only_the_bureau_publishes_and_only_its_district_sees(district: District) -> None:
    body = {"effective_from": "2027-01-01", "rules": {}}
    refused = await district.client.post("/v1/policies", json=body, headers=district.school())
    assert refused.status_code == 403
    bad = await district.client.post(
        "/v1/policies",
        json=body | {"rules": {"annual_hours": "-1.0"}},
        headers=district.bureau(),
    )
    assert bad.status_code == 422
    unknown = await district.client.post(
        "/v1/policies", json=body | {"rules": {"annual": "72"}}, headers=district.bureau()
    )
    assert unknown.status_code == 422
    mine = await publish(district, {}, "2027-01-01")
    stranger = District(district.suite, uuid.uuid4(), uuid.uuid4())
    hidden = await district.client.get(f"/v1/policies/{mine['id']}", headers=stranger.bureau())
    assert hidden.status_code == 404
    listed = await district.client.get("/v1/policies", headers=stranger.bureau())
    assert listed.json()["items"] == []


async def test_r10_a_teacher_behind_the_cycle_pace_emits_one_at_risk_event(
    district: District, suite: Suite
) -> None:
    year = today().year
    await publish(district, {"cycle_start_year": year - 2}, f"{year - 2}-01-01")
    behind = await district.register()
    ahead = await district.register()
    on = dt.date(year, 1, 2).isoformat()
    await district.recognise(behind, hours="10.0", occurred_on=on)
    await district.recognise(behind, hours="10.0", occurred_on=on)
    await district.recognise(ahead, hours="300.0", occurred_on=on)
    summary = await district.hours(behind, year=year)
    assert summary["projection"]["on_track"] is False
    assert (await district.hours(ahead, year=year))["projection"]["on_track"] is True
    outbox = suite.apps["ledger"].state.tables.outbox
    async with suite.apps["ledger"].state.database.sessions() as session:
        payloads = (
            await session.scalars(
                select(outbox.c.payload).where(outbox.c.subject == "ledger.teacher.at_risk.v1")
            )
        ).all()
    flagged = [json.loads(p)["teacher_id"] for p in payloads]
    assert flagged.count(str(behind)) == 1 and str(ahead) not in flagged


async def test_teachers_cannot_read_other_districts_hours(suite: Suite, district: District) -> None:
    teacher = await district.register()
    outsider = suite.headers(Role.TEACHER, teacher_id=uuid.uuid4())
    response = await district.client.get(f"/v1/teachers/{teacher}/hours", headers=outsider)
    assert response.status_code == 403
