"""What a teacher still has to evaluate (R6, R17), and who may read it."""

from __future__ import annotations

import datetime as dt

from shared.auth import Role
from tests.feedback.support import Trainee, World, feed, local_today
from tests.harness import Suite

SCORES = {"overall": 4, "format": 3, "instructors": 5, "management": 4}


async def test_r6_pending_evaluations_list_each_program_to_rate_until_it_is_rated(
    suite: Suite,
) -> None:
    app = suite.apps["feedback"]
    ended = World(ends_on=local_today() - dt.timedelta(days=1))
    t = ended.trainee()
    upcoming = World(ends_on=local_today() + dt.timedelta(days=20))
    again = Trainee(teacher_id=t.teacher_id, school_id=t.school_id)
    await feed(app, *ended.everything(), upcoming.transitioned(), upcoming.confirmed(again))
    me = suite.headers(Role.TEACHER, teacher_id=t.teacher_id, school_id=t.school_id)
    url = f"/v1/teachers/{t.teacher_id}/pending-evaluations"

    listed = (await suite.direct["feedback"].get(url, headers=me)).json()["items"]
    by_program = {i["program_id"]: i for i in listed}
    assert set(by_program) == {str(ended.program_id), str(upcoming.program_id)}
    assert all(i["kind"] == "rating" for i in listed)  # assessments are not the teacher's
    assert by_program[str(ended.program_id)]["open_now"] is True
    assert by_program[str(upcoming.program_id)]["open_now"] is False
    assert by_program[str(ended.program_id)]["program_title"] == ended.title

    rated = await suite.direct["feedback"].post(
        f"/v1/programs/{ended.program_id}/ratings", json=SCORES, headers=me
    )
    assert rated.status_code == 201
    listed = (await suite.direct["feedback"].get(url, headers=me)).json()["items"]
    assert [i["program_id"] for i in listed] == [str(upcoming.program_id)]


async def test_pending_evaluations_are_visible_only_in_scope(suite: Suite) -> None:
    world = World(ends_on=local_today())
    t = world.trainee()
    await feed(suite.apps["feedback"], *world.everything())
    url = f"/v1/teachers/{t.teacher_id}/pending-evaluations"
    client = suite.direct["feedback"]
    allowed = (
        suite.headers(Role.TEACHER, teacher_id=t.teacher_id, school_id=t.school_id),
        suite.headers(Role.SCHOOL_ADMIN, school_id=t.school_id),
        suite.headers(Role.BUREAU_ADMIN),
    )
    for headers in allowed:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) == 1
    refused = (
        suite.headers(Role.TEACHER, teacher_id=world.program_id, school_id=t.school_id),
        suite.headers(Role.SCHOOL_ADMIN, school_id=world.program_id),
        suite.headers(Role.INSTITUTION_ADMIN, institution_id=world.institution_id),
        suite.headers(Role.BUREAU_ADMIN, district_id=world.program_id),
    )
    for headers in refused:
        response = await client.get(url, headers=headers)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
