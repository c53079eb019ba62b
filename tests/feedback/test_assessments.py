"""The institution's assessment of each trainee (R24) through the service's API."""

from __future__ import annotations

import datetime as dt
import uuid

from shared.auth import Role
from tests.feedback.support import World, feed, local_today, outbox_events
from tests.harness import Suite

BODY = {"attitude": 5, "assignments": 4, "attendance_rate": "0.95", "passed": True}


async def program(suite: Suite, days_ago: int) -> World:
    world = World(ends_on=local_today() - dt.timedelta(days=days_ago))
    world.trainee()
    await feed(suite.apps["feedback"], *world.everything())
    return world


def institution(suite: Suite, world: World) -> dict[str, str]:
    return suite.headers(Role.INSTITUTION_ADMIN, institution_id=world.institution_id)


async def test_r24_institution_assesses_a_trainee_and_publishes_the_completion(
    suite: Suite,
) -> None:
    world = await program(suite, days_ago=2)
    enrolment = world.trainees[0].enrolment_id
    url = f"/v1/enrolments/{enrolment}/assessment"
    response = await suite.direct["feedback"].post(
        url, json=BODY, headers=institution(suite, world)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["passed"] is True and body["late"] is False and body["attitude"] == 5
    published = await outbox_events(
        suite.apps["feedback"], "feedback.assessment.submitted.v1", enrolment_id=enrolment
    )
    assert len(published) == 1
    assert published[0]["passed"] is True and published[0]["attendance_rate"] == "0.95"
    again = await suite.direct["feedback"].post(url, json=BODY, headers=institution(suite, world))
    assert again.status_code == 409


async def test_r24_assessment_after_five_days_is_taken_but_marked_late(suite: Suite) -> None:
    world = await program(suite, days_ago=6)
    response = await suite.direct["feedback"].post(
        f"/v1/enrolments/{world.trainees[0].enrolment_id}/assessment",
        json=BODY,
        headers=institution(suite, world),
    )
    assert response.status_code == 201, response.text
    assert response.json()["late"] is True


async def test_r24_assessment_before_the_last_day_is_refused(suite: Suite) -> None:
    world = await program(suite, days_ago=-2)
    response = await suite.direct["feedback"].post(
        f"/v1/enrolments/{world.trainees[0].enrolment_id}/assessment",
        json=BODY,
        headers=institution(suite, world),
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("assessment-not-open")


async def test_r24_only_the_programs_institution_or_the_bureau_assesses(suite: Suite) -> None:
    world = await program(suite, days_ago=1)
    url = f"/v1/enrolments/{world.trainees[0].enrolment_id}/assessment"
    t = world.trainees[0]
    for headers in (
        suite.headers(Role.INSTITUTION_ADMIN, institution_id=world.program_id),
        suite.headers(Role.TEACHER, teacher_id=t.teacher_id, school_id=t.school_id),
        suite.headers(Role.SCHOOL_ADMIN, school_id=t.school_id),
    ):
        refused = await suite.direct["feedback"].post(url, json=BODY, headers=headers)
        assert refused.status_code == 403, refused.text
    bad = await suite.direct["feedback"].post(
        url, json={**BODY, "attendance_rate": "1.5"}, headers=institution(suite, world)
    )
    assert bad.status_code == 422
    assert not await outbox_events(
        suite.apps["feedback"], "feedback.assessment.submitted.v1", enrolment_id=t.enrolment_id
    )
    bureau = await suite.direct["feedback"].post(url, json=BODY, headers=suite.headers())
    assert bureau.status_code == 201


async def test_r24_a_school_assesses_the_trainees_of_its_school_based_program(
    suite: Suite,
) -> None:
    world = World(ends_on=local_today() - dt.timedelta(days=1))
    t = world.trainee()
    school = uuid.uuid4()
    await feed(
        suite.apps["feedback"],
        world.transitioned(institution_id=None, school_id=school, mode="school_based"),
        world.confirmed(t),
    )
    url = f"/v1/enrolments/{t.enrolment_id}/assessment"
    other = suite.headers(Role.SCHOOL_ADMIN, school_id=uuid.uuid4())
    assert (await suite.direct["feedback"].post(url, json=BODY, headers=other)).status_code == 403
    own = suite.headers(Role.SCHOOL_ADMIN, school_id=school)
    response = await suite.direct["feedback"].post(url, json=BODY, headers=own)
    assert response.status_code == 201, response.text
    assert response.json()["institution_id"] is None
