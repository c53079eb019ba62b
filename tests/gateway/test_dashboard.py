"""GET /v1/me/dashboard: one round trip for the app, partial and marked when a service is down."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.auth import Role
from tests.gateway.helpers import admin, school
from tests.harness import Suite


async def _teacher(suite: Suite) -> tuple[dict, dict[str, str]]:
    bureau = await admin(suite)
    own = await school(suite, bureau)
    teacher = (
        await suite.gateway.post(
            "/v1/teachers",
            headers=bureau,
            json={"name": "钱老师", "school_id": own["id"], "stage": "primary", "subject": "英语"},
        )
    ).json()
    headers = suite.headers(Role.TEACHER, teacher_id=teacher["id"], school_id=own["id"])
    return teacher, headers


@pytest.fixture
def ledger_down(suite: Suite) -> Iterator[None]:
    clients = suite.gateway_app.state.clients.clients
    saved = clients["ledger"]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("ledger is down", request=request)

    clients["ledger"] = httpx.AsyncClient(
        transport=httpx.MockTransport(refuse), base_url="http://ledger"
    )
    yield
    clients["ledger"] = saved


async def test_dashboard_composes_enrolments_and_hours_of_the_teacher(suite: Suite) -> None:
    teacher, headers = await _teacher(suite)
    response = await suite.gateway.get("/v1/me/dashboard", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["teacher_id"] == teacher["id"]
    assert body["enrolments"]["status"] == "ok"
    assert body["enrolments"]["data"]["items"] == []
    assert body["hours"]["status"] == "ok"
    assert body["hours"]["data"]["teacher_id"] == teacher["id"]
    assert body["partial"] is (body["unavailable"] != [])


async def test_dashboard_degrades_to_a_marked_partial_answer(
    suite: Suite, ledger_down: None
) -> None:
    _, headers = await _teacher(suite)
    response = await suite.gateway.get("/v1/me/dashboard", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["partial"] is True
    assert "hours" in body["unavailable"]
    assert body["hours"] == {"status": "unavailable", "data": None, "detail": "ConnectError"}
    assert body["enrolments"]["status"] == "ok"


async def test_dashboard_is_for_teachers(suite: Suite) -> None:
    response = await suite.gateway.get("/v1/me/dashboard", headers=suite.headers(Role.BUREAU_ADMIN))
    assert response.status_code == 403


async def test_dashboard_etag_answers_304_when_unchanged(suite: Suite) -> None:
    _, headers = await _teacher(suite)
    first = await suite.gateway.get("/v1/me/dashboard", headers=headers)
    etag = first.headers["etag"]
    again = await suite.gateway.get("/v1/me/dashboard", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
