"""Trainee ratings of a program (R25) through the service's API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from services.feedback.models import Rating
from shared.auth import Role
from tests.feedback.support import World, feed, local_today, outbox_events
from tests.harness import Suite

SCORES = {"overall": 5, "format": 4, "instructors": 5, "management": 3, "comments": "很实用"}


async def ended_program(suite: Suite, days_ago: int = 1, trainees: int = 1) -> World:
    world = World(ends_on=local_today() - dt.timedelta(days=days_ago))
    for _ in range(trainees):
        world.trainee()
    await feed(suite.apps["feedback"], *world.everything())
    return world


def as_teacher(suite: Suite, world: World, i: int = 0) -> dict[str, str]:
    t = world.trainees[i]
    return suite.headers(Role.TEACHER, teacher_id=t.teacher_id, school_id=t.school_id)


async def ratings_of(suite: Suite, world: World) -> int:
    async with suite.apps["feedback"].state.database.sessions() as session:
        return await session.scalar(
            select(func.count()).select_from(Rating).where(Rating.program_id == world.program_id)
        )


async def test_r25_attendee_rates_once_and_the_rating_is_published(suite: Suite) -> None:
    world = await ended_program(suite)
    client = suite.direct["feedback"]
    url = f"/v1/programs/{world.program_id}/ratings"
    first = await client.post(url, json=SCORES, headers=as_teacher(suite, world))
    assert first.status_code == 201, first.text
    assert first.json()["overall"] == 5 and first.json()["comments"] == "很实用"
    again = await client.post(url, json=SCORES, headers=as_teacher(suite, world))
    assert again.status_code == 409
    assert again.json()["type"].endswith("already-rated")
    assert await ratings_of(suite, world) == 1
    published = await outbox_events(
        suite.apps["feedback"],
        "feedback.rating.submitted.v1",
        program_id=world.program_id,
        teacher_id=world.trainees[0].teacher_id,
    )
    assert [p["rating_id"] for p in published] == [first.json()["id"]]


async def test_r25_rating_with_idempotency_key_is_replayed_not_repeated(suite: Suite) -> None:
    world = await ended_program(suite)
    headers = as_teacher(suite, world) | {"Idempotency-Key": "rate-1"}
    url = f"/v1/programs/{world.program_id}/ratings"
    first = await suite.direct["feedback"].post(url, json=SCORES, headers=headers)
    second = await suite.direct["feedback"].post(url, json=SCORES, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json()["id"] == first.json()["id"]
    assert await ratings_of(suite, world) == 1


async def test_r25_rating_refused_after_ten_days_and_before_the_end(suite: Suite) -> None:
    late = await ended_program(suite, days_ago=11)
    early = await ended_program(suite, days_ago=-3)
    last_day = await ended_program(suite, days_ago=10)
    for world, status in ((late, 422), (early, 422), (last_day, 201)):
        response = await suite.direct["feedback"].post(
            f"/v1/programs/{world.program_id}/ratings",
            json=SCORES,
            headers=as_teacher(suite, world),
        )
        assert response.status_code == status, response.text
        if status == 422:
            assert response.json()["type"].endswith("rating-window-closed")
            assert response.headers["content-type"] == "application/problem+json"
            assert await ratings_of(suite, world) == 0


async def test_r25_only_a_trainee_who_attended_may_rate(suite: Suite) -> None:
    world = await ended_program(suite, trainees=2)
    await feed(suite.apps["feedback"], world.withdrawn(world.trainees[1]))
    url = f"/v1/programs/{world.program_id}/ratings"
    withdrawn = await suite.direct["feedback"].post(
        url, json=SCORES, headers=as_teacher(suite, world, 1)
    )
    assert withdrawn.status_code == 403
    assert withdrawn.json()["type"].endswith("not-attendee")
    stranger = await suite.direct["feedback"].post(
        url, json=SCORES, headers=suite.headers(Role.TEACHER, teacher_id=world.institution_id)
    )
    assert stranger.status_code == 403
    institution = await suite.direct["feedback"].post(
        url,
        json=SCORES,
        headers=suite.headers(Role.INSTITUTION_ADMIN, institution_id=world.institution_id),
    )
    assert institution.status_code == 403
    assert await ratings_of(suite, world) == 0


async def test_r25_scores_outside_one_to_five_are_refused(suite: Suite) -> None:
    world = await ended_program(suite)
    url = f"/v1/programs/{world.program_id}/ratings"
    for bad in ({**SCORES, "format": 0}, {**SCORES, "overall": 6}, {**SCORES, "extra": 1}):
        response = await suite.direct["feedback"].post(
            url, json=bad, headers=as_teacher(suite, world)
        )
        assert response.status_code == 422, response.text
    assert await ratings_of(suite, world) == 0


async def test_rating_an_unknown_program_is_404(suite: Suite) -> None:
    world = World(ends_on=local_today())
    world.trainee()
    response = await suite.direct["feedback"].post(
        f"/v1/programs/{world.program_id}/ratings", json=SCORES, headers=as_teacher(suite, world)
    )
    assert response.status_code == 404
