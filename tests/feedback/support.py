"""Building the events feedback consumes, and applying them to the running service."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from services.feedback.handlers import handlers
from services.feedback.models import infra
from shared.config import DEFAULT_DISTRICT_ID, DISTRICT_TZ
from shared.events.base import Event
from shared.events.enrolment import (
    EnrolmentCompleted,
    EnrolmentConfirmed,
    EnrolmentWithdrawn,
    InstitutionRegistered,
    ProgramTransitioned,
    TeacherRegistered,
)
from shared.messaging.inbox import apply_once


def local_today() -> dt.date:
    return dt.datetime.now(ZoneInfo(DISTRICT_TZ)).date()


async def feed(app: FastAPI, *events: Event) -> None:
    """Apply events as the consumer would: through the inbox, once each."""
    for event in events:
        await apply_once(
            app.state.database, infra, "feedback", handlers.handlers[event.subject], event
        )


@dataclass
class Trainee:
    teacher_id: uuid.UUID = field(default_factory=uuid.uuid4)
    school_id: uuid.UUID = field(default_factory=uuid.uuid4)
    enrolment_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass
class World:
    """A program of an institution with its trainees, described as enrolment's events."""

    ends_on: dt.date
    status: str = "finished"
    program_id: uuid.UUID = field(default_factory=uuid.uuid4)
    institution_id: uuid.UUID = field(default_factory=uuid.uuid4)
    district_id: uuid.UUID = DEFAULT_DISTRICT_ID
    title: str = "2026年小学数学骨干教师培训"
    trainees: list[Trainee] = field(default_factory=list)

    def transitioned(self, to_status: str | None = None, **changes: object) -> ProgramTransitioned:
        values: dict = dict(
            program_id=self.program_id,
            district_id=self.district_id,
            institution_id=self.institution_id,
            school_id=None,
            action="finish",
            from_status="running",
            to_status=to_status or self.status,
            title=self.title,
            hours=Decimal("24.0"),
            mode="centralized",
            level="district",
            category="self_selected",
            starts_on=self.ends_on - dt.timedelta(days=2),
            ends_on=self.ends_on,
        )
        values.update(changes)
        return ProgramTransitioned(**values)

    def institution(self, name: str = "区教师进修学校") -> InstitutionRegistered:
        return InstitutionRegistered(
            institution_id=self.institution_id, district_id=self.district_id, name=name
        )

    def trainee(self) -> Trainee:
        trainee = Trainee()
        self.trainees.append(trainee)
        return trainee

    def _facts(self, t: Trainee) -> dict:
        return dict(
            enrolment_id=t.enrolment_id,
            program_id=self.program_id,
            teacher_id=t.teacher_id,
            school_id=t.school_id,
            district_id=self.district_id,
        )

    def registered(self, t: Trainee, name: str = "李老师") -> TeacherRegistered:
        return TeacherRegistered(
            teacher_id=t.teacher_id,
            school_id=t.school_id,
            district_id=self.district_id,
            name=name,
            stage="primary",
            subject_taught="数学",
        )

    def confirmed(self, t: Trainee) -> EnrolmentConfirmed:
        return EnrolmentConfirmed(**self._facts(t))

    def completed(self, t: Trainee, *, passed: bool = True) -> EnrolmentCompleted:
        return EnrolmentCompleted(
            **self._facts(t),
            passed=passed,
            attendance_rate=Decimal("0.95"),
            hours=Decimal("24.0"),
            mode="centralized",
            level="district",
            category="self_selected",
            program_title=self.title,
            completed_on=self.ends_on,
        )

    def withdrawn(self, t: Trainee) -> EnrolmentWithdrawn:
        return EnrolmentWithdrawn(**self._facts(t), reason="leave approved")

    def everything(self) -> list[Event]:
        events: list[Event] = [self.transitioned()]
        for t in self.trainees:
            events += [self.registered(t), self.confirmed(t)]
        return events


async def outbox_events(app: FastAPI, subject: str, **match: object) -> list[dict]:
    """Events of one subject the service wrote to its outbox, filtered by payload fields."""
    import json

    from sqlalchemy import select

    async with app.state.database.sessions() as session:
        rows = (
            await session.execute(
                select(infra.outbox.c.payload).where(infra.outbox.c.subject == subject)
            )
        ).all()
    payloads = [json.loads(r.payload) for r in rows]
    return [p for p in payloads if all(p.get(k) == str(v) for k, v in match.items())]
