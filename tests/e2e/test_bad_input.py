"""Bad input gets a 4xx problem+json with a clear message and changes nothing."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from services.enrolment.models import Program, School, infra
from tests.e2e.test_slice import program_body
from tests.harness import Suite


async def counts(suite: Suite) -> tuple[int, int, int]:
    async with suite.apps["enrolment"].state.database.sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(School)),
            await session.scalar(select(func.count()).select_from(Program)),
            await session.scalar(select(func.count()).select_from(infra.outbox)),
        )


def assert_problem(response, status: int, *, mentions: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert mentions in body["detail"], body


async def test_bad_input_is_refused_with_problem_json_and_writes_nothing(suite: Suite) -> None:
    gw, admin = suite.gateway, suite.headers()
    institution = (
        await gw.post("/v1/institutions", headers=admin, json={"name": "进修学校"})
    ).json()
    before = await counts(suite)

    assert_problem(
        await gw.post(
            "/v1/schools", headers=admin, json={"name": "实验中学", "stage": "university"}
        ),
        422,
        mentions="stage",
    )
    assert_problem(
        await gw.post(
            "/v1/schools",
            headers=admin,
            json={"name": "实验中学", "stage": "junior", "id": str(uuid.uuid4())},
        ),
        422,
        mentions="id",
    )  # no mass assignment of server-owned fields
    assert_problem(
        await gw.post(
            "/v1/schools",
            headers={**admin, "content-type": "application/json"},
            content=b'{"name": "unterminated',
        ),
        422,
        mentions="JSON",
    )
    late = program_body(institution["id"], starts_on="2026-12-10", ends_on="2026-12-01")
    assert_problem(await gw.post("/v1/programs", headers=admin, json=late), 422, mentions="ends_on")
    assert_problem(
        await gw.post(
            "/v1/programs", headers=admin, json=program_body(institution["id"], hours="2.25")
        ),
        422,
        mentions="one decimal place",
    )
    assert_problem(
        await gw.post(
            "/v1/teachers",
            headers=admin,
            json={
                "name": "周老师",
                "school_id": str(uuid.uuid4()),
                "stage": "primary",
                "subject": "英语",
            },
        ),
        422,
        mentions="school does not exist",
    )
    assert_problem(
        await gw.post(
            "/v1/teachers",
            headers=admin,
            json={
                "name": "周老师",
                "school_id": str(uuid.uuid4()),
                "stage": "primary",
                "subject": "英语",
                "id_number": "12345",
            },
        ),
        422,
        mentions="id_number",
    )
    assert_problem(await gw.get("/v1/schools/not-a-uuid", headers=admin), 422, mentions="school_id")
    assert_problem(await gw.get("/v1/nowhere", headers=admin), 404, mentions="/v1/nowhere")

    assert await counts(suite) == before


async def test_a_refused_transition_changes_nothing(suite: Suite) -> None:
    gw, admin = suite.gateway, suite.headers()
    institution = (
        await gw.post("/v1/institutions", headers=admin, json={"name": "师范大学"})
    ).json()
    program = (
        await gw.post("/v1/programs", headers=admin, json=program_body(institution["id"]))
    ).json()
    before = await counts(suite)
    response = await gw.post(f"/v1/programs/{program['id']}/publish", headers=admin)
    assert_problem(response, 409, mentions="draft")
    assert response.json()["status_now"] == "draft"
    assert (await gw.get(f"/v1/programs/{program['id']}", headers=admin)).json()[
        "status"
    ] == "draft"
    assert await counts(suite) == before


async def test_idempotency_key_replays_the_first_response_and_refuses_another_body(
    suite: Suite,
) -> None:
    gw = suite.gateway
    admin = {**suite.headers(), "Idempotency-Key": f"create-school-{uuid.uuid4()}"}
    name = f"育才小学{uuid.uuid4().hex[:6]}"
    body = {"name": name, "stage": "primary"}
    first = await gw.post("/v1/schools", headers=admin, json=body)
    again = await gw.post("/v1/schools", headers=admin, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    before = await counts(suite)
    other = await gw.post("/v1/schools", headers=admin, json={**body, "name": name + "分校"})
    assert_problem(other, 409, mentions="different request")
    assert await counts(suite) == before
    names, cursor = [], None
    while True:  # every page: the suite's other tests make schools too
        params = {"limit": 500} | ({"cursor": cursor} if cursor else {})
        page = (await gw.get("/v1/schools", headers=suite.headers(), params=params)).json()
        names += [school["name"] for school in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert names.count(name) == 1
