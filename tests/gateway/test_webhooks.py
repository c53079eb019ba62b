"""Outbound webhooks: signed deliveries of enrolment and hours events, in scope only, that
survive the receiver's downtime without losing any."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway.policy import DEFAULT_RETRY, RetryPolicy
from gateway.webhooks import SIGNATURE_HEADER, signature, verify_signature
from shared.auth import Role
from shared.events.enrolment import EnrolmentConfirmed, TeacherRegistered
from shared.events.ledger import EntryPosted
from tests.gateway.helpers import admin, client_token, school, service_account
from tests.harness import Suite, wait_for

SUBJECTS = [TeacherRegistered.subject, EnrolmentConfirmed.subject, EntryPosted.subject]


@dataclass
class Receiver:
    """An integrator's endpoint that can be down; it checks every signature it gets."""

    secret: str = ""
    up: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    refused_while_down: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            self.refused_while_down += 1
            raise httpx.ConnectError("receiver is down", request=request)
        body = request.content.decode()
        if not verify_signature(self.secret, request.headers[SIGNATURE_HEADER], body):
            return httpx.Response(400)
        self.received.append({"headers": dict(request.headers), "body": json.loads(body)})
        return httpx.Response(204)


@pytest.fixture
def receiver(suite: Suite) -> Iterator[Receiver]:
    dispatcher = suite.gateway_app.state.webhooks
    saved = dispatcher.http, dispatcher.policy, dispatcher.poll_seconds
    target = Receiver()
    dispatcher.http = httpx.AsyncClient(transport=httpx.MockTransport(target))
    dispatcher.policy = RetryPolicy(
        version="test", base_seconds=0.05, factor=2, cap_seconds=0.3, max_attempts=1000
    )
    dispatcher.poll_seconds = 0.05
    yield target
    dispatcher.http, dispatcher.policy, dispatcher.poll_seconds = saved


def test_signature_covers_timestamp_and_body() -> None:
    body = '{"a":1}'
    now = int(dt.datetime.now(dt.UTC).timestamp())
    header = signature("s3cret", now, body)
    assert verify_signature("s3cret", header, body)
    assert not verify_signature("s3cret", header, '{"a":2}')
    assert not verify_signature("other", header, body)
    stale = signature("s3cret", now - 3600, body)
    assert not verify_signature("s3cret", stale, body)


async def _run_a_program(suite: Suite, headers: dict[str, str], teachers: list[dict]) -> None:
    from tests.e2e.test_slice import program_body

    gw = suite.gateway
    institution = (await gw.post("/v1/institutions", headers=headers, json={"name": "进修"})).json()
    program = (
        await gw.post("/v1/programs", headers=headers, json=program_body(institution["id"]))
    ).json()
    for action in ("submit", "approve", "publish"):
        assert (await gw.post(f"/v1/programs/{program['id']}/{action}", headers=headers)).is_success
    enrolments = []
    for teacher in teachers:
        response = await gw.post(
            f"/v1/programs/{program['id']}/enrolments",
            headers=headers,
            json={"teacher_id": teacher["id"]},
        )
        assert response.status_code == 201, response.text
        enrolments.append(response.json())
    for action in ("close-enrolment", "start"):
        assert (await gw.post(f"/v1/programs/{program['id']}/{action}", headers=headers)).is_success
    results = [
        {"enrolment_id": e["id"], "attendance_rate": "1.0", "passed": True} for e in enrolments
    ]
    finished = await gw.post(
        f"/v1/programs/{program['id']}/finish", headers=headers, json={"results": results}
    )
    assert finished.status_code == 200, finished.text


async def test_receiver_gets_signed_enrolment_and_hours_events_of_its_school_despite_downtime(
    suite: Suite, receiver: Receiver
) -> None:
    gw = suite.gateway
    bureau = await admin(suite)
    mine, other = await school(suite, bureau, "一小"), await school(suite, bureau, "二小")
    client = await service_account(suite, ["events:subscribe"], school_id=mine["id"])
    token = (await client_token(suite, client)).json()["access_token"]
    as_client = {"Authorization": f"Bearer {token}"}
    created = await gw.post(
        "/v1/webhooks",
        headers=as_client,
        json={"url": "https://school-system.example/hooks", "event_types": SUBJECTS},
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    receiver.secret = hook["secret"]
    assert hook["school_id"] == mine["id"]

    teachers = []
    trace_id = secrets.token_hex(16)
    for school_row in (mine, other):
        response = await gw.post(
            "/v1/teachers",
            headers={**bureau, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
            json={
                "name": "周老师",
                "school_id": school_row["id"],
                "stage": "primary",
                "subject": "数学",
            },
        )
        teachers.append(response.json())
    ours, theirs = teachers
    await _run_a_program(suite, bureau, teachers)

    async def log() -> list[dict]:
        response = await gw.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=as_client)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    async def retried_while_down() -> bool:
        entries = await log()
        subjects = {e["subject"] for e in entries}
        return set(SUBJECTS) <= subjects and all(e["attempts"] >= 2 for e in entries)

    await wait_for(retried_while_down, timeout=60)
    assert receiver.received == [] and receiver.refused_while_down >= 6

    receiver.up = True

    async def all_delivered() -> list[dict] | None:
        entries = await log()
        return entries if all(e["status"] == "delivered" for e in entries) else None

    entries = await wait_for(all_delivered, timeout=30)
    got = {(r["body"]["type"], r["body"]["data"]["teacher_id"]) for r in receiver.received}
    assert got == {(subject, ours["id"]) for subject in SUBJECTS}
    assert all(r["body"]["data"]["teacher_id"] != theirs["id"] for r in receiver.received)
    assert len(entries) == len(SUBJECTS)
    assert {r["headers"]["shixun-event-id"] for r in receiver.received} == {
        e["event_id"] for e in entries
    }
    # The trace of the request that registered the teacher reaches the integrator.
    registered = next(r for r in receiver.received if r["body"]["type"] == SUBJECTS[0])
    assert registered["headers"]["traceparent"].split("-")[1] == trace_id


async def test_only_scoped_roles_subscribe_to_known_event_types(suite: Suite) -> None:
    gw = suite.gateway
    body = {"url": "https://example.org/hook", "event_types": [EntryPosted.subject]}
    teacher = suite.headers(Role.TEACHER, teacher_id=None)
    assert (await gw.post("/v1/webhooks", headers=teacher, json=body)).status_code == 403
    client = await service_account(suite, ["hours:read"])
    token = (await client_token(suite, client)).json()["access_token"]
    no_scope = await gw.post(
        "/v1/webhooks", headers={"Authorization": f"Bearer {token}"}, json=body
    )
    assert no_scope.status_code == 403
    unknown = await gw.post(
        "/v1/webhooks", headers=await admin(suite), json={**body, "event_types": ["x.y.v1"]}
    )
    assert unknown.status_code == 422


async def test_a_webhook_log_is_its_owners_only(suite: Suite) -> None:
    gw = suite.gateway
    body = {"url": "https://example.org/hook", "event_types": [EntryPosted.subject]}
    hook = (await gw.post("/v1/webhooks", headers=await admin(suite), json=body)).json()
    other_bureau_admin = suite.headers(Role.BUREAU_ADMIN)
    response = await gw.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=other_bureau_admin)
    assert response.status_code == 404
    deleted = await gw.delete(f"/v1/webhooks/{hook['id']}", headers=other_bureau_admin)
    assert deleted.status_code == 404


async def test_a_failed_delivery_can_be_redelivered(suite: Suite, receiver: Receiver) -> None:
    suite.gateway_app.state.webhooks.policy = RetryPolicy(
        version="test", base_seconds=0.05, factor=1, cap_seconds=0.05, max_attempts=2
    )
    gw = suite.gateway
    bureau = await admin(suite)
    own = await school(suite, bureau, "三小")
    hook = (
        await gw.post(
            "/v1/webhooks",
            headers=bureau,
            json={
                "url": "https://bureau.example/hooks",
                "event_types": [TeacherRegistered.subject],
            },
        )
    ).json()
    receiver.secret = hook["secret"]
    teacher = (
        await gw.post(
            "/v1/teachers",
            headers=bureau,
            json={"name": "吴老师", "school_id": own["id"], "stage": "primary", "subject": "音乐"},
        )
    ).json()

    async def failed() -> dict | None:
        items = (await gw.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=bureau)).json()
        return next((d for d in items["items"] if d["status"] == "failed"), None)

    delivery = await wait_for(failed, timeout=30)
    assert delivery["attempts"] == 2 and "ConnectError" in delivery["last_error"]
    receiver.up = True
    again = await gw.post(
        f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver", headers=bureau
    )
    assert again.status_code == 200 and again.json()["status"] == "pending"
    await wait_for(lambda: receiver.received, timeout=30)
    assert receiver.received[0]["body"]["data"]["teacher_id"] == teacher["id"]


def test_retry_policy_backs_off_exponentially_up_to_the_cap() -> None:
    policy = DEFAULT_RETRY
    delays = [policy.delay(n) for n in range(1, policy.max_attempts)]
    assert delays[:4] == [5, 10, 20, 40]
    assert max(delays) == policy.cap_seconds
    # A receiver down overnight still gets its deliveries before they are marked failed.
    assert sum(delays) >= 8 * 3600


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/hook",
        "https://localhost/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "https://intranet.local/hook",
    ],
)
async def test_webhooks_go_to_public_https_endpoints_only(suite: Suite, url: str) -> None:
    response = await suite.gateway.post(
        "/v1/webhooks",
        headers=await admin(suite),
        json={"url": url, "event_types": [EntryPosted.subject]},
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("webhook-url")
