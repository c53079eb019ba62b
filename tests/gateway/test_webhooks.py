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

from gateway.dispatcher import NOT_DELIVERED, TARGET_REFUSED
from gateway.policy import DEFAULT_RETRY, RetryPolicy
from gateway.webhooks import SIGNATURE_HEADER, is_public, signature, verify_signature
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
    assert delivery["attempts"] == 2 and delivery["last_error"] == NOT_DELIVERED
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
        "http://example.net/hook",
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


# Names an attacker controls; the fake resolver answers as their DNS would.
FAKE_DNS = {
    "pinned.example": ["93.184.215.14"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "mixed.example": ["93.184.215.14", "10.0.0.7"],
    "multicast.example": ["224.0.0.251"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
}


@pytest.fixture
def fake_dns(suite: Suite) -> Iterator[dict[str, list[str]]]:
    targets = suite.gateway_app.state.webhook_targets
    saved = targets.resolver
    answers = dict(FAKE_DNS)

    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"{host} does not resolve")
        return answers[host]

    targets.resolver = resolve
    yield answers
    targets.resolver = saved


@pytest.mark.parametrize(
    "url",
    [
        "https://vm/hook",
        "https://localhost./hook",
        "https://ip6-localhost/hook",
        "https://127.0.0.1.nip.io/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::]/hook",
        "https://0.0.0.0/hook",
    ],
)
async def test_webhook_names_are_resolved_and_refused_unless_public(suite: Suite, url: str) -> None:
    """With the system's resolver: names that do not resolve, or resolve to this machine."""
    response = await suite.gateway.post(
        "/v1/webhooks",
        headers=await admin(suite),
        json={"url": url, "event_types": [EntryPosted.subject]},
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("webhook-url")


async def test_every_address_of_a_name_must_be_public(
    suite: Suite, fake_dns: dict[str, list[str]]
) -> None:
    bureau = await admin(suite)
    for host in ("mapped.example", "mixed.example", "multicast.example", "nat64.example"):
        body = {"url": f"https://{host}/hook", "event_types": [EntryPosted.subject]}
        response = await suite.gateway.post("/v1/webhooks", headers=bureau, json=body)
        assert response.status_code == 422, host
    body = {"url": "https://pinned.example/hook", "event_types": [EntryPosted.subject]}
    assert (await suite.gateway.post("/v1/webhooks", headers=bureau, json=body)).status_code == 201


def test_public_addresses_only() -> None:
    import ipaddress

    refused = [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "64:ff9b::7f00:1",
    ]
    assert [a for a in refused if is_public(ipaddress.ip_address(a))] == []
    assert is_public(ipaddress.ip_address("93.184.215.14"))
    assert is_public(ipaddress.ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c"))


async def test_delivery_rechecks_the_name_and_pins_the_checked_address(
    suite: Suite, fake_dns: dict[str, list[str]]
) -> None:
    """The delivery connects to the address that was checked, presenting the name as Host
    and TLS server name; once the name points at a private address it is not sent, and the
    log says only that the target is refused. Failures to connect or to read look alike."""
    dispatcher = suite.gateway_app.state.webhooks
    saved = dispatcher.http, dispatcher.policy, dispatcher.poll_seconds
    seen: list[tuple[str, str, object]] = []
    failure: list[Exception] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("host") == "pinned.example":
            if failure:
                raise failure[0]
            seen.append(
                (request.url.host, request.headers["host"], request.extensions.get("sni_hostname"))
            )
        return httpx.Response(204)

    dispatcher.http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    dispatcher.policy = RetryPolicy(
        version="test", base_seconds=0.05, factor=1, cap_seconds=0.05, max_attempts=1
    )
    dispatcher.poll_seconds = 0.05
    try:
        gw = suite.gateway
        bureau = await admin(suite)
        own = await school(suite, bureau, "四小")
        body = {"url": "https://pinned.example/hooks", "event_types": [TeacherRegistered.subject]}
        hook = (await gw.post("/v1/webhooks", headers=bureau, json=body)).json()

        async def register() -> None:
            response = await gw.post(
                "/v1/teachers",
                headers=bureau,
                json={
                    "name": "郑老师",
                    "school_id": own["id"],
                    "stage": "primary",
                    "subject": "美术",
                },
            )
            assert response.status_code == 201, response.text

        async def log_errors(count: int) -> list[str | None] | None:
            url = f"/v1/webhooks/{hook['id']}/deliveries"
            items = (await gw.get(url, headers=bureau)).json()["items"]
            done = [d for d in items if d["status"] != "pending"]
            return [d["last_error"] for d in done] if len(done) >= count else None

        await register()
        await wait_for(lambda: log_errors(1), timeout=30)
        assert seen == [("93.184.215.14", "pinned.example", "pinned.example")]

        fake_dns["pinned.example"] = ["127.0.0.1"]  # DNS rebinding after the check
        await register()
        errors = await wait_for(lambda: log_errors(2), timeout=30)
        assert TARGET_REFUSED in errors and len(seen) == 1

        fake_dns["pinned.example"] = ["93.184.215.14"]
        texts = []
        for exc in (
            httpx.ConnectError("[Errno 111] Connection refused"),
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpx.ReadTimeout("timed out"),
        ):
            failure[:] = [exc]
            before = len(await log_errors(0) or [])
            await register()
            errors = await wait_for(lambda before=before: log_errors(before + 1), timeout=30)
            texts.append(set(errors) - {None, TARGET_REFUSED})
        assert texts == [{NOT_DELIVERED}] * 3
    finally:
        dispatcher.http, dispatcher.policy, dispatcher.poll_seconds = saved
