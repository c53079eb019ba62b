"""A program with no clicks after publication, through the gateway over real NATS: enrolment
closes at its time, it starts and finishes by its dates (the calendar job, with a controlled
clock), the institution's early assessment is kept until the program runs, and the hours are
credited; a lottery program selects by its published draw."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import select

from services.enrolment.models import ParkedMessage
from shared.auth import Role
from tests.e2e.test_across_services import PASS, directory, published_program, suite_has_entry
from tests.e2e.test_slice import TODAY, created
from tests.harness import Suite, wait_for


async def calendar_at(suite: Suite, at: dt.datetime) -> None:
    """Let the service's own calendar job run one pass at `at`."""
    worker = suite.apps["enrolment"].state.workers["program-calendar"]
    saved, passes = worker.job.clock, worker.passes
    worker.job.clock = lambda: at
    try:
        worker.wake()
        await wait_for(lambda: worker.passes > passes)
    finally:
        worker.job.clock = saved


async def status_of(gw: httpx.AsyncClient, admin: dict, program: dict) -> str:
    return (await gw.get(f"/v1/programs/{program['id']}", headers=admin)).json()["status"]


async def test_a_program_with_no_clicks_runs_by_its_dates_and_credits_the_hours(
    suite: Suite,
) -> None:
    gw, admin = suite.gateway, suite.headers()
    _, institution, teacher, as_teacher = await directory(suite, "自动")
    as_institution = suite.headers(
        Role.INSTITUTION_ADMIN, institution_id=uuid.UUID(institution["id"])
    )
    closes = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    program = await published_program(
        gw,
        admin,
        institution_id=institution["id"],
        enrol_closes_at=closes.isoformat(),
        starts_on=(TODAY - dt.timedelta(days=2)).isoformat(),
        ends_on=(TODAY - dt.timedelta(days=1)).isoformat(),
    )
    enrolment = await created(
        await gw.post(
            f"/v1/programs/{program['id']}/enrolments",
            headers=as_teacher,
            json={"teacher_id": teacher["id"]},
        )
    )
    assert enrolment["status"] == "confirmed"
    await calendar_at(suite, closes - dt.timedelta(minutes=1))
    assert await status_of(gw, admin, program) == "published"

    # The institution assesses before anything moved in enrolment: kept, not dropped.
    async def assessed() -> httpx.Response | None:
        response = await gw.post(
            f"/v1/enrolments/{enrolment['id']}/assessment",
            headers=as_institution,
            json={"attitude": 5, "assignments": 4, "attendance_rate": "0.95", "passed": True},
        )
        return response if response.status_code == 201 else None

    await wait_for(assessed)

    async def parked() -> bool:
        async with suite.apps["enrolment"].state.database.sessions() as session:
            kept = await session.scalar(
                select(ParkedMessage.status).where(
                    ParkedMessage.enrolment_id == uuid.UUID(enrolment["id"])
                )
            )
        return kept == "parked"

    await wait_for(parked)
    assert (await gw.get(f"/v1/enrolments/{enrolment['id']}", headers=admin)).json()[
        "status"
    ] == "confirmed"

    # The enrolment window's end comes: the calendar closes, starts and finishes it (its
    # dates are past), and the kept assessment completes the place.
    await calendar_at(suite, closes + dt.timedelta(seconds=1))
    assert await status_of(gw, admin, program) == "finished"

    async def completed() -> bool:
        response = await gw.get(f"/v1/enrolments/{enrolment['id']}", headers=admin)
        return response.json()["status"] == "completed"

    await wait_for(completed)
    await wait_for(lambda: suite_has_entry(suite, teacher["id"]))
    rated = await gw.post(f"/v1/programs/{program['id']}/ratings", headers=as_teacher, json=PASS)
    assert rated.status_code == 201, rated.text

    async def credited() -> dict | None:
        body = (await gw.get(f"/v1/teachers/{teacher['id']}/hours", headers=as_teacher)).json()
        return body if body["total_hours"] != "0.0" else None

    assert (await wait_for(credited))["total_hours"] == "24.0"


async def test_a_lottery_program_selects_by_its_published_draw_through_the_gateway(
    suite: Suite,
) -> None:
    gw, admin = suite.gateway, suite.headers()
    school, institution, first, as_first = await directory(suite, "抽签")
    others = [
        await created(
            await gw.post(
                "/v1/teachers",
                headers=admin,
                json={
                    "name": f"抽签{i}",
                    "school_id": school["id"],
                    "stage": "primary",
                    "subject": "数学",
                },
            )
        )
        for i in range(4)
    ]
    opens = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=4)
    closes = opens + dt.timedelta(days=1)
    program = await published_program(
        gw,
        admin,
        institution_id=institution["id"],
        selection="lottery",
        capacity=2,
        enrol_opens_at=opens.isoformat(),
        enrol_closes_at=closes.isoformat(),
        starts_on=(TODAY + dt.timedelta(days=60)).isoformat(),
        ends_on=(TODAY + dt.timedelta(days=61)).isoformat(),
    )
    # The seed is public from publication on, before the window opens.
    seed = (await gw.get(f"/v1/programs/{program['id']}", headers=as_first)).json()["lottery_seed"]
    assert len(seed) == 64

    async def applied(teacher: dict, headers: dict) -> dict | None:
        response = await gw.post(
            f"/v1/programs/{program['id']}/enrolments",
            headers=headers,
            json={"teacher_id": teacher["id"]},
        )
        return response.json() if response.status_code == 201 else None

    places = [await wait_for(lambda: applied(first, as_first))]
    places += [await applied(t, admin) for t in others]
    assert {p["status"] for p in places} == {"applied"}
    await calendar_at(suite, closes)
    draw = (await gw.get(f"/v1/programs/{program['id']}/draw", headers=as_first)).json()
    assert draw["seed"] == seed and draw["applicants"] == 5 and draw["confirmed"] == 2
    outcome = {e["teacher_id"]: e["outcome"] for e in draw["entries"]}
    for place in places:
        now = (await gw.get(f"/v1/enrolments/{place['id']}", headers=admin)).json()
        assert now["status"] == outcome[place["teacher_id"]]
