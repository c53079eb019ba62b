"""Programs for me: ranked by the hours gaps they close, from the ledger's standing by event."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from services.enrolment.for_me import fit, gaps_of
from services.enrolment.models import Program, TeacherStanding
from shared.auth import Role
from tests.enrolment.conftest import TODAY, World, ok
from tests.harness import wait_for


async def recognise(world: World, teacher: dict, **fields) -> None:
    """Hours in the ledger for this year, once the ledger has the teacher (an event away)."""
    body = {
        "teacher_id": teacher["id"],
        "source": "manual_recognition",
        "reference": uuid.uuid4().hex,
        "hours": "80.0",
        "mode": "centralized",
        "level": "school",
        "category": "self_selected",
        "occurred_on": TODAY.isoformat(),
        "description": "校级集中培训",
    } | fields
    ledger = world.suite.direct["ledger"]

    async def posted() -> bool:
        response = await ledger.post("/v1/ledger/entries", headers=world.bureau, json=body)
        assert response.status_code in (201, 404), response.text
        return response.status_code == 201

    await wait_for(posted)


def on(days: int) -> dict[str, str]:
    day = TODAY + dt.timedelta(days=days)
    return {"starts_on": day.isoformat(), "ends_on": day.isoformat()}


async def test_r12_a_teacher_short_of_district_level_hours_gets_a_district_program_first(
    world: World,
) -> None:
    subject = f"物理{uuid.uuid4().hex[:4]}"
    school = await world.school(stage="junior")
    teacher = await world.teacher(school, stage="junior", subject=subject)
    # 80 school-level hours: the annual minimum and self-selected hours are met, the
    # district-level-or-above 36 h are not (R12).
    await recognise(world, teacher)
    institution = await world.institution()
    audience = {"stages": ["junior"], "subjects": [subject]}
    district = await world.program(
        institution, title="区级物理实验教学", hours="36.0", audience=audience, **on(1)
    )
    school_level = await world.program(
        institution, title="校级物理教研", hours="40.0", level="school", audience=audience, **on(2)
    )
    other_stage = await world.program(
        institution, title="区级小学物理", hours="36.0", audience={"stages": ["primary"]}, **on(1)
    )
    held = await world.program(
        institution, title="已报名", hours="36.0", audience=audience, **on(3)
    )
    ok(await world.enrol(held, teacher), 201)
    clashing = await world.program(
        institution, title="同日", hours="36.0", audience=audience, **on(3)
    )
    headers = world.teacher_token(teacher)

    async def ranked() -> dict | None:
        body = ok(
            await world.api.get("/v1/catalogue/for-me", headers=headers, params={"limit": 20})
        )
        first = body["items"][0] if body["items"] else None
        return body if first and "区县级以上" in first["reason"] else None

    body = await wait_for(ranked)
    items = body["items"]
    assert items[0]["id"] == district["id"]
    assert items[0]["reason"] == "补足本年度区县级以上学时 36 学时"
    closes = {c["rule"]: c["hours"] for c in items[0]["closes"]}
    assert closes["R12.district_level_hours"] == "36.0"
    ids = [i["id"] for i in items]
    assert school_level["id"] in ids and ids.index(school_level["id"]) > 0
    assert not {other_stage["id"], held["id"], clashing["id"]} & set(ids)
    assert body["policy_version"] == "seeds-default/1"


async def test_for_me_is_for_teachers(world: World) -> None:
    response = await world.api.get("/v1/catalogue/for-me", headers=world.bureau)
    assert response.status_code == 403
    school = await world.school()
    response = await world.api.get(
        "/v1/catalogue/for-me",
        headers=world.suite.headers(Role.SCHOOL_ADMIN, school_id=school["id"]),
    )
    assert response.status_code == 403


def _program(**fields) -> Program:
    return Program(
        id=uuid.uuid4(),
        title="t",
        hours=Decimal(fields.pop("hours", "12.0")),
        mode=fields.pop("mode", "centralized"),
        level=fields.pop("level", "district"),
        category=fields.pop("category", "self_selected"),
        starts_on=TODAY,
        **fields,
    )


STANDING = TeacherStanding(
    teacher_id=uuid.uuid4(),
    year=TODAY.year,
    policy_version="seeds-default/1",
    as_of=dt.datetime.now(dt.UTC),
    requirements=[
        {"rule": "R10.cycle_total", "label": "本周期学时", "missing_hours": "200.0"},
        {"rule": "R12.annual_minimum", "label": "本年度学时", "missing_hours": "30.0"},
        {
            "rule": "R12.district_level_hours",
            "label": "本年度区县级以上学时",
            "missing_hours": "10.0",
            "levels": ["district", "municipal", "national", "provincial"],
        },
        {
            "rule": "R12.self_selected_hours",
            "label": "本年度自主选学学时",
            "missing_hours": "0.0",
            "categories": ["self_selected"],
        },
    ],
)


def test_a_program_closes_each_gap_up_to_what_is_missing_and_names_the_narrowest() -> None:
    gaps = gaps_of(STANDING, TODAY.year)
    assert [g["rule"] for g in gaps] == [
        "R10.cycle_total",
        "R12.annual_minimum",
        "R12.district_level_hours",
    ]
    district = fit(_program(hours="10.0"), gaps)
    assert district.this_year == Decimal("20.0") and district.long_term == Decimal("10.0")
    # Annual and district-level gaps close by 10 each: the reason names the narrower one.
    assert district.reason == "补足本年度区县级以上学时 10 学时"
    school = fit(_program(hours="24.0", level="school"), gaps)
    assert school.this_year == Decimal("24.0") and school.reason == "补足本年度学时 24 学时"
    # A standing of another year says nothing of this one.
    assert gaps_of(STANDING, TODAY.year + 1) == []
    assert fit(_program(hours="1.5"), []).reason == "适合你的学段和学科，共 1.5 学时"
