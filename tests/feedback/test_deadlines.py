"""The deadline scheduler: reminders, overdue assessments, closing rating windows, restarts."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

from asgi_lifespan import LifespanManager
from sqlalchemy import select

from services.feedback.app import create_app
from services.feedback.models import EvaluationTask
from services.feedback.policy import DEFAULT_POLICY, assessment_window, rating_window
from services.feedback.ratings import submit_rating
from services.feedback.scheduler import run_due
from services.feedback.schemas import RatingCreate
from shared.auth import Principal, Role
from shared.config import server_database
from shared.db import drop_database
from tests.feedback.support import World, feed, local_today, outbox_events
from tests.harness import Suite, asgi_client, wait_for

SCORES = {"overall": 4, "format": 4, "instructors": 4, "management": 4}


async def future_program(suite: Suite, *, trainees: int = 1, completed: bool = False) -> World:
    """A program ending in a month, so the suite's own scheduler (at real time) leaves it be."""
    world = World(ends_on=local_today() + dt.timedelta(days=30))
    for _ in range(trainees):
        world.trainee()
    events = world.everything()
    if completed:
        events += [world.completed(t) for t in world.trainees]
    await feed(suite.apps["feedback"], *events)
    return world


async def tasks_of(app, world: World) -> dict[tuple[uuid.UUID, str], EvaluationTask]:
    async with app.state.database.sessions() as session:
        rows = (
            await session.scalars(
                select(EvaluationTask).where(EvaluationTask.program_id == world.program_id)
            )
        ).all()
    return {(t.enrolment_id, t.kind): t for t in rows}


async def pass_at(app, now: dt.datetime) -> None:
    async with app.state.database.sessions() as session:
        await run_due(session, now=now)
        await session.commit()


async def test_r24_overdue_assessment_is_flagged_to_the_bureau_once(suite: Suite) -> None:
    app = suite.apps["feedback"]
    world = await future_program(suite)
    enrolment = world.trainees[0].enrolment_id
    due = assessment_window(DEFAULT_POLICY, world.ends_on).due_at
    await pass_at(app, due - dt.timedelta(seconds=1))
    assert (await tasks_of(app, world))[(enrolment, "assessment")].state == "open"
    assert not await outbox_events(app, "feedback.assessment.overdue.v1", enrolment_id=enrolment)
    await pass_at(app, due)
    await pass_at(app, due + dt.timedelta(hours=1))
    assert (await tasks_of(app, world))[(enrolment, "assessment")].state == "overdue"
    flags = await outbox_events(app, "feedback.assessment.overdue.v1", enrolment_id=enrolment)
    assert len(flags) == 1
    assert flags[0]["district_id"] == str(world.district_id)
    assert flags[0]["institution_id"] == str(world.institution_id)


async def test_r25_rating_window_closes_when_its_deadline_passes(suite: Suite) -> None:
    app = suite.apps["feedback"]
    world = await future_program(suite, trainees=2)
    rated, missed = world.trainees
    # One trainee rates in time; the program ends in the future, so rate at a chosen time.
    window = rating_window(DEFAULT_POLICY, world.ends_on)
    async with app.state.database.sessions() as session:
        await submit_rating(
            session,
            principal=Principal("t", Role.TEACHER, teacher_id=rated.teacher_id),
            policy=DEFAULT_POLICY,
            program_id=world.program_id,
            body=RatingCreate(**SCORES),
            now=window.opens_at,
        )
        await session.commit()
    await pass_at(app, window.due_at)
    tasks = await tasks_of(app, world)
    assert tasks[(rated.enrolment_id, "rating")].state == "done"
    assert tasks[(missed.enrolment_id, "rating")].state == "closed"
    closed = await outbox_events(
        app, "feedback.rating.window_closed.v1", program_id=world.program_id
    )
    assert [c["teacher_id"] for c in closed] == [str(missed.teacher_id)]
    # The program's figures count the one who missed it as not rated, apart from the ratings.
    summary = await suite.direct["feedback"].get(
        f"/v1/programs/{world.program_id}/feedback-summary", headers=suite.headers()
    )
    assert summary.status_code == 200, summary.text
    satisfaction = summary.json()["satisfaction"]
    assert (satisfaction["ratings"], satisfaction["not_rated"]) == (1, 1)


async def test_reminders_go_out_once_before_each_deadline(suite: Suite) -> None:
    app = suite.apps["feedback"]
    world = await future_program(suite)
    enrolment = world.trainees[0].enrolment_id
    before = DEFAULT_POLICY.reminder_before
    assessment_due = assessment_window(DEFAULT_POLICY, world.ends_on).due_at
    rating_due = rating_window(DEFAULT_POLICY, world.ends_on).due_at

    async def kinds() -> list[str]:
        reminders = await outbox_events(
            app, "feedback.evaluation.reminder_due.v1", enrolment_id=enrolment
        )
        return sorted(r["kind"] for r in reminders)

    await pass_at(app, assessment_due - before - dt.timedelta(minutes=1))
    assert await kinds() == []
    await pass_at(app, assessment_due - before)
    await pass_at(app, assessment_due - dt.timedelta(hours=1))
    assert await kinds() == ["assessment"]
    await pass_at(app, rating_due - before)
    await pass_at(app, rating_due - dt.timedelta(minutes=1))
    assert await kinds() == ["assessment", "rating"]


async def test_withdrawal_and_cancellation_cancel_what_was_owed(suite: Suite) -> None:
    app = suite.apps["feedback"]
    world = await future_program(suite, trainees=2)
    await feed(app, world.withdrawn(world.trainees[0]))
    tasks = await tasks_of(app, world)
    assert {t.state for (e, _), t in tasks.items() if e == world.trainees[0].enrolment_id} == {
        "cancelled"
    }
    assert {t.state for (e, _), t in tasks.items() if e == world.trainees[1].enrolment_id} == {
        "open"
    }
    await feed(app, world.transitioned("cancelled"))
    assert {t.state for t in (await tasks_of(app, world)).values()} == {"cancelled"}


async def test_a_new_end_date_moves_the_open_deadlines(suite: Suite) -> None:
    app = suite.apps["feedback"]
    world = await future_program(suite)
    later = world.ends_on + dt.timedelta(days=7)
    await feed(app, world.transitioned(ends_on=later))
    task = (await tasks_of(app, world))[(world.trainees[0].enrolment_id, "rating")]
    assert task.due_at == rating_window(DEFAULT_POLICY, later).due_at


async def test_a_deadline_moved_past_now_reopens_a_closed_window(suite: Suite) -> None:
    app = suite.apps["feedback"]
    world = World(ends_on=local_today() - dt.timedelta(days=20))
    t = world.trainee()
    await feed(app, *world.everything())
    await pass_at(app, rating_window(DEFAULT_POLICY, world.ends_on).due_at)
    assert (await tasks_of(app, world))[(t.enrolment_id, "rating")].state == "closed"
    # The program's end is corrected to yesterday: its rating window is open again.
    await feed(app, world.transitioned(ends_on=local_today() - dt.timedelta(days=1)))
    task = (await tasks_of(app, world))[(t.enrolment_id, "rating")]
    assert (task.state, task.reminded_at) == ("open", None)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def test_restart_in_the_middle_of_a_deadline_window_loses_no_deadline(
    suite: Suite, tmp_path: Path, monkeypatch
) -> None:
    """Stop the service between reminder and deadline, start it after: the flag still comes."""
    run = uuid.uuid4().hex[:8]
    server = os.environ.get("DATABASE_URL")
    url = (
        server_database(server, f"shixun_test_feedback_restart_{run}")
        if server
        else f"sqlite+aiosqlite:///{tmp_path / 'feedback.db'}"
    )
    monkeypatch.setenv("SHIXUN_FEEDBACK_DATABASE_URL", url)
    monkeypatch.setenv("SHIXUN_NATS_NAMESPACE", f"restart{run}")
    monkeypatch.setenv("SHIXUN_FEEDBACK_SCHEDULER_INTERVAL_SECONDS", "0.05")
    world = World(ends_on=dt.date(2026, 3, 10))
    world.trainee()
    enrolment = world.trainees[0].enrolment_id
    window = assessment_window(DEFAULT_POLICY, world.ends_on)
    clock = Clock(window.due_at - dt.timedelta(days=1))  # reminded, not yet due

    async def started():
        app = create_app(clock=clock)
        manager = LifespanManager(app, startup_timeout=60)
        await manager.__aenter__()
        app.state.verifier.use_http(suite.gateway)
        return app, manager

    try:
        app, manager = await started()
        await feed(app, *world.everything())
        app.state.workers["feedback-deadlines"].wake()
        await wait_for(
            lambda: outbox_events(
                app, "feedback.evaluation.reminder_due.v1", enrolment_id=enrolment
            )
        )
        await manager.__aexit__(None, None, None)

        clock.now = window.due_at + dt.timedelta(hours=3)  # the deadline passes while down
        app, manager = await started()
        flags = await wait_for(
            lambda: outbox_events(app, "feedback.assessment.overdue.v1", enrolment_id=enrolment)
        )
        assert len(flags) == 1
        reminders = await outbox_events(
            app, "feedback.evaluation.reminder_due.v1", enrolment_id=enrolment
        )
        assert [r["kind"] for r in reminders] == ["assessment"]  # not sent again on restart
        task = (await tasks_of(app, world))[(enrolment, "assessment")]
        assert task.state == "overdue"
        # The rating window is still open after the restart: the trainee can still rate.
        t = world.trainees[0]
        rated = await asgi_client(app, "http://feedback").post(
            f"/v1/programs/{world.program_id}/ratings",
            json=SCORES,
            headers=suite.headers(Role.TEACHER, teacher_id=t.teacher_id, school_id=t.school_id),
        )
        assert rated.status_code == 201, rated.text
        await manager.__aexit__(None, None, None)
    finally:
        if server:
            await drop_database(url)


async def test_the_same_facts_delivered_twice_owe_each_evaluation_once(suite: Suite) -> None:
    app = suite.apps["feedback"]
    world = await future_program(suite)
    t = world.trainees[0]
    # A replay publishes the same facts under new event ids; the inbox cannot dedupe them.
    await feed(app, world.transitioned(), world.confirmed(t), world.confirmed(t))
    kinds = sorted(kind for (_, kind) in await tasks_of(app, world))
    assert kinds == ["assessment", "rating"]
