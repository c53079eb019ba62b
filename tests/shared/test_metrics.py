"""/metrics on every part: latency by route template, worker runs, figures computed at scrape
time (outbox backlog, consumer lag), and who may read it."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import infra
from shared import operations
from shared.config import CommonSettings
from shared.db import Database
from shared.events.enrolment import SchoolRegistered
from shared.events.feedback import RatingSubmitted
from shared.messaging.gauges import refresh_messaging_gauges
from shared.messaging.inbox import ConsumerGroup, HandlerRegistry
from shared.messaging.nats import NatsLink
from shared.messaging.outbox import add_event
from shared.messaging.relay import OutboxRelay
from shared.metrics import CONSUMER_ACK_PENDING, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from tests.harness import Suite, wait_for
from tests.shared.test_outbox import database  # noqa: F401 - fixture

PARTS = ("gateway", "enrolment", "ledger", "budget", "feedback")


def client_of(suite: Suite, part: str, address: str = "127.0.0.1") -> httpx.AsyncClient:
    app = suite.gateway_app if part == "gateway" else suite.apps[part]
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{part}")


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in the Prometheus text format, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        series, value = line.rsplit(" ", 1)
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


async def test_latency_is_labelled_by_route_template_never_the_raw_path(suite: Suite) -> None:
    program_id = uuid.uuid4()
    response = await suite.gateway.get(f"/v1/programs/{program_id}", headers=suite.headers())
    assert response.status_code == 404
    await suite.gateway.get(f"/v1/no-such-thing/{program_id}")
    async with client_of(suite, "gateway") as gateway, client_of(suite, "enrolment") as service:
        at_gateway = (await gateway.get("/metrics")).text
        at_service = (await service.get("/metrics")).text
    name = "shixun_http_request_duration_seconds_count"
    assert sample(at_gateway, name, part="gateway", route="forwarded:enrolment", status="404")
    assert sample(at_gateway, name, part="gateway", route="/v1/{path:path}", status="404")
    assert sample(
        at_service, name, part="enrolment", route="/v1/programs/{program_id}", status="404"
    )
    assert str(program_id) not in at_gateway and str(program_id) not in at_service


async def test_every_part_serves_metrics_with_its_workers_runs(suite: Suite) -> None:
    for part in PARTS:
        async with client_of(suite, part) as client:
            response = await client.get("/metrics")
        assert response.status_code == 200, (part, response.text)
        assert response.headers["content-type"].startswith("text/plain")
        assert sample(response.text, "shixun_worker_runs_total", part=part, outcome="ok")
        if part != "gateway":  # it publishes nothing
            assert sample(response.text, "shixun_outbox_backlog", part=part) is not None
        assert sample(response.text, "shixun_dead_letters", part=part) is not None
    # The workers beside the relay and the consumers report their runs too.
    for part, worker in (
        ("enrolment", "offer-expiry"),
        ("enrolment", "roster-imports"),
        ("ledger", "ledger-imports"),
        ("feedback", "feedback-deadlines"),
        ("gateway", "webhook-deliveries"),
    ):

        async def ran(part: str = part, worker: str = worker) -> float | None:
            async with client_of(suite, part) as client:
                text = (await client.get("/metrics")).text
            return sample(text, "shixun_worker_runs_total", part=part, worker=worker)

        assert await wait_for(ran, timeout=30)


async def test_who_may_read_metrics(suite: Suite, monkeypatch: pytest.MonkeyPatch) -> None:
    def settings(**values: str) -> None:
        # Patched where /metrics reads them, not in the environment every part shares.
        monkeypatch.setattr(operations, "common", lambda: CommonSettings(**values))

    async with client_of(suite, "gateway", "203.0.113.9") as outsider:
        assert (await outsider.get("/metrics")).status_code == 403
        settings(shixun_metrics_token="scrape-secret")
        assert (await outsider.get("/metrics")).status_code == 401
        wrong = await outsider.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await outsider.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200 and "shixun_http_request_duration_seconds" in right.text
    settings(shixun_env="production")
    async with client_of(suite, "gateway") as local:
        assert (await local.get("/metrics")).status_code == 404  # production: a token or nothing
    document = (await suite.gateway.get("/openapi.json")).json()
    assert "/metrics" not in document["paths"]


async def test_outbox_backlog_and_oldest_age_are_computed_at_scrape_time(
    database: Database,  # noqa: F811
    nats_url: str,
) -> None:
    # A relay whose NATS never answers: what is committed waits in the outbox.
    link = NatsLink("nats://127.0.0.1:1", name=f"backlog-{uuid.uuid4().hex[:6]}")
    relay = OutboxRelay(database, infra, link, interval=0.05)
    async with database.sessions() as session:
        for n in range(3):
            event = SchoolRegistered(
                school_id=uuid.uuid4(),
                district_id=uuid.uuid4(),
                name=f"学校{n}",
                stage="primary",
            )
            await add_event(session, infra.outbox, event)
        await session.commit()
    relay.start()
    try:
        await refresh_messaging_gauges()
        assert OUTBOX_BACKLOG.labels(link.name)._value.get() == 3
        first_age = OUTBOX_OLDEST_AGE.labels(link.name)._value.get()
        await asyncio.sleep(0.05)
        await refresh_messaging_gauges()
        assert OUTBOX_OLDEST_AGE.labels(link.name)._value.get() > first_age > 0
    finally:
        await relay.stop()


async def test_consumer_lag_is_read_from_jetstream_at_scrape_time(
    database: Database,  # noqa: F811
    nats_url: str,
) -> None:
    registry = HandlerRegistry(service=f"lag{uuid.uuid4().hex[:6]}")
    release = asyncio.Event()

    @registry.on(RatingSubmitted)
    async def on_rating(session: AsyncSession, event: RatingSubmitted) -> None:
        await release.wait()

    link = NatsLink(nats_url, name="lag-test", namespace=f"l{uuid.uuid4().hex[:8]}")
    link.start()
    await wait_for(lambda: link.connected)
    for _ in range(3):
        event = RatingSubmitted(
            rating_id=uuid.uuid4(), program_id=uuid.uuid4(), teacher_id=uuid.uuid4()
        )
        await link.js.publish(
            link.namespace.subject(event.subject), event.model_dump_json().encode()
        )
    group = ConsumerGroup(registry, database, infra, link, ack_wait=30)
    group.start()
    durable = group.durable("FEEDBACK")
    try:
        await wait_for(lambda: _ack_pending(group), timeout=20)
        # The batch in hand holds SQLite's one connection: the scrape's dead-letter count
        # waits for it, after it has read the lag from JetStream.
        scrape = asyncio.create_task(refresh_messaging_gauges())
        await wait_for(lambda: CONSUMER_ACK_PENDING.labels(durable, "FEEDBACK")._value.get() == 3)
        release.set()
        await scrape
    finally:
        release.set()
        await group.stop()
        await link.close()


async def _ack_pending(group: ConsumerGroup) -> bool:
    return (await group.lag()).get("FEEDBACK", (0, 0))[1] == 3
