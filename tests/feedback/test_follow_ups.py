"""Follow-up after training (R27): questionnaires 1 and 3 months after the end."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from services.feedback.models import EvaluationTask
from services.feedback.policy import DEFAULT_POLICY, follow_up_windows
from shared.auth import Role
from tests.feedback.support import World, feed, local_today, outbox_events
from tests.harness import Suite

ANSWERS = {"applied": 4, "student_effect": 3, "what_changed": "课堂提问更有层次"}


async def follow_up_tasks(suite: Suite, world: World) -> dict[str, EvaluationTask]:
    async with suite.apps["feedback"].state.database.sessions() as session:
        rows = await session.scalars(
            select(EvaluationTask).where(
                EvaluationTask.program_id == world.program_id,
                EvaluationTask.kind.startswith("follow_up_"),
            )
        )
        return {t.kind: t for t in rows}


async def test_r27_completion_schedules_follow_ups_at_one_and_three_months(suite: Suite) -> None:
    world = World(ends_on=local_today() - dt.timedelta(days=3))
    t = world.trainee()
    app = suite.apps["feedback"]
    await feed(app, *world.everything())
    assert await follow_up_tasks(suite, world) == {}  # only those who completed are followed
    await feed(app, world.completed(t))
    tasks = await follow_up_tasks(suite, world)
    assert sorted(tasks) == ["follow_up_1m", "follow_up_3m"]
    expected = dict(follow_up_windows(DEFAULT_POLICY, world.ends_on))
    assert tasks["follow_up_1m"].opens_at == expected[1].opens_at
    assert tasks["follow_up_3m"].opens_at == expected[3].opens_at
    # Not open yet: the teacher cannot answer a follow-up before its month has come.
    me = suite.headers(Role.TEACHER, teacher_id=t.teacher_id, school_id=t.school_id)
    early = await suite.direct["feedback"].post(
        f"/v1/follow-ups/{tasks['follow_up_1m'].id}/responses",
        json={"answers": ANSWERS},
        headers=me,
    )
    assert early.status_code == 422
    assert early.json()["type"].endswith("follow-up-not-open")


async def test_r27_teacher_answers_an_open_follow_up_questionnaire(suite: Suite) -> None:
    # Ended a month and two days ago: the one-month follow-up is open now.
    world = World(ends_on=local_today() - dt.timedelta(days=33))
    t = world.trainee()
    app = suite.apps["feedback"]
    await feed(app, *world.everything(), world.completed(t))
    task = (await follow_up_tasks(suite, world))["follow_up_1m"]
    me = suite.headers(Role.TEACHER, teacher_id=t.teacher_id, school_id=t.school_id)
    client = suite.direct["feedback"]
    shown = (await client.get(f"/v1/follow-ups/{task.id}", headers=me)).json()
    assert shown["months_after"] == 1 and shown["answers"] is None
    assert [q["key"] for q in shown["questions"]] == [
        q.key for q in DEFAULT_POLICY.follow_up_questions
    ]
    pending = (
        await client.get(f"/v1/teachers/{t.teacher_id}/pending-evaluations", headers=me)
    ).json()["items"]
    assert "follow_up_1m" in {i["kind"] for i in pending}

    url = f"/v1/follow-ups/{task.id}/responses"
    for bad in (
        {"applied": 9, "student_effect": 3, "what_changed": "x"},
        {"applied": 4, "student_effect": 3},
        {**ANSWERS, "unknown": "x"},
    ):
        refused = await client.post(url, json={"answers": bad}, headers=me)
        assert refused.status_code == 422, refused.text
    other = suite.headers(Role.TEACHER, teacher_id=world.program_id, school_id=t.school_id)
    assert (await client.post(url, json={"answers": ANSWERS}, headers=other)).status_code == 403
    answered = await client.post(url, json={"answers": ANSWERS}, headers=me)
    assert answered.status_code == 201, answered.text
    assert answered.json()["answers"] == ANSWERS
    assert (await client.post(url, json={"answers": ANSWERS}, headers=me)).status_code == 409
    shown = (await client.get(f"/v1/follow-ups/{task.id}", headers=me)).json()
    assert shown["state"] == "done" and shown["answers"] == ANSWERS
    published = await outbox_events(app, "feedback.follow_up.answered.v1", task_id=task.id)
    assert len(published) == 1 and published[0]["months_after"] == 1


async def test_r27_the_programs_institution_reads_its_trainees_follow_ups(suite: Suite) -> None:
    """The institution owes the follow-up service (R27) to the trainees of its programs; an
    institution that did not run the program does not see them."""
    world = World(ends_on=local_today() - dt.timedelta(days=3))
    t = world.trainee()
    app = suite.apps["feedback"]
    await feed(app, *world.everything(), world.completed(t))
    task = (await follow_up_tasks(suite, world))["follow_up_1m"]
    client = suite.direct["feedback"]
    url = f"/v1/follow-ups/{task.id}"
    runs = suite.headers(Role.INSTITUTION_ADMIN, institution_id=world.institution_id)
    shown = await client.get(url, headers=runs)
    assert shown.status_code == 200, shown.text
    assert shown.json()["teacher_id"] == str(t.teacher_id)
    other = suite.headers(Role.INSTITUTION_ADMIN, institution_id=world.program_id)
    assert (await client.get(url, headers=other)).status_code in (403, 404)
    # Reading is not answering: only the trainee answers.
    answer = await client.post(url + "/responses", json={"answers": ANSWERS}, headers=runs)
    assert answer.status_code == 403
