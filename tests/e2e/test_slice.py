"""The first slice through everything, driven through the gateway as a client would."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import httpx

from tests.harness import ADMIN_PASSWORD, Suite, wait_for

TODAY = dt.date.today()


def program_body(institution_id: str, **overrides: object) -> dict:
    now = dt.datetime.now(dt.UTC)
    body = {
        "title": "2026年小学数学骨干教师培训",
        "hours": "24.0",
        "capacity": 50,
        "mode": "centralized",
        "level": "district",
        "category": "self_selected",
        "selection": "first_come",
        "institution_id": institution_id,
        "enrol_opens_at": (now - dt.timedelta(hours=1)).isoformat(),
        "enrol_closes_at": (now + dt.timedelta(days=7)).isoformat(),
        "starts_on": (TODAY + dt.timedelta(days=10)).isoformat(),
        "ends_on": (TODAY + dt.timedelta(days=12)).isoformat(),
    }
    body.update(overrides)
    return body


async def created(response: httpx.Response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


async def login(gw: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await gw.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def run_slice(gw: httpx.AsyncClient, admin_password: str) -> None:
    """Admin logs in → directory → program lifecycle → enrol → finish → the teacher logs in
    and, once the ledger has taken the completion event from NATS, reads the hours."""
    admin = await login(gw, "admin", admin_password)
    id_number = f"110105{secrets.randbelow(10**11):011d}X"
    me = (await gw.get("/v1/me", headers=admin)).json()
    assert me["role"] == "bureau_admin" and me["username"] == "admin"

    school = await created(
        await gw.post("/v1/schools", headers=admin, json={"name": "实验小学", "stage": "primary"})
    )
    institution = await created(
        await gw.post("/v1/institutions", headers=admin, json={"name": "区教师进修学校"})
    )
    teacher = await created(
        await gw.post(
            "/v1/teachers",
            headers=admin,
            json={
                "name": "李老师",
                "school_id": school["id"],
                "stage": "primary",
                "subject": "数学",
                "hired_on": "2015-09-01",
                "id_number": id_number,
            },
        )
    )
    assert teacher["id_number_masked"] == id_number[0] + "*" * 16 + id_number[-1]
    assert "id_number" not in teacher
    # A short program that ended yesterday, so that its rating window is open now.
    program = await created(
        await gw.post(
            "/v1/programs",
            headers=admin,
            json=program_body(
                institution["id"],
                starts_on=(TODAY - dt.timedelta(days=2)).isoformat(),
                ends_on=(TODAY - dt.timedelta(days=1)).isoformat(),
            ),
        )
    )
    assert program["status"] == "draft" and program["hours"] == "24.0"

    for action, status in (
        ("submit", "submitted"),
        ("approve", "approved"),
        ("publish", "published"),
    ):
        response = await gw.post(f"/v1/programs/{program['id']}/{action}", headers=admin)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status

    enrolment = await created(
        await gw.post(
            f"/v1/programs/{program['id']}/enrolments",
            headers=admin,
            json={"teacher_id": teacher["id"]},
        )
    )
    assert enrolment["status"] == "confirmed"

    for action in ("close-enrolment", "start"):
        response = await gw.post(f"/v1/programs/{program['id']}/{action}", headers=admin)
        assert response.status_code == 200, response.text
    finished = await gw.post(
        f"/v1/programs/{program['id']}/finish",
        headers=admin,
        json={
            "results": [
                {"enrolment_id": enrolment["id"], "attendance_rate": "0.95", "passed": True}
            ]
        },
    )
    assert finished.status_code == 200, finished.text
    assert finished.json()["status"] == "finished"
    done = (await gw.get(f"/v1/enrolments/{enrolment['id']}", headers=admin)).json()
    assert done["status"] == "completed" and done["passed"] is True

    account = await created(
        await gw.post(
            "/v1/accounts",
            headers=admin,
            json={
                "username": f"li-{uuid.uuid4().hex[:6]}",
                "password": "teacher-pass-1",
                "role": "teacher",
                "teacher_id": teacher["id"],
            },
        )
    )
    assert account["school_id"] == school["id"]
    as_teacher = await login(gw, account["username"], "teacher-pass-1")

    # R17: the teacher sees the program's hours only once they have rated it. Feedback
    # learns of the program's end and of the teacher's place from enrolment's events.
    async def rated() -> httpx.Response | None:
        response = await gw.post(
            f"/v1/programs/{program['id']}/ratings",
            headers=as_teacher,
            json={"overall": 5, "format": 4, "instructors": 5, "management": 4},
        )
        return response if response.status_code == 201 else None

    await wait_for(rated)

    async def credited() -> dict | None:
        response = await gw.get(f"/v1/teachers/{teacher['id']}/hours", headers=as_teacher)
        assert response.status_code == 200, response.text
        body = response.json()
        return body if body["total_hours"] != "0.0" else None

    hours = await wait_for(credited)
    assert hours["total_hours"] == "24.0"
    assert hours["by_mode"] == {"centralized": "24.0"}
    assert hours["by_level"] == {"district": "24.0"}
    assert hours["by_category"] == {"self_selected": "24.0"}
    annual = next(r for r in hours["requirements"] if r["rule"] == "R12.annual_minimum")
    assert annual == {
        "unit": "hours",
        "rule": "R12.annual_minimum",
        "label": "本年度学时",
        "required": "72.0",
        "achieved": "24.0",
        "missing": "48.0",
        "met": False,
    }
    ledger = (await gw.get(f"/v1/teachers/{teacher['id']}/ledger", headers=as_teacher)).json()
    assert [e["source_ref"] for e in ledger["items"]] == [enrolment["id"]]


async def test_slice_program_completion_credits_hours_visible_to_teacher(suite: Suite) -> None:
    await run_slice(suite.gateway, ADMIN_PASSWORD)


async def test_teacher_cannot_read_another_teachers_hours(suite: Suite) -> None:
    gw = suite.gateway
    admin = await suite.login("admin", ADMIN_PASSWORD)
    school = await created(
        await gw.post("/v1/schools", headers=admin, json={"name": "二中", "stage": "junior"})
    )
    mine, other = [
        await created(
            await gw.post(
                "/v1/teachers",
                headers=admin,
                json={
                    "name": name,
                    "school_id": school["id"],
                    "stage": "junior",
                    "subject": "语文",
                },
            )
        )
        for name in ("王老师", "赵老师")
    ]
    account = await created(
        await gw.post(
            "/v1/accounts",
            headers=admin,
            json={
                "username": f"wang-{uuid.uuid4().hex[:6]}",
                "password": "teacher-pass-2",
                "role": "teacher",
                "teacher_id": mine["id"],
            },
        )
    )
    as_teacher = await suite.login(account["username"], "teacher-pass-2")
    own = await gw.get(f"/v1/teachers/{mine['id']}/hours", headers=as_teacher)
    assert own.status_code == 200
    refused = await gw.get(f"/v1/teachers/{other['id']}/hours", headers=as_teacher)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 403
    also_refused = await gw.get(f"/v1/teachers/{other['id']}/ledger", headers=as_teacher)
    assert also_refused.status_code == 403
    no_token = await gw.get(f"/v1/teachers/{mine['id']}/hours")
    assert no_token.status_code == 401
