"""Events published by the enrolment service (stream ENROLMENT, subjects enrolment.>)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import ClassVar

from shared.events.base import Event


class EnrolmentEvent(Event):
    stream: ClassVar[str] = "ENROLMENT"


class SchoolRegistered(EnrolmentEvent):
    subject: ClassVar[str] = "enrolment.school.registered.v1"
    school_id: uuid.UUID
    district_id: uuid.UUID
    name: str
    stage: str


class InstitutionRegistered(EnrolmentEvent):
    subject: ClassVar[str] = "enrolment.institution.registered.v1"
    institution_id: uuid.UUID
    district_id: uuid.UUID
    name: str


class _TeacherFacts(EnrolmentEvent):
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    district_id: uuid.UUID
    name: str
    stage: str
    subject_taught: str
    hired_on: dt.date | None = None


class TeacherRegistered(_TeacherFacts):
    subject: ClassVar[str] = "enrolment.teacher.registered.v1"


class TeacherUpdated(_TeacherFacts):
    """A teacher's record changed (name, stage, subject, hire date)."""

    subject: ClassVar[str] = "enrolment.teacher.updated.v1"


class ProgramTransitioned(EnrolmentEvent):
    """A program moved through its lifecycle (submitted, approved, published, ... finished)."""

    subject: ClassVar[str] = "enrolment.program.transitioned.v1"
    program_id: uuid.UUID
    district_id: uuid.UUID
    institution_id: uuid.UUID | None
    school_id: uuid.UUID | None
    action: str
    from_status: str
    to_status: str
    title: str
    hours: Decimal
    mode: str
    level: str
    category: str
    starts_on: dt.date
    ends_on: dt.date


class EnrolmentConfirmed(EnrolmentEvent):
    subject: ClassVar[str] = "enrolment.enrolment.confirmed.v1"
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    district_id: uuid.UUID


class EnrolmentCompleted(EnrolmentEvent):
    """An enrolment was completed; when passed, its hours are to be recognised (学时认定)."""

    subject: ClassVar[str] = "enrolment.enrolment.completed.v1"
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    district_id: uuid.UUID
    passed: bool
    attendance_rate: Decimal
    hours: Decimal
    mode: str
    level: str
    category: str
    program_title: str
    completed_on: dt.date
