"""Consumers over real NATS: a redelivered event credits hours once; poison is kept."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import func, select

from services.ledger.handlers import on_enrolment_completed
from services.ledger.models import LedgerEntry
from services.ledger.models import infra as ledger_infra
from shared.config import DEFAULT_DISTRICT_ID
from shared.events.enrolment import EnrolmentCompleted
from shared.messaging.inbox import apply_once
from tests.harness import Suite, wait_for


def completion(teacher_id: uuid.UUID) -> EnrolmentCompleted:
    return EnrolmentCompleted(
        enrolment_id=uuid.uuid4(),
        program_id=uuid.uuid4(),
        teacher_id=teacher_id,
        school_id=uuid.uuid4(),
        district_id=DEFAULT_DISTRICT_ID,
        passed=True,
        attendance_rate=Decimal("1.0"),
        hours=Decimal("12.5"),
        mode="online",
        level="provincial",
        category="self_selected",
        program_title="网络研修",
        completed_on=dt.date(2026, 11, 20),
    )


async def publish_raw(suite: Suite, subject: str, payload: bytes, msg_id: str | None) -> None:
    link = suite.apps["enrolment"].state.nats
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None
    await link.js.publish(link.namespace.subject(subject), payload, headers=headers)


async def ledger_consumer_idle(suite: Suite) -> bool:
    link = suite.apps["ledger"].state.nats
    info = await link.js.consumer_info(link.namespace.stream("ENROLMENT"), "ledger-enrolment")
    return info.num_pending == 0 and info.num_ack_pending == 0


async def entries_of(suite: Suite, teacher_id: uuid.UUID) -> list[LedgerEntry]:
    async with suite.apps["ledger"].state.database.sessions() as session:
        return list(
            await session.scalars(select(LedgerEntry).where(LedgerEntry.teacher_id == teacher_id))
        )


async def test_redelivered_completion_credits_hours_once(suite: Suite) -> None:
    teacher_id = uuid.uuid4()
    event = completion(teacher_id)
    payload = event.model_dump_json().encode()
    # Three deliveries: the same message id (JetStream drops it), and a second copy under
    # another id, as after a producer's crash between publish and marking it sent.
    await publish_raw(suite, event.subject, payload, str(event.event_id))
    await publish_raw(suite, event.subject, payload, str(event.event_id))
    await publish_raw(suite, event.subject, payload, f"{event.event_id}-again")

    async def credited() -> list[LedgerEntry]:
        return await entries_of(suite, teacher_id)

    await wait_for(credited)
    await wait_for(lambda: ledger_consumer_idle(suite))
    entries = await entries_of(suite, teacher_id)
    assert [(e.hours, e.source_ref) for e in entries] == [
        (Decimal("12.5"), str(event.enrolment_id))
    ]


async def test_apply_once_skips_an_event_the_consumer_has_seen(suite: Suite) -> None:
    database = suite.apps["ledger"].state.database
    event = completion(uuid.uuid4())
    assert await apply_once(database, ledger_infra, "ledger-test", on_enrolment_completed, event)
    again = await apply_once(database, ledger_infra, "ledger-test", on_enrolment_completed, event)
    assert not again
    assert len(await entries_of(suite, event.teacher_id)) == 1


async def test_unreadable_event_is_dead_lettered_not_dropped(suite: Suite) -> None:
    marker = uuid.uuid4().hex
    await publish_raw(suite, EnrolmentCompleted.subject, f'{{"broken": "{marker}"'.encode(), None)
    database = suite.apps["ledger"].state.database
    dead = ledger_infra.dead_letter

    async def recorded() -> int:
        async with database.sessions() as session:
            return await session.scalar(
                select(func.count()).select_from(dead).where(dead.c.payload.contains(marker))
            )

    assert await wait_for(recorded) == 1
