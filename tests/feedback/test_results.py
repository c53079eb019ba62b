"""A teacher's training results for appraisal, appointment and promotion (R29)."""

from __future__ import annotations

import datetime as dt
import uuid

from shared.auth import Role
from tests.feedback.support import World, feed, local_today
from tests.harness import Suite


async def test_r29_training_results_of_the_year_for_appraisal(suite: Suite) -> None:
    app = suite.apps["feedback"]
    client = suite.direct["feedback"]
    passed = World(ends_on=local_today() - dt.timedelta(days=1))
    t = passed.trainee()
    failed = World(ends_on=local_today() - dt.timedelta(days=1), title="班主任工作坊")
    same = failed.trainee()
    same.teacher_id, same.school_id = t.teacher_id, t.school_id
    await feed(app, *passed.everything(), *failed.everything())
    institution = suite.headers(Role.INSTITUTION_ADMIN, institution_id=passed.institution_id)
    response = await client.post(
        f"/v1/enrolments/{t.enrolment_id}/assessment",
        json={"attitude": 5, "assignments": 4, "attendance_rate": "0.9", "passed": True},
        headers=institution,
    )
    assert response.status_code == 201
    await feed(app, failed.completed(same, passed=False))

    me = suite.headers(Role.TEACHER, teacher_id=t.teacher_id, school_id=t.school_id)
    year = passed.ends_on.year
    url = f"/v1/teachers/{t.teacher_id}/training-results?year={year}"
    body = (await client.get(url, headers=me)).json()
    assert (body["programs"], body["passed"], body["failed"]) == (2, 1, 1)
    assert body["passed_hours"] == "24.0"
    by_title = {i["title"]: i for i in body["items"]}
    assert by_title[passed.title]["assessment"] == {
        "attitude": 5,
        "assignments": 4,
        "attendance_rate": "0.9000",
        "passed": True,
    }
    assert by_title["班主任工作坊"]["assessment"] is None  # completion alone, no assessment
    assert by_title["班主任工作坊"]["passed"] is False
    previous = (
        await client.get(
            f"/v1/teachers/{t.teacher_id}/training-results?year={year - 1}", headers=me
        )
    ).json()
    assert previous["programs"] == 0

    school = suite.headers(Role.SCHOOL_ADMIN, school_id=t.school_id)
    assert (await client.get(url, headers=school)).status_code == 200
    for outsider in (
        suite.headers(Role.SCHOOL_ADMIN, school_id=uuid.uuid4()),
        institution,
        suite.headers(Role.TEACHER, teacher_id=uuid.uuid4()),
    ):
        assert (await client.get(url, headers=outsider)).status_code == 403
