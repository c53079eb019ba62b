"""Scenarios that need several services at once, driven through the gateway over real NATS:
the evaluation gates (R6, R17), assessment turning into completion and hours (R24), and the
money following enrolment (R22, the funding choreography)."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx

from shared.auth import Role
from tests.e2e.test_slice import TODAY, created, program_body
from tests.harness import Suite, wait_for

PASS = {"overall": 5, "format": 4, "instructors": 5, "management": 4}


async def published_program(gw: httpx.AsyncClient, admin: dict, **fields: object) -> dict:
    program = await created(
        await gw.post("/v1/programs", headers=admin, json=program_body(**fields))
    )
    for action in ("submit", "approve", "publish"):
        response = await gw.post(f"/v1/programs/{program['id']}/{action}", headers=admin)
        assert response.status_code == 200, response.text
    return program


async def run_program(gw: httpx.AsyncClient, admin: dict, program: dict, **finish: object) -> None:
    for action in ("close-enrolment", "start", "finish"):
        body = finish if action == "finish" else None
        response = await gw.post(f"/v1/programs/{program['id']}/{action}", headers=admin, json=body)
        assert response.status_code == 200, response.text


async def directory(suite: Suite, tag: str) -> tuple[dict, dict, dict, dict]:
    gw, admin = suite.gateway, suite.headers()
    school = await created(
        await gw.post("/v1/schools", headers=admin, json={"name": f"{tag}小学", "stage": "primary"})
    )
    institution = await created(
        await gw.post("/v1/institutions", headers=admin, json={"name": f"{tag}进修学校"})
    )
    teacher = await created(
        await gw.post(
            "/v1/teachers",
            headers=admin,
            json={
                "name": f"{tag}老师",
                "school_id": school["id"],
                "stage": "primary",
                "subject": "数学",
                "hired_on": "2012-09-01",
            },
        )
    )
    as_teacher = suite.headers(
        Role.TEACHER, teacher_id=uuid.UUID(teacher["id"]), school_id=uuid.UUID(school["id"])
    )
    return school, institution, teacher, as_teacher


async def test_r6_r17_r24_assessment_completes_and_rating_opens_next_term_and_hours(
    suite: Suite,
) -> None:
    gw, admin = suite.gateway, suite.headers()
    _, institution, teacher, as_teacher = await directory(suite, "评价")
    as_institution = suite.headers(
        Role.INSTITUTION_ADMIN, institution_id=uuid.UUID(institution["id"])
    )
    # This term's program, ended yesterday; next term's opens for enrolment now.
    this_term = await published_program(
        gw,
        admin,
        institution_id=institution["id"],
        starts_on=(TODAY - dt.timedelta(days=2)).isoformat(),
        ends_on=(TODAY - dt.timedelta(days=1)).isoformat(),
    )
    next_year = TODAY.year + 1
    next_term = await published_program(
        gw,
        admin,
        institution_id=institution["id"],
        title="下学期培训",
        starts_on=f"{next_year}-03-02",
        ends_on=f"{next_year}-03-04",
    )
    enrolment = await created(
        await gw.post(
            f"/v1/programs/{this_term['id']}/enrolments",
            headers=as_teacher,
            json={"teacher_id": teacher["id"]},
        )
    )
    assert enrolment["status"] == "confirmed"
    await run_program(gw, admin, this_term)

    # R24: the institution assesses the trainee in feedback; enrolment completes it.
    async def assessed() -> httpx.Response | None:
        response = await gw.post(
            f"/v1/enrolments/{enrolment['id']}/assessment",
            headers=as_institution,
            json={"attitude": 5, "assignments": 4, "attendance_rate": "0.95", "passed": True},
        )
        return response if response.status_code == 201 else None

    await wait_for(assessed)

    async def completed() -> bool:
        response = await gw.get(f"/v1/enrolments/{enrolment['id']}", headers=admin)
        return response.json()["status"] == "completed"

    await wait_for(completed)

    # R6: with this term's program unrated, next term's enrolment is refused.
    refused = await gw.post(
        f"/v1/programs/{next_term['id']}/enrolments",
        headers=as_teacher,
        json={"teacher_id": teacher["id"]},
    )
    assert refused.status_code in (409, 422), refused.text
    assert refused.json()["type"].endswith("r6-evaluation-pending")
    pending = (
        await gw.get(f"/v1/teachers/{teacher['id']}/pending-evaluations", headers=as_teacher)
    ).json()
    assert this_term["id"] in str(pending)

    # R17: the ledger credited the hours but shows them only after the rating.
    async def hours() -> dict:
        return (await gw.get(f"/v1/teachers/{teacher['id']}/hours", headers=as_teacher)).json()

    await wait_for(lambda: suite_has_entry(suite, teacher["id"]))
    assert (await hours())["total_hours"] == "0.0"

    rated = await gw.post(f"/v1/programs/{this_term['id']}/ratings", headers=as_teacher, json=PASS)
    assert rated.status_code == 201, rated.text

    async def enrolled_next_term() -> httpx.Response | None:
        response = await gw.post(
            f"/v1/programs/{next_term['id']}/enrolments",
            headers=as_teacher,
            json={"teacher_id": teacher["id"]},
        )
        return response if response.status_code == 201 else None

    assert (await wait_for(enrolled_next_term)).json()["status"] == "confirmed"

    async def visible() -> dict | None:
        body = await hours()
        return body if body["total_hours"] != "0.0" else None

    assert (await wait_for(visible))["total_hours"] == "24.0"


async def suite_has_entry(suite: Suite, teacher_id: str) -> bool:
    response = await suite.gateway.get(f"/v1/teachers/{teacher_id}/ledger", headers=suite.headers())
    return bool(response.json()["items"])


async def test_r22_money_follows_enrolment_and_a_poor_school_is_refused_a_seat(
    suite: Suite,
) -> None:
    gw, admin = suite.gateway, suite.headers()
    school, institution, first, _ = await directory(suite, "经费")
    others = [
        await created(
            await gw.post(
                "/v1/teachers",
                headers=admin,
                json={
                    "name": name,
                    "school_id": school["id"],
                    "stage": "primary",
                    "subject": "语文",
                },
            )
        )
        for name in ("钱老师", "孙老师")
    ]
    starts = TODAY + dt.timedelta(days=20)

    async def pool() -> httpx.Response | None:
        response = await gw.post(
            "/v1/funds",
            headers=admin,
            json={
                "fiscal_year": starts.year,
                "source": "public_funds",
                "school_id": school["id"],
                "basis_fen": 1_000_000,
            },
        )
        return response if response.status_code == 201 else None

    fund = (await wait_for(pool)).json()  # budget learns of the school from enrolment's event
    assert fund["amount_fen"] == 100_000  # R20: 10 % of the public-funds budget
    program = await published_program(
        gw,
        admin,
        institution_id=institution["id"],
        title="收费培训",
        starts_on=starts.isoformat(),
        ends_on=(starts + dt.timedelta(days=1)).isoformat(),
        cost_per_participant_fen=40_000,
        funded_by="school",
    )

    places = []
    for teacher in (first, *others):
        place = await created(
            await gw.post(
                f"/v1/programs/{program['id']}/enrolments",
                headers=admin,
                json={"teacher_id": teacher["id"]},
            )
        )
        assert place["status"] == "pending_funds"
        places.append(place)

    async def settled() -> list[str] | None:
        statuses = [
            (await gw.get(f"/v1/enrolments/{p['id']}", headers=admin)).json()["status"]
            for p in places
        ]
        return statuses if "pending_funds" not in statuses else None

    assert await wait_for(settled) == ["confirmed", "confirmed", "refused"]
    balance = (await gw.get(f"/v1/funds/{fund['id']}", headers=admin)).json()
    assert (balance["committed_fen"], balance["available_fen"]) == (80_000, 20_000)

    withdrawn = await gw.post(f"/v1/enrolments/{places[0]['id']}/withdraw", headers=admin)
    assert withdrawn.status_code == 200, withdrawn.text

    async def released() -> dict | None:
        body = (await gw.get(f"/v1/funds/{fund['id']}", headers=admin)).json()
        return body if body["committed_fen"] == 40_000 else None

    assert (await wait_for(released))["available_fen"] == 60_000
