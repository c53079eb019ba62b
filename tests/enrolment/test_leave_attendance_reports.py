"""R4 leave and substitution, attendance and R5 participation, and the R8 report."""

from __future__ import annotations

import datetime as dt

from tests.enrolment.conftest import TODAY, World, ok


async def leave_request(world: World, enrolment: dict, headers: dict, **body) -> dict:
    return ok(
        await world.api.post(
            f"/v1/enrolments/{enrolment['id']}/leave-requests", headers=headers, json=body
        ),
        201,
    )


async def decide(world: World, leave: dict, headers: dict, party: str, approve: bool = True):
    return await world.api.post(
        f"/v1/leave-requests/{leave['id']}/decisions",
        headers=headers,
        json={"party": party, "approve": approve},
    )


async def test_r4_leave_needs_school_and_institution_then_frees_the_seat(world: World) -> None:
    school = await world.school()
    institution = await world.institution()
    program = await world.program(institution, capacity=1)
    trainee, waiting_teacher = await world.teacher(school), await world.teacher(school)
    enrolment = ok(await world.enrol(program, trainee), 201)
    waiting = ok(await world.enrol(program, waiting_teacher), 201)
    await world.move(program, "close-enrolment")
    leave = await leave_request(
        world, enrolment, world.teacher_token(trainee), kind="leave", reason="住院"
    )
    assert leave["status"] == "pending"
    # A teacher cannot approve her own leave, nor the school decide for the institution.
    assert (await decide(world, leave, world.teacher_token(trainee), "school")).status_code == 403
    wrong = await decide(world, leave, world.school_admin(school), "institution")
    assert wrong.status_code == 403
    half = ok(await decide(world, leave, world.school_admin(school), "school"))
    assert half["status"] == "pending"
    assert (await world.enrolment(enrolment["id"]))["status"] == "confirmed"
    again = await decide(world, leave, world.school_admin(school), "school")
    assert again.status_code == 409
    done = ok(await decide(world, leave, world.institution_admin(institution), "institution"))
    assert done["status"] == "approved"
    assert (await world.enrolment(enrolment["id"]))["status"] == "on_leave"
    assert (await world.enrolment(waiting["id"]))["status"] == "offered"


async def test_r4_refusal_by_one_party_keeps_the_trainee(world: World) -> None:
    school = await world.school()
    institution = await world.institution()
    program = await world.program(institution)
    enrolment = ok(await world.enrol(program, await world.teacher(school)), 201)
    leave = await leave_request(
        world, enrolment, world.school_admin(school), kind="leave", reason="x"
    )
    refused = ok(
        await decide(world, leave, world.institution_admin(institution), "institution", False)
    )
    assert refused["status"] == "rejected"
    assert (await world.enrolment(enrolment["id"]))["status"] == "confirmed"


async def test_r4_substitution_moves_the_seat_to_a_colleague_who_fits(world: World) -> None:
    school, other = await world.school(), await world.school()
    institution = await world.institution()
    program = await world.program(institution, capacity=1, audience={"subjects": ["数学"]})
    trainee = await world.teacher(school)
    enrolment = ok(await world.enrol(program, trainee), 201)
    stranger = await world.teacher(other)
    wrong_school = await world.api.post(
        f"/v1/enrolments/{enrolment['id']}/leave-requests",
        headers=world.school_admin(school),
        json={"kind": "substitution", "reason": "外出", "substitute_teacher_id": stranger["id"]},
    )
    assert wrong_school.status_code == 422
    misfit = await world.teacher(school, subject="语文")
    outside = await world.api.post(
        f"/v1/enrolments/{enrolment['id']}/leave-requests",
        headers=world.school_admin(school),
        json={"kind": "substitution", "reason": "外出", "substitute_teacher_id": misfit["id"]},
    )
    assert outside.status_code == 422
    colleague = await world.teacher(school)
    leave = await leave_request(
        world,
        enrolment,
        world.school_admin(school),
        kind="substitution",
        reason="外出",
        substitute_teacher_id=colleague["id"],
    )
    ok(await decide(world, leave, world.institution_admin(institution), "institution"))
    done = ok(await decide(world, leave, world.school_admin(school), "school"))
    assert done["status"] == "approved" and done["substitute_enrolment_id"]
    assert (await world.enrolment(enrolment["id"]))["status"] == "substituted"
    replacement = await world.enrolment(done["substitute_enrolment_id"])
    assert replacement["status"] == "confirmed"
    assert replacement["teacher_id"] == colleague["id"]
    assert (await world.program_now(program["id"]))["seats_taken"] == 1


async def test_r5_participation_rate_per_program_and_school(world: World) -> None:
    first, second = await world.school(), await world.school()
    institution = await world.institution()
    program = await world.program(institution, capacity=30)
    trainees = [ok(await world.enrol(program, await world.teacher(first)), 201) for _ in range(19)]
    trainees += [ok(await world.enrol(program, await world.teacher(second)), 201) for _ in range(2)]
    for action in ("close-enrolment", "start"):
        await world.move(program, action)
    runner = world.institution_admin(institution)
    present = [t["id"] for t in trainees[:19]] + [trainees[19]["id"]]
    recorded = await world.api.post(
        f"/v1/programs/{program['id']}/attendance",
        headers=runner,
        json={
            "session_on": program["starts_on"],
            "present": present,
            "absent": [trainees[20]["id"]],
        },
    )
    assert recorded.status_code == 201, recorded.text
    outsider = await world.api.post(
        f"/v1/programs/{program['id']}/attendance",
        headers=world.school_admin(first),
        json={"session_on": program["starts_on"], "present": present},
    )
    assert outsider.status_code == 403
    report = ok(await world.api.get(f"/v1/programs/{program['id']}/participation", headers=runner))
    assert report["overall"]["expected"] == 21 and report["overall"]["actual"] == 20
    assert report["overall"]["met"] is True  # 20/21 = 95.2 %
    rows = {r["school_id"]: r for r in report["by_school"]}
    assert rows[first["id"]]["met"] is True
    assert rows[second["id"]]["rate"] == "0.500" and rows[second["id"]]["met"] is False
    mine = ok(
        await world.api.get(
            f"/v1/programs/{program['id']}/participation", headers=world.school_admin(second)
        )
    )
    assert mine["overall"] is None and [r["school_id"] for r in mine["by_school"]] == [second["id"]]
    roster = ok(
        await world.api.get(
            f"/v1/programs/{program['id']}/roster", headers=world.school_admin(second)
        )
    )
    assert {r["enrolment_id"] for r in roster} == {trainees[19]["id"], trainees[20]["id"]}
    assert {r["attended"] for r in roster} == {0, 1}


async def test_r8_report_lists_teachers_without_recent_district_training(world: World) -> None:
    school = await world.school()
    trained, untrained = await world.teacher(school), await world.teacher(school)
    program = await world.program(
        await world.institution(),
        level="district",
        starts_on=(TODAY - dt.timedelta(days=3)).isoformat(),
        ends_on=(TODAY - dt.timedelta(days=2)).isoformat(),
    )
    school_level = await world.program(
        await world.institution(),
        level="school",
        starts_on=(TODAY - dt.timedelta(days=6)).isoformat(),
        ends_on=(TODAY - dt.timedelta(days=5)).isoformat(),
    )
    for prog, teacher in ((program, trained), (school_level, untrained)):
        enrolment = ok(await world.enrol(prog, teacher), 201)
        for action in ("close-enrolment", "start"):
            await world.move(prog, action)
        ok(await world.act(enrolment, "complete", attendance_rate="1.0", passed=True))
    report = ok(
        await world.api.get(
            "/v1/teachers/training-gaps",
            headers=world.school_admin(school),
            params={"limit": 500},
        )
    )
    listed = {item["teacher_id"] for item in report["items"]}
    assert untrained["id"] in listed and trained["id"] not in listed
    teacher_view = await world.api.get(
        "/v1/teachers/training-gaps", headers=world.teacher_token(trained)
    )
    assert teacher_view.status_code == 403
