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
    # In English, as an integrator asks: the messages name the JSON's own fields.
    gw, admin = suite.gateway, {**suite.headers(), "Accept-Language": "en"}
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
    assert_problem(response, 409, mentions="草稿")  # the state as a person reads it
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
    assert_problem(other, 409, mentions="不同的请求")
    assert other.json()["code"] == "idempotency-key-reused"
    assert await counts(suite) == before
    names, cursor = [], None
    while True:  # every page: the suite's other tests make schools too
        params = {"limit": 500} | ({"cursor": cursor} if cursor else {})
        page = (await gw.get("/v1/schools", headers=suite.headers(), params=params)).json()
        names += [school["name"] for school in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert names.count(name) == 1


async def test_a_chinese_speaking_user_sees_every_error_in_chinese(suite: Suite) -> None:
    """No Accept-Language (or zh-CN): Chinese titles and details naming the field as the
    user knows it; the machine code stays the same in both languages."""
    gw, admin = suite.gateway, suite.headers()
    chinese = {**admin, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    english = {**admin, "Accept-Language": "en-US,en;q=0.9"}
    teacher = {
        "name": "周老师",
        "school_id": str(uuid.uuid4()),
        "stage": "primary",
        "subject": "英语",
        "hired_on": "2008/9/1",
    }
    for headers in (admin, chinese):
        refused = await gw.post("/v1/teachers", headers=headers, json=teacher)
        body = refused.json()
        assert refused.status_code == 422 and body["code"] == "validation"
        assert body["title"] == "输入有误"
        assert body["detail"] == "入职日期：须为日期，如 2024-09-01", body
        assert "separator" not in refused.text  # no raw Pydantic text
        assert body["errors"][0]["field"] == "hired_on"
    told = (await gw.post("/v1/teachers", headers=english, json=teacher)).json()
    assert told["code"] == "validation" and told["title"] == "Invalid input"
    assert told["detail"] == "hired_on: must be a date such as 2024-09-01"

    # A domain refusal: the same code, a sentence of the catalogue.
    missing_school = {**teacher, "hired_on": "2008-09-01"}
    domain = (await gw.post("/v1/teachers", headers=admin, json=missing_school)).json()
    assert domain["code"] == "unknown-school"
    assert domain["detail"] == "学校不存在或不属于本区县。" and domain["title"] == "输入有误"
    same = (await gw.post("/v1/teachers", headers=english, json=missing_school)).json()
    assert same["code"] == "unknown-school" and "school does not exist" in same["detail"]

    # The gateway's own answers, and one of a middleware (an odd path), in Chinese too.
    nowhere = (await gw.get("/v1/nowhere", headers=admin)).json()
    assert nowhere["code"] == "not-found" and nowhere["title"] == "未找到"
    unauthenticated = (await gw.get("/v1/schools")).json()
    assert unauthenticated["code"] == "unauthorized" and "登录" in unauthenticated["detail"]
    odd = await gw.get("/v1/schools/%2e%2e/x", headers=admin)
    assert odd.json()["code"] == "path-invalid" or odd.json()["title"] in ("未找到", "请求有误")
    items = await gw.post(
        "/v1/programs", headers=admin, json={"title": "x", "hours": "2.25", "capacity": 0}
    )
    assert "学时最多一位小数" in items.json()["detail"]
