"""Sessions and check-in by QR code (扫码签到): a signed code that changes every 30 s; an
expired, forged or foreign code is refused; a check-in marks the day present (R5); each
teacher has an iCalendar feed of their sessions."""

from __future__ import annotations

import datetime as dt
import uuid

from services.enrolment.eligibility import district_today
from services.enrolment.sessions import check_code, code_at
from shared.errors import Unprocessable
from tests.enrolment.conftest import World, ok

T0 = dt.datetime(2026, 12, 8, 1, 0, 0, tzinfo=dt.UTC)


def refused(code: str, session_id: uuid.UUID, at: dt.datetime) -> str | None:
    try:
        check_code(code, session_id, at)
    except Unprocessable as problem:
        return problem.code
    return None


async def test_a_code_lives_two_periods_and_names_its_session(world: World) -> None:
    session_id, other = uuid.uuid4(), uuid.uuid4()
    code, expires = code_at(session_id, T0)
    assert expires == T0 + dt.timedelta(seconds=30)
    assert refused(code, session_id, T0) is None
    assert refused(code, session_id, T0 + dt.timedelta(seconds=59)) is None  # scanned as it changed
    assert refused(code, session_id, T0 + dt.timedelta(seconds=60)) == "check-in-code-expired"
    assert refused(code, other, T0) == "check-in-code-foreign"
    assert code_at(session_id, T0 + dt.timedelta(seconds=30))[0] != code  # it rotates
    head, window, mac = code.split(".")
    forged = f"{head}.{int(window) + 1}.{mac}"  # a later window with the old signature
    assert refused(forged, session_id, T0 + dt.timedelta(seconds=30)) == "check-in-code-invalid"
    assert refused(f"{other}.{window}.{mac}", other, T0) == "check-in-code-invalid"
    assert refused("not a code", session_id, T0) == "check-in-code-invalid"


async def running_program_with_a_session(world: World) -> tuple[dict, dict, dict, dict, dict]:
    school = await world.school()
    institution = await world.institution()
    today = district_today()
    program = await world.program(
        institution,
        starts_on=(today - dt.timedelta(days=1)).isoformat(),
        ends_on=(today + dt.timedelta(days=1)).isoformat(),
    )
    teacher = await world.teacher(school)
    enrolment = ok(await world.enrol(program, teacher), 201)
    for action in ("close-enrolment", "start"):
        await world.move(program, action)
    now = dt.datetime.now(dt.UTC)
    held = ok(
        await world.api.post(
            f"/v1/programs/{program['id']}/sessions",
            headers=world.institution_admin(institution),
            json={
                "starts_at": (now - dt.timedelta(minutes=5)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
                "place": "进修学校 3 楼报告厅",
            },
        ),
        201,
    )
    return program, institution, teacher, enrolment, held


async def test_a_trainee_checks_in_with_the_screens_code_once_and_is_marked_present(
    world: World,
) -> None:
    program, institution, teacher, enrolment, held = await running_program_with_a_session(world)
    url = f"/v1/sessions/{held['id']}"
    shown = ok(
        await world.api.get(f"{url}/check-in-code", headers=world.institution_admin(institution))
    )
    assert shown["rotates_every"] == 30
    mine = world.teacher_token(teacher)
    first = ok(
        await world.api.post(f"{url}/check-ins", headers=mine, json={"code": shown["code"]}), 201
    )
    assert first["late"] is False and first["enrolment_id"] == enrolment["id"]
    again = ok(await world.api.post(f"{url}/check-ins", headers=mine, json={"code": shown["code"]}))
    assert again["id"] == first["id"]
    roster = ok(await world.api.get(f"/v1/programs/{program['id']}/roster", headers=world.bureau))
    (entry,) = [e for e in roster if e["enrolment_id"] == enrolment["id"]]
    assert (entry["sessions"], entry["attended"], entry["attendance_rate"]) == (1, 1, "1.000")
    # The code is not for the teacher to make up, nor for someone not on the program.
    stranger = await world.teacher(await world.school())
    foreign = await world.api.post(
        f"{url}/check-ins", headers=world.teacher_token(stranger), json={"code": shown["code"]}
    )
    assert foreign.status_code == 403 and foreign.json()["type"].endswith("not-a-trainee")
    head, window, _ = shown["code"].split(".")
    forged = await world.api.post(
        f"{url}/check-ins", headers=mine, json={"code": f"{head}.{window}.{'0' * 32}"}
    )
    assert forged.status_code == 422 and forged.json()["type"].endswith("check-in-code-invalid")
    # Only whoever runs the program gets the code for the screen.
    assert (await world.api.get(f"{url}/check-in-code", headers=mine)).status_code == 403


async def test_a_code_of_another_session_is_refused(world: World) -> None:
    program, institution, teacher, _, held = await running_program_with_a_session(world)
    now = dt.datetime.now(dt.UTC)
    other = ok(
        await world.api.post(
            f"/v1/programs/{program['id']}/sessions",
            headers=world.bureau,
            json={
                "starts_at": (now - dt.timedelta(minutes=1)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
                "online_url": "https://meeting.example.cn/j/123",
            },
        ),
        201,
    )
    shown = ok(
        await world.api.get(
            f"/v1/sessions/{other['id']}/check-in-code",
            headers=world.institution_admin(institution),
        )
    )
    wrong = await world.api.post(
        f"/v1/sessions/{held['id']}/check-ins",
        headers=world.teacher_token(teacher),
        json={"code": shown["code"]},
    )
    assert wrong.status_code == 422 and wrong.json()["type"].endswith("check-in-code-foreign")


async def test_each_teacher_has_an_icalendar_feed_of_their_sessions(world: World) -> None:
    program, _, teacher, _, held = await running_program_with_a_session(world)
    feed = await world.api.get(
        f"/v1/teachers/{teacher['id']}/sessions.ics", headers=world.teacher_token(teacher)
    )
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    text = feed.text
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert f"UID:{held['id']}@shixun" in text
    assert f"SUMMARY:{program['title']}" in text and "LOCATION:进修学校 3 楼报告厅" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    stranger = await world.teacher(await world.school())
    other = await world.api.get(
        f"/v1/teachers/{teacher['id']}/sessions.ics", headers=world.teacher_token(stranger)
    )
    assert other.status_code in (403, 404)
