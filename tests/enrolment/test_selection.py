"""Selection through the enrolment API: first come, R2, R3, R7, audience, windows, overlaps."""

from __future__ import annotations

import datetime as dt

from tests.enrolment.conftest import World, ok


async def test_first_come_confirms_within_capacity_then_waitlists(world: World) -> None:
    school = await world.school()
    program = await world.program(await world.institution(), capacity=2)
    teachers = [await world.teacher(school) for _ in range(3)]
    statuses = [ok(await world.enrol(program, t), 201)["status"] for t in teachers]
    assert statuses == ["confirmed", "confirmed", "waitlisted"]
    again = await world.enrol(program, teachers[0])
    assert again.status_code == 409 and again.json()["type"].endswith("already-enrolled")
    assert (await world.program_now(program["id"]))["seats_taken"] == 2


async def test_r1_program_cannot_be_published_before_review(world: World) -> None:
    program = await world.program(await world.institution(), publish=False)
    refused = await world.api.post(f"/v1/programs/{program['id']}/publish", headers=world.bureau)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("invalid-transition")


async def test_r9_submit_checks_the_expert_team(world: World) -> None:
    institution = await world.institution()
    weak = [{"name": "甲", "kind": "expert"}] + [
        {"name": f"乙{i}", "kind": "other"} for i in (1, 2)
    ]
    program = await world.program(institution, publish=False, level="municipal", expert_team=weak)
    refused = await world.api.post(f"/v1/programs/{program['id']}/submit", headers=world.bureau)
    assert refused.status_code == 422 and refused.json()["type"].endswith("r9-expert-team")
    assert (await world.program_now(program["id"]))["status"] == "draft"
    good = [{"name": "甲", "kind": "expert"}, {"name": "乙", "kind": "frontline"}]
    fine = await world.program(institution, publish=False, level="municipal", expert_team=good)
    assert (await world.move(fine, "submit"))["status"] == "submitted"


async def test_enrolment_window_is_enforced(world: World) -> None:
    now = dt.datetime.now(dt.UTC)
    program = await world.program(
        await world.institution(),
        enrol_opens_at=(now + dt.timedelta(days=1)).isoformat(),
        enrol_closes_at=(now + dt.timedelta(days=2)).isoformat(),
    )
    refused = await world.enrol(program, await world.teacher(await world.school()))
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("enrolment-window-closed")


async def test_target_audience_is_checked_at_enrolment(world: World) -> None:
    school = await world.school()
    program = await world.program(
        await world.institution(),
        audience={"stages": ["primary"], "subjects": ["数学"], "roles": ["class_teacher"]},
    )
    outsider = await world.teacher(school, subject="语文", roles=["class_teacher"])
    refused = await world.enrol(program, outsider)
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("outside-target-audience")
    insider = await world.teacher(school, roles=["class_teacher"])
    assert ok(await world.enrol(program, insider), 201)["status"] == "confirmed"


async def test_teacher_cannot_hold_two_overlapping_programs(world: World) -> None:
    institution = await world.institution()
    first = await world.program(institution)
    second = await world.program(institution, starts_on=first["ends_on"], ends_on=first["ends_on"])
    teacher = await world.teacher(await world.school())
    ok(await world.enrol(first, teacher), 201)
    refused = await world.enrol(second, teacher)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("overlapping-program")


async def test_r2_recommended_program_goes_school_then_bureau(world: World) -> None:
    school = await world.school()
    program = await world.program(await world.institution(), selection="recommended")
    teacher = await world.teacher(school)
    applied = ok(await world.enrol(program, teacher, world.teacher_token(teacher)), 201)
    assert applied["status"] == "pending_school"
    assert (await world.program_now(program["id"]))["seats_taken"] == 0
    # The bureau cannot approve before the school has recommended.
    early = await world.act(applied, "approve")
    assert early.status_code == 409
    teacher_self = await world.act(applied, "recommend", world.teacher_token(teacher))
    assert teacher_self.status_code == 403
    recommended = ok(await world.act(applied, "recommend", world.school_admin(school)))
    assert recommended["status"] == "pending_bureau"
    school_approves = await world.act(applied, "approve", world.school_admin(school))
    assert school_approves.status_code == 403
    approved = ok(await world.act(applied, "approve"))
    assert approved["status"] == "confirmed"
    assert (await world.program_now(program["id"]))["seats_taken"] == 1


async def test_r2_school_rejects_with_reason(world: World) -> None:
    school = await world.school()
    program = await world.program(await world.institution(), selection="recommended")
    applied = ok(await world.enrol(program, await world.teacher(school)), 201)
    rejected = ok(await world.act(applied, "reject", world.school_admin(school), reason="课务冲突"))
    assert rejected["status"] == "rejected" and rejected["reason"] == "课务冲突"


async def test_r3_quotas_bound_each_school(world: World) -> None:
    first, second, third = [await world.school() for _ in range(3)]
    program = await world.program(await world.institution(), capacity=5)
    too_many = await world.api.put(
        f"/v1/programs/{program['id']}/quotas",
        headers=world.bureau,
        json={
            "quotas": [
                {"school_id": first["id"], "seats": 4},
                {"school_id": second["id"], "seats": 2},
            ]
        },
    )
    assert too_many.status_code == 422
    ok(
        await world.api.put(
            f"/v1/programs/{program['id']}/quotas",
            headers=world.bureau,
            json={
                "quotas": [
                    {"school_id": first["id"], "seats": 1},
                    {"school_id": second["id"], "seats": 2},
                ]
            },
        )
    )
    assert ok(await world.enrol(program, await world.teacher(first)), 201)["status"] == "confirmed"
    over = await world.enrol(program, await world.teacher(first))
    assert over.status_code == 409 and over.json()["type"].endswith("r3-quota-full")
    none = await world.enrol(program, await world.teacher(third))
    assert none.status_code == 409 and none.json()["type"].endswith("r3-quota-full")
    mine = ok(
        await world.api.get(
            f"/v1/programs/{program['id']}/quotas", headers=world.school_admin(first)
        )
    )
    assert [(q["school_id"], q["seats"], q["seats_taken"]) for q in mine["quotas"]] == [
        (first["id"], 1, 1)
    ]
    school_sets = await world.api.put(
        f"/v1/programs/{program['id']}/quotas",
        headers=world.school_admin(first),
        json={"quotas": [{"school_id": first["id"], "seats": 5}]},
    )
    assert school_sets.status_code == 403


async def test_r3_recommendation_needs_quota_room(world: World) -> None:
    school = await world.school()
    program = await world.program(await world.institution(), selection="recommended")
    ok(
        await world.api.put(
            f"/v1/programs/{program['id']}/quotas",
            headers=world.bureau,
            json={"quotas": [{"school_id": school["id"], "seats": 1}]},
        )
    )
    first, second = [ok(await world.enrol(program, await world.teacher(school)), 201) for _ in "ab"]
    ok(await world.act(first, "recommend", world.school_admin(school)))
    over = await world.act(second, "recommend", world.school_admin(school))
    assert over.status_code == 409 and over.json()["type"].endswith("r3-quota-full")


async def test_r7_school_caps_teachers_away_at_once(world: World) -> None:
    school = await world.school(max_away=1)
    institution = await world.institution()
    program = await world.program(institution)
    same_days = await world.program(
        institution, starts_on=program["starts_on"], ends_on=program["ends_on"]
    )
    online = await world.program(
        institution, mode="online", starts_on=program["starts_on"], ends_on=program["ends_on"]
    )
    ok(await world.enrol(program, await world.teacher(school)), 201)
    refused = await world.enrol(same_days, await world.teacher(school))
    assert refused.status_code == 409 and refused.json()["type"].endswith("r7-away-cap")
    # Online training does not take a teacher away from school.
    assert ok(await world.enrol(online, await world.teacher(school)), 201)["status"] == "confirmed"
    raised = ok(
        await world.api.patch(
            f"/v1/schools/{school['id']}", headers=world.school_admin(school), json={"max_away": 2}
        )
    )
    assert raised["max_away"] == 2
    assert (
        ok(await world.enrol(same_days, await world.teacher(school)), 201)["status"] == "confirmed"
    )


async def test_teacher_enrols_only_themself_and_school_sees_only_its_own(world: World) -> None:
    school, other_school = await world.school(), await world.school()
    program = await world.program(await world.institution())
    me, colleague = await world.teacher(school), await world.teacher(school)
    stranger = await world.teacher(other_school)
    refused = await world.enrol(program, colleague, world.teacher_token(me))
    assert refused.status_code == 403
    mine = ok(await world.enrol(program, me, world.teacher_token(me)), 201)
    theirs = ok(await world.enrol(program, stranger), 201)
    other_admin = world.school_admin(other_school)
    assert (
        await world.api.get(f"/v1/enrolments/{mine['id']}", headers=other_admin)
    ).status_code == 404
    listed = ok(
        await world.api.get(
            "/v1/enrolments", headers=other_admin, params={"program_id": program["id"]}
        )
    )
    assert [e["id"] for e in listed["items"]] == [theirs["id"]]
    foreign = await world.enrol(program, await world.teacher(school), other_admin)
    assert foreign.status_code == 403
