"""R17: a teacher sees a program's hours only after rating it; schools and bureau see all."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from shared.events.enrolment import EnrolmentCompleted
from tests.harness import Suite, wait_for
from tests.ledger.conftest import District


def completed(district: District, teacher: uuid.UUID, program: uuid.UUID) -> EnrolmentCompleted:
    return EnrolmentCompleted(
        enrolment_id=uuid.uuid4(),
        program_id=program,
        teacher_id=teacher,
        school_id=district.school_id,
        district_id=district.id,
        passed=True,
        attendance_rate=Decimal("1.0"),
        hours=Decimal("24.0"),
        mode="centralized",
        level="district",
        category="self_selected",
        program_title="小学语文骨干教师研修",
        completed_on=dt.date(2027, 6, 30),
    )


async def test_r17_teacher_sees_program_hours_only_after_rating_it(district: District) -> None:
    teacher = await district.register()
    program = uuid.uuid4()
    await district.apply(completed(district, teacher, program))
    await district.recognise(teacher, hours="5.0")
    own = district.teacher(teacher)
    before = await district.hours(teacher, headers=own)
    assert before["total_hours"] == "5.0"
    assert before["withheld_programs"] == [str(program)]
    ledger = await district.client.get(f"/v1/teachers/{teacher}/ledger", headers=own)
    assert [e["program_id"] for e in ledger.json()["items"]] == [None]
    for staff in (district.bureau(), district.school()):
        assert (await district.hours(teacher, headers=staff))["total_hours"] == "29.0"
    await district.rate(teacher, program)
    after = await district.hours(teacher, headers=own)
    assert after["total_hours"] == "29.0" and after["withheld_programs"] == []


async def test_r17_hours_show_once_the_rating_window_closed_unrated(district: District) -> None:
    """The teacher can no longer rate: R17 must not hide the hours for ever."""
    from shared.events.feedback import RatingWindowClosed

    teacher = await district.register()
    program = uuid.uuid4()
    await district.apply(completed(district, teacher, program))
    own = district.teacher(teacher)
    assert (await district.hours(teacher, headers=own))["withheld_programs"] == [str(program)]
    await district.apply(
        RatingWindowClosed(
            task_id=uuid.uuid4(),
            enrolment_id=uuid.uuid4(),
            program_id=program,
            teacher_id=teacher,
            due_at=dt.datetime.now(dt.UTC),
        )
    )
    after = await district.hours(teacher, headers=own)
    assert after["total_hours"] == "24.0" and after["withheld_programs"] == []


async def test_r17_rating_events_arrive_over_nats(district: District, suite: Suite) -> None:
    from shared.events.feedback import RatingSubmitted

    teacher = await district.register()
    program = uuid.uuid4()
    await district.apply(completed(district, teacher, program))
    nats = suite.apps["feedback"].state.nats
    event = RatingSubmitted(rating_id=uuid.uuid4(), program_id=program, teacher_id=teacher)
    await nats.js.publish(nats.namespace.subject(event.subject), event.model_dump_json().encode())
    await nats.js.publish(nats.namespace.subject(event.subject), event.model_dump_json().encode())

    async def visible() -> bool:
        summary = await district.hours(teacher, headers=district.teacher(teacher))
        return summary["total_hours"] == "24.0"

    await wait_for(visible)


async def test_a_completion_delivered_twice_posts_once(district: District) -> None:
    teacher = await district.register()
    event = completed(district, teacher, uuid.uuid4())
    await district.apply(event)
    await district.apply(event.model_copy(update={"event_id": uuid.uuid4()}))
    assert (await district.hours(teacher))["total_hours"] == "24.0"
