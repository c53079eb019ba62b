"""The waitlist's promotion and expiring offers, funding answers, and feedback events."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import update

from services.enrolment.handlers import handlers
from services.enrolment.models import Enrolment
from shared.events.budget import FundingRefused, FundingReserved
from shared.events.feedback import AssessmentSubmitted, RatingSubmitted
from shared.messaging.inbox import apply_once
from tests.enrolment.conftest import TODAY, World, ok
from tests.harness import wait_for


async def apply(world: World, event) -> bool:
    app = world.suite.apps["enrolment"]
    return await apply_once(
        app.state.database, app.state.tables, "enrolment", handlers.handlers[event.subject], event
    )


async def outbox_subjects(world: World, enrolment_id: str) -> list[str]:
    app = world.suite.apps["enrolment"]
    outbox = app.state.tables.outbox
    async with app.state.database.sessions() as session:
        rows = (await session.execute(outbox.select().order_by(outbox.c.seq))).mappings().all()
    return [r["subject"] for r in rows if enrolment_id in str(r["payload"])]


async def test_withdrawal_offers_the_seat_to_the_first_waiting_teacher(world: World) -> None:
    school = await world.school()
    program = await world.program(await world.institution(), capacity=1)
    holder, first, second = [await world.teacher(school) for _ in range(3)]
    held = ok(await world.enrol(program, holder), 201)
    waiting = [ok(await world.enrol(program, t), 201) for t in (first, second)]
    assert [w["status"] for w in waiting] == ["waitlisted", "waitlisted"]
    assert waiting[0]["waitlist_position"] < waiting[1]["waitlist_position"]

    ok(await world.act(held, "withdraw", world.teacher_token(holder), reason="生病"))
    offered = await world.enrolment(waiting[0]["id"])
    assert offered["status"] == "offered" and offered["offer_expires_at"]
    assert (await world.enrolment(waiting[1]["id"]))["status"] == "waitlisted"
    assert (await world.program_now(program["id"]))["seats_taken"] == 1
    accepted = ok(await world.act(offered, "accept", world.teacher_token(first)))
    assert accepted["status"] == "confirmed"
    subjects = await outbox_subjects(world, held["id"])
    assert "enrolment.enrolment.withdrawn.v1" in subjects
    assert "enrolment.enrolment.promoted.v1" in await outbox_subjects(world, offered["id"])


async def test_an_offer_not_taken_expires_and_passes_on(world: World) -> None:
    school = await world.school()
    program = await world.program(await world.institution(), capacity=1)
    holder, first, second = [await world.teacher(school) for _ in range(3)]
    held = ok(await world.enrol(program, holder), 201)
    late, next_in_line = [ok(await world.enrol(program, t), 201) for t in (first, second)]
    ok(await world.act(held, "withdraw"))
    assert (await world.enrolment(late["id"]))["status"] == "offered"
    app = world.suite.apps["enrolment"]
    async with app.state.database.sessions() as session:
        await session.execute(
            update(Enrolment)
            .where(Enrolment.id == uuid.UUID(late["id"]))
            .values(offer_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await session.commit()

    async def passed_on() -> bool:
        return (await world.enrolment(next_in_line["id"]))["status"] == "offered"

    # The service's own periodic sweep finds the expired offer in the database.
    await wait_for(passed_on, timeout=20)
    expired = await world.enrolment(late["id"])
    assert expired["status"] == "offer_expired"
    too_late = await world.act(expired, "accept", world.teacher_token(first))
    assert too_late.status_code == 409
    assert (await world.program_now(program["id"]))["seats_taken"] == 1


async def test_promotion_skips_a_teacher_whose_school_quota_is_full(world: World) -> None:
    school_a, school_b = await world.school(), await world.school()
    program = await world.program(await world.institution(), capacity=2)
    ok(await world.enrol(program, await world.teacher(school_a)), 201)
    b1 = ok(await world.enrol(program, await world.teacher(school_b)), 201)
    a2 = ok(await world.enrol(program, await world.teacher(school_a)), 201)
    b2 = ok(await world.enrol(program, await world.teacher(school_b)), 201)
    assert a2["waitlist_position"] < b2["waitlist_position"]
    # Quotas set after selection began count the places each school already holds.
    quotas = ok(
        await world.api.put(
            f"/v1/programs/{program['id']}/quotas",
            headers=world.bureau,
            json={
                "quotas": [
                    {"school_id": school_a["id"], "seats": 1},
                    {"school_id": school_b["id"], "seats": 1},
                ]
            },
        )
    )
    assert sorted(q["seats_taken"] for q in quotas["quotas"]) == [1, 1]
    ok(await world.act(b1, "withdraw"))
    # School A's quota is full, so its waiting teacher keeps her place and B's is offered.
    assert (await world.enrolment(a2["id"]))["status"] == "waitlisted"
    assert (await world.enrolment(b2["id"]))["status"] == "offered"


async def test_funded_program_holds_the_seat_until_budget_answers(world: World) -> None:
    school = await world.school()
    program = await world.program(
        await world.institution(), capacity=1, cost_per_participant_fen=50_000, funded_by="school"
    )
    holder, waiting_teacher = await world.teacher(school), await world.teacher(school)
    pending = ok(await world.enrol(program, holder), 201)
    assert pending["status"] == "pending_funds"
    waiting = ok(await world.enrol(program, waiting_teacher), 201)
    assert waiting["status"] == "waitlisted"
    app = world.suite.apps["enrolment"]
    outbox = app.state.tables.outbox
    async with app.state.database.sessions() as session:
        rows = (await session.execute(outbox.select())).mappings().all()
    requested = [
        r
        for r in rows
        if r["subject"] == "enrolment.enrolment.funding_requested.v1"
        and pending["id"] in str(r["payload"])
    ]
    assert len(requested) == 1
    assert '"amount_fen":50000' in str(requested[0]["payload"]).replace(" ", "")

    refused = FundingRefused(
        enrolment_id=uuid.UUID(pending["id"]),
        program_id=uuid.UUID(program["id"]),
        school_id=uuid.UUID(school["id"]),
        amount_fen=50_000,
        available_fen=10_000,
        reason="school pool has 100.00 yuan left",
    )
    assert await apply(world, refused)
    assert not await apply(world, refused)  # a redelivery changes nothing
    after = await world.enrolment(pending["id"])
    assert after["status"] == "refused" and "school pool" in after["reason"]
    promoted = await world.enrolment(waiting["id"])
    assert promoted["status"] == "offered"
    accepted = ok(await world.act(promoted, "accept"))
    assert accepted["status"] == "pending_funds"
    reserved = FundingReserved(
        enrolment_id=uuid.UUID(waiting["id"]),
        program_id=uuid.UUID(program["id"]),
        school_id=uuid.UUID(school["id"]),
        pool_id=uuid.uuid4(),
        amount_fen=50_000,
    )
    assert await apply(world, reserved)
    assert (await world.enrolment(waiting["id"]))["status"] == "confirmed"
    assert (await world.program_now(program["id"]))["seats_taken"] == 1


async def finished_enrolment(world: World, teacher: dict, school: dict) -> tuple[dict, dict]:
    """A program of this term, which the teacher completed."""
    program = await world.program(
        await world.institution(),
        # Today: always within this term, whatever the date of the run.
        starts_on=TODAY.isoformat(),
        ends_on=TODAY.isoformat(),
    )
    enrolment = ok(await world.enrol(program, teacher), 201)
    for action in ("close-enrolment", "start"):
        await world.move(program, action)
    ok(await world.act(enrolment, "complete", attendance_rate="1.0", passed=True))
    return program, enrolment


async def test_r6_next_term_needs_this_terms_programs_evaluated(world: World) -> None:
    school = await world.school()
    teacher = await world.teacher(school)
    done, _ = await finished_enrolment(world, teacher, school)
    next_term = TODAY + dt.timedelta(days=200)
    later = await world.program(
        await world.institution(),
        starts_on=next_term.isoformat(),
        ends_on=(next_term + dt.timedelta(days=1)).isoformat(),
    )
    refused = await world.enrol(later, teacher, world.teacher_token(teacher))
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("r6-evaluation-pending")
    assert refused.json()["program_ids"] == [done["id"]]
    rating = RatingSubmitted(
        rating_id=uuid.uuid4(),
        program_id=uuid.UUID(done["id"]),
        teacher_id=uuid.UUID(teacher["id"]),
    )
    assert await apply(world, rating)
    allowed = ok(await world.enrol(later, teacher, world.teacher_token(teacher)), 201)
    assert allowed["status"] == "confirmed"


async def test_assessment_event_completes_the_enrolment_once(world: World) -> None:
    school = await world.school()
    institution = await world.institution()
    program = await world.program(institution)
    enrolment = ok(await world.enrol(program, await world.teacher(school)), 201)
    for action in ("close-enrolment", "start"):
        await world.move(program, action)
    assessment = AssessmentSubmitted(
        assessment_id=uuid.uuid4(),
        enrolment_id=uuid.UUID(enrolment["id"]),
        program_id=uuid.UUID(program["id"]),
        teacher_id=uuid.UUID(enrolment["teacher_id"]),
        institution_id=uuid.UUID(institution["id"]),
        attitude=5,
        assignments=4,
        attendance_rate=Decimal("0.9"),
        passed=True,
    )
    assert await apply(world, assessment)
    done = await world.enrolment(enrolment["id"])
    assert done["status"] == "completed" and done["passed"] is True
    assert Decimal(done["attendance_rate"]) == Decimal("0.9")
    completed = [
        s
        for s in await outbox_subjects(world, enrolment["id"])
        if s == "enrolment.enrolment.completed.v1"
    ]
    assert len(completed) == 1


async def test_r4_confirmed_trainee_cannot_simply_withdraw_after_selection(world: World) -> None:
    program = await world.program(await world.institution())
    enrolment = ok(await world.enrol(program, await world.teacher(await world.school())), 201)
    await world.move(program, "close-enrolment")
    refused = await world.act(enrolment, "withdraw")
    assert refused.status_code == 409 and refused.json()["type"].endswith("r4-leave-required")


async def test_more_seats_go_to_the_waitlist_first(world: World) -> None:
    school = await world.school()
    institution = await world.institution()
    program = await world.program(institution, capacity=1)
    ok(await world.enrol(program, await world.teacher(school)), 201)
    waiting = ok(await world.enrol(program, await world.teacher(school)), 201)
    frozen = await world.api.patch(
        f"/v1/programs/{program['id']}", headers=world.bureau, json={"title": "改名"}
    )
    assert frozen.status_code == 409
    shrink = await world.api.patch(
        f"/v1/programs/{program['id']}", headers=world.bureau, json={"capacity": 0}
    )
    assert shrink.status_code == 422
    grown = ok(
        await world.api.patch(
            f"/v1/programs/{program['id']}",
            headers=world.institution_admin(institution),
            json={"capacity": 2},
        )
    )
    assert grown["capacity"] == 2 and grown["seats_taken"] == 2
    assert (await world.enrolment(waiting["id"]))["status"] == "offered"


async def test_cancelling_a_program_ends_every_place_with_a_withdrawal(world: World) -> None:
    school = await world.school()
    program = await world.program(await world.institution(), capacity=1)
    held = ok(await world.enrol(program, await world.teacher(school)), 201)
    waiting = ok(await world.enrol(program, await world.teacher(school)), 201)
    await world.move(program, "cancel")
    for enrolment in (held, waiting):
        ended = await world.enrolment(enrolment["id"])
        assert ended["status"] == "cancelled" and "cancelled" in ended["reason"]
        assert "enrolment.enrolment.withdrawn.v1" in await outbox_subjects(world, enrolment["id"])
    assert (await world.program_now(program["id"]))["seats_taken"] == 0
