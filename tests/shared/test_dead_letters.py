"""Operators list a part's dead letters and replay one; a replay applies the event once."""

from __future__ import annotations

import uuid

from sqlalchemy import insert

from gateway.models import infra as gateway_infra
from shared.auth import Role
from shared.db import utcnow
from shared.events.enrolment import EnrolmentCompleted
from shared.messaging.gauges import refresh_messaging_gauges
from shared.metrics import DEAD_LETTERS
from tests.e2e.test_delivery import completion, entries_of
from tests.harness import ADMIN_PASSWORD, Suite


async def dead_letter(
    suite: Suite, part: str, consumer: str, subject: str, payload: str, event_id: str | None = None
) -> int:
    """A dead letter as the consumer records one after its last failed delivery."""
    app = suite.gateway_app if part == "gateway" else suite.apps[part]
    tables = gateway_infra if part == "gateway" else app.state.tables
    async with app.state.database.sessions() as session:
        result = await session.execute(
            insert(tables.dead_letter).values(
                consumer=consumer,
                subject=app.state.nats.namespace.subject(subject),
                event_id=event_id,
                payload=payload,
                error="RuntimeError('projection unavailable')",
                deliveries=5,
                recorded_at=utcnow(),
            )
        )
        await session.commit()
        return result.inserted_primary_key[0]


def waiting(part: str, consumer: str) -> float:
    return DEAD_LETTERS.labels(part, consumer)._value.get()


async def test_an_operator_replays_a_dead_letter_and_it_is_applied_once(suite: Suite) -> None:
    operator = await suite.login("admin", ADMIN_PASSWORD)  # the bootstrap admin holds `ops`
    event = completion(uuid.uuid4())
    dead_id = await dead_letter(
        suite,
        "ledger",
        "ledger",
        EnrolmentCompleted.subject,
        event.model_dump_json(),
        str(event.event_id),
    )
    await refresh_messaging_gauges()
    before = waiting("ledger", "ledger")
    assert before >= 1

    listed = await suite.gateway.get(
        "/v1/ops/ledger/dead-letters", headers=operator, params={"limit": 500}
    )
    assert listed.status_code == 200, listed.text
    mine = [d for d in listed.json()["items"] if d["id"] == dead_id]
    assert len(mine) == 1
    assert mine[0]["subject"] == EnrolmentCompleted.subject  # without the NATS namespace
    assert mine[0]["event_id"] == str(event.event_id) and mine[0]["applied"] is False
    assert await entries_of(suite, event.teacher_id) == []

    path = f"/v1/ops/ledger/dead-letters/{dead_id}/replay"
    first = await suite.gateway.post(path, headers=operator)
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "applied" and first.json()["applied"] is True
    again = await suite.gateway.post(path, headers=operator)
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "already-applied"
    assert len(await entries_of(suite, event.teacher_id)) == 1  # the inbox kept it to once

    listed = await suite.gateway.get(
        "/v1/ops/ledger/dead-letters", headers=operator, params={"limit": 500}
    )
    assert [d["applied"] for d in listed.json()["items"] if d["id"] == dead_id] == [True]
    await refresh_messaging_gauges()
    assert waiting("ledger", "ledger") == before - 1


async def test_the_gateways_own_dead_letters_replay_with_their_consumer(suite: Suite) -> None:
    operator = await suite.login("admin", ADMIN_PASSWORD)
    dead_id = await dead_letter(
        suite, "gateway", "gateway-logins", EnrolmentCompleted.subject, '{"broken"'
    )
    listed = await suite.gateway.get(
        "/v1/ops/gateway/dead-letters", headers=operator, params={"limit": 500}
    )
    assert dead_id in [d["id"] for d in listed.json()["items"]]
    replay = await suite.gateway.post(
        f"/v1/ops/gateway/dead-letters/{dead_id}/replay", headers=operator
    )
    # The logins' consumer does not take completions: nothing to apply it with.
    assert replay.status_code == 422 and replay.json()["type"].endswith("/no-handler"), replay.text


async def test_an_unreadable_or_unknown_dead_letter_is_refused_changing_nothing(
    suite: Suite,
) -> None:
    operator = await suite.login("admin", ADMIN_PASSWORD)
    dead_id = await dead_letter(suite, "ledger", "ledger", EnrolmentCompleted.subject, '{"x"')
    path = f"/v1/ops/ledger/dead-letters/{dead_id}/replay"
    replay = await suite.gateway.post(path, headers=operator)
    assert replay.status_code == 422, replay.text
    assert replay.headers["content-type"] == "application/problem+json"
    assert replay.json()["type"].endswith("/unreadable-event")
    missing = await suite.gateway.post(
        "/v1/ops/ledger/dead-letters/999999999/replay", headers=operator
    )
    assert missing.status_code == 404
    cursor = await suite.gateway.get(
        "/v1/ops/ledger/dead-letters", headers=operator, params={"cursor": "not-ours"}
    )
    assert cursor.status_code == 400


async def test_only_an_operator_sees_dead_letters(suite: Suite) -> None:
    """A bureau admin without the ops scope, and every other role, are refused."""
    for role in Role:
        headers = suite.headers(role)
        listed = await suite.gateway.get("/v1/ops/enrolment/dead-letters", headers=headers)
        assert listed.status_code in (401, 403), (role, listed.status_code)
        replay = await suite.gateway.post(
            "/v1/ops/enrolment/dead-letters/1/replay", headers=headers
        )
        assert replay.status_code in (401, 403), (role, replay.status_code)
