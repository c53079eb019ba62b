"""The traps of missed windows: a rating window (R25) that closed unrated opens R6 and R17;
a substitute (R4) passes R6 like anyone else."""

from __future__ import annotations

import datetime as dt
import uuid

from shared.events.feedback import RatingWindowClosed
from tests.enrolment.conftest import TODAY, World, ok
from tests.enrolment.test_waitlist_and_events import apply, finished_enrolment


def window_closed(program: dict, teacher: dict, enrolment: dict) -> RatingWindowClosed:
    return RatingWindowClosed(
        task_id=uuid.uuid4(),
        enrolment_id=uuid.UUID(enrolment["id"]),
        program_id=uuid.UUID(program["id"]),
        teacher_id=uuid.UUID(teacher["id"]),
        due_at=dt.datetime.now(dt.UTC),
    )


async def next_term_program(world: World, **fields) -> dict:
    next_term = TODAY + dt.timedelta(days=200 + fields.pop("offset", 0))
    return await world.program(
        await world.institution(),
        starts_on=next_term.isoformat(),
        ends_on=(next_term + dt.timedelta(days=1)).isoformat(),
        **fields,
    )


async def test_r6_no_longer_blocks_next_term_once_the_rating_window_closed_unrated(
    world: World,
) -> None:
    school = await world.school()
    teacher = await world.teacher(school)
    done, enrolment = await finished_enrolment(world, teacher, school)
    later = await next_term_program(world)
    refused = await world.enrol(later, teacher, world.teacher_token(teacher))
    assert refused.json()["type"].endswith("r6-evaluation-pending")
    # The window closes without a rating: the teacher cannot rate any more, so R6 lets go.
    assert await apply(world, window_closed(done, teacher, enrolment))
    allowed = ok(await world.enrol(later, teacher, world.teacher_token(teacher)), 201)
    assert allowed["status"] == "confirmed"


async def test_r25_a_rating_after_the_window_event_is_still_recorded_as_rated(
    world: World,
) -> None:
    """Events may arrive in either order; a real rating is never overwritten as not rated."""
    from services.enrolment.models import ProgramRating
    from shared.events.feedback import RatingSubmitted

    school = await world.school()
    teacher = await world.teacher(school)
    done, enrolment = await finished_enrolment(world, teacher, school)
    assert await apply(world, window_closed(done, teacher, enrolment))
    rating = RatingSubmitted(
        rating_id=uuid.uuid4(),
        program_id=uuid.UUID(done["id"]),
        teacher_id=uuid.UUID(teacher["id"]),
    )
    assert await apply(world, rating)
    async with world.suite.apps["enrolment"].state.database.sessions() as session:
        row = await session.get(ProgramRating, (uuid.UUID(done["id"]), uuid.UUID(teacher["id"])))
    assert row is not None and row.rated is True


async def test_r4_a_substitute_must_pass_r6_like_anyone_else(world: World) -> None:
    school = await world.school()
    holder = await world.teacher(school)
    substitute = await world.teacher(school)
    done, sub_enrolment = await finished_enrolment(world, substitute, school)
    later = await next_term_program(world, offset=20)
    held = ok(await world.enrol(later, holder), 201)
    for action in ("close-enrolment",):
        await world.move(later, action)
    body = {"kind": "substitution", "reason": "外出学习", "substitute_teacher_id": substitute["id"]}
    refused = await world.api.post(
        f"/v1/enrolments/{held['id']}/leave-requests", headers=world.bureau, json=body
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("r6-evaluation-pending")
    # Once the substitute's own rating window has closed, R6 no longer holds them back.
    assert await apply(world, window_closed(done, substitute, sub_enrolment))
    filed = await world.api.post(
        f"/v1/enrolments/{held['id']}/leave-requests", headers=world.bureau, json=body
    )
    assert filed.status_code == 201, filed.text
