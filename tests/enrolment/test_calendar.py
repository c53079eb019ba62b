"""Programs that run themselves: the calendar closes, starts and finishes them, with the
events of a click; a person may act earlier; an early assessment is parked, not dropped."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

from services.enrolment.calendar import finishes_at, run_due, starts_at
from services.enrolment.models import ParkedMessage, Program
from shared.events.feedback import AssessmentSubmitted
from tests.enrolment.conftest import World, ok
from tests.enrolment.test_waitlist_and_events import apply
from tests.harness import wait_for


async def pass_at(world: World, now: dt.datetime) -> int:
    """Passes at `now` until none moves a program: a pass takes a batch, and the programs
    of every other test in the database are due too."""
    total = 0
    while True:
        async with world.suite.apps["enrolment"].state.database.sessions() as session:
            moved = await run_due(session, now=now)
            await session.commit()
        if not moved:
            return total
        total += moved


async def transitions(world: World, program_id: str) -> list[dict]:
    app = world.suite.apps["enrolment"]
    outbox = app.state.tables.outbox
    async with app.state.database.sessions() as session:
        rows = (
            (
                await session.execute(
                    outbox.select()
                    .where(outbox.c.subject == "enrolment.program.transitioned.v1")
                    .order_by(outbox.c.seq)
                )
            )
            .mappings()
            .all()
        )
    events = [json.loads(r["payload"]) for r in rows]
    return [e for e in events if e["program_id"] == program_id]


async def dated_program(world: World, **fields) -> tuple[dict, Program]:
    program = await world.program(await world.institution(), **fields)
    async with world.suite.apps["enrolment"].state.database.sessions() as session:
        row = await session.get(Program, uuid.UUID(program["id"]))
    assert row is not None
    return program, row


async def test_a_program_closes_starts_and_finishes_by_its_dates(world: World) -> None:
    program, row = await dated_program(world)
    close, start, finish = row.enrol_closes_at, starts_at(row), finishes_at(row)
    second = dt.timedelta(seconds=1)
    await pass_at(world, close - second)
    assert (await world.program_now(program["id"]))["status"] == "published"
    for at, status in (
        (close, "enrolment_closed"),
        (start - second, "enrolment_closed"),
        (start, "running"),
        (finish - second, "running"),
        (finish, "finished"),
    ):
        await pass_at(world, at)
        await pass_at(world, at)  # a second replica's pass, or a repeat: nothing more
        assert (await world.program_now(program["id"]))["status"] == status, at
    moved = [(e["action"], e["scheduled"]) for e in await transitions(world, program["id"])]
    assert moved[-3:] == [("close-enrolment", True), ("start", True), ("finish", True)]
    assert len(moved) == 6  # submit, approve, publish by hand; each calendar step once


async def test_a_service_down_for_weeks_catches_up_in_one_pass(world: World) -> None:
    program, row = await dated_program(world)
    assert await pass_at(world, finishes_at(row) + dt.timedelta(days=30)) >= 1
    assert (await world.program_now(program["id"]))["status"] == "finished"
    actions = [e["action"] for e in await transitions(world, program["id"])][-3:]
    assert actions == ["close-enrolment", "start", "finish"]


async def test_a_person_may_act_earlier_and_the_calendar_then_has_nothing_to_do(
    world: World,
) -> None:
    program, row = await dated_program(world)
    await world.move(program, "close-enrolment")
    await world.move(program, "start")
    await pass_at(world, starts_at(row) + dt.timedelta(hours=1))
    events = await transitions(world, program["id"])
    assert [(e["action"], e["scheduled"]) for e in events][-2:] == [
        ("close-enrolment", False),
        ("start", False),
    ]


async def test_an_assessment_before_the_start_is_parked_and_applied_when_it_starts(
    world: World,
) -> None:
    school = await world.school()
    institution = await world.institution()
    program = await world.program(institution)
    enrolment = ok(await world.enrol(program, await world.teacher(school)), 201)
    assessment = AssessmentSubmitted(
        assessment_id=uuid.uuid4(),
        enrolment_id=uuid.UUID(enrolment["id"]),
        program_id=uuid.UUID(program["id"]),
        teacher_id=uuid.UUID(enrolment["teacher_id"]),
        institution_id=uuid.UUID(institution["id"]),
        attitude=5,
        assignments=4,
        attendance_rate=Decimal("0.950"),
        passed=True,
    )
    assert await apply(world, assessment)
    assert (await world.enrolment(enrolment["id"]))["status"] == "confirmed"
    async with world.suite.apps["enrolment"].state.database.sessions() as session:
        parked = await session.get(ParkedMessage, assessment.event_id)
        assert parked is not None and parked.status == "parked"
        row = await session.get(Program, uuid.UUID(program["id"]))
    # Nobody clicks: the calendar starts the program, and the parked assessment applies.
    await pass_at(world, starts_at(row))
    completed = await world.enrolment(enrolment["id"])
    assert completed["status"] == "completed"
    assert completed["attendance_rate"] == "0.950" and completed["passed"] is True
    async with world.suite.apps["enrolment"].state.database.sessions() as session:
        parked = await session.get(ParkedMessage, assessment.event_id)
    assert parked is not None and parked.status == "applied" and parked.attempts == 2


async def test_an_assessment_of_an_ended_place_is_kept_as_refused_with_the_reason(
    world: World,
) -> None:
    school = await world.school()
    program = await world.program(await world.institution())
    enrolment = ok(await world.enrol(program, await world.teacher(school)), 201)
    ok(await world.act(enrolment, "withdraw"))
    assessment = AssessmentSubmitted(
        assessment_id=uuid.uuid4(),
        enrolment_id=uuid.UUID(enrolment["id"]),
        program_id=uuid.UUID(program["id"]),
        teacher_id=uuid.UUID(enrolment["teacher_id"]),
        institution_id=None,
        attitude=3,
        assignments=3,
        attendance_rate=Decimal("0.500"),
        passed=False,
    )
    assert await apply(world, assessment)
    async with world.suite.apps["enrolment"].state.database.sessions() as session:
        parked = await session.get(ParkedMessage, assessment.event_id)
    assert parked is not None and parked.status == "refused" and "withdrawn" in parked.reason


async def test_the_calendar_runs_as_a_claimed_job_of_the_service(world: World) -> None:
    program, row = await dated_program(world)
    worker = world.suite.apps["enrolment"].state.workers["program-calendar"]
    saved = worker.job.clock
    worker.job.clock = lambda: row.enrol_closes_at + dt.timedelta(minutes=1)
    try:
        worker.wake()

        async def closed() -> bool:
            return (await world.program_now(program["id"]))["status"] == "enrolment_closed"

        await wait_for(closed)
    finally:
        worker.job.clock = saved
