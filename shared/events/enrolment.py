"""Events published by the enrolment service (stream ENROLMENT, subjects enrolment.>)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from shared.events.base import Event


class EnrolmentEvent(Event):
    stream: ClassVar[str] = "ENROLMENT"


class DistrictNamed(EnrolmentEvent):
    """A district and its bureau's name, announced when the directory starts (and so after a
    rename): documents the bureau issues (transcripts) print it."""

    subject: ClassVar[str] = "enrolment.district.named.v1"
    webhook: ClassVar[bool] = False
    district_id: uuid.UUID
    name: str


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


class TeacherLogin(BaseModel):
    """One teacher whose login is asked for, with keyed hashes (shared.pii.lookup_hash) of what
    the teacher logs in with, never the numbers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    teacher_id: uuid.UUID
    school_id: uuid.UUID
    district_id: uuid.UUID
    name: str
    id_number_hash: str | None = None
    id_number_masked: str | None = None
    mobile_hash: str | None = None
    mobile_masked: str | None = None


class TeacherLoginsRequested(EnrolmentEvent):
    """The school or bureau asked for these teachers' logins (a chunk of a roster import, or
    POST /v1/teachers); the gateway makes them. One event per chunk, so 10,000 logins are 50
    transactions of the gateway, not 10,000. Not offered to webhooks (login identifiers)."""

    subject: ClassVar[str] = "enrolment.teacher.logins_requested.v1"
    webhook: ClassVar[bool] = False
    logins: list[TeacherLogin]


class KeyedIdNumber(BaseModel):
    """A teacher and the keyed hash (shared.pii.lookup_hash) of their identity number."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    teacher_id: uuid.UUID
    district_id: uuid.UUID
    id_number_hash: str
    # The number sealed with the PII key (shared.pii.encrypt), for files the ledger sends
    # up to the province, which keys people by the number itself.
    id_number_encrypted: str | None = None


class TeacherIdNumbersKeyed(EnrolmentEvent):
    """Teachers registered with an identity number they hold (not a held conflict), by its
    keyed hash: the ledger matches the provincial platform's rows (keyed by 身份证号) with
    it. One event per registration or roster chunk. Not offered to webhooks."""

    subject: ClassVar[str] = "enrolment.teacher.id_numbers_keyed.v1"
    webhook: ClassVar[bool] = False
    teachers: list[KeyedIdNumber]


class TeacherMobileChanged(EnrolmentEvent):
    """A teacher's mobile number was set, changed or cleared (a login identifier)."""

    subject: ClassVar[str] = "enrolment.teacher.mobile_changed.v1"
    webhook: ClassVar[bool] = False
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    district_id: uuid.UUID
    mobile_hash: str | None = None
    mobile_masked: str | None = None


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
    capacity: int = 0
    # Per-participant cost and who pays it; "school" means the trainee's school pool (R22).
    cost_per_participant_fen: int = 0
    funded_by: str | None = None
    # True when the calendar moved it (enrol_closes_at, starts_on, ends_on + grace), not a
    # person; the action and statuses are the same as a click's.
    scheduled: bool = False


class ProgramLotteryDrawn(EnrolmentEvent):
    """A lottery program's draw was made at the close of enrolment: the seed published with
    the program, the algorithm, and how many applied, got a seat and wait (GET /draw)."""

    subject: ClassVar[str] = "enrolment.program.lottery_drawn.v1"
    program_id: uuid.UUID
    district_id: uuid.UUID
    seed: str
    algorithm: str
    applicants: int
    confirmed: int
    waitlisted: int


class _EnrolmentFacts(EnrolmentEvent):
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    district_id: uuid.UUID


class EnrolmentFundingRequested(_EnrolmentFacts):
    """A seat is held for the teacher while the school's pool is asked to commit the cost.

    Budget answers with budget.funding.reserved.v1 or budget.funding.refused.v1.
    """

    subject: ClassVar[str] = "enrolment.enrolment.funding_requested.v1"
    amount_fen: int
    fiscal_year: int


class EnrolmentWaitlisted(_EnrolmentFacts):
    subject: ClassVar[str] = "enrolment.enrolment.waitlisted.v1"
    waitlist_position: int


class EnrolmentPromoted(_EnrolmentFacts):
    """A waitlisted teacher was offered a freed seat."""

    subject: ClassVar[str] = "enrolment.enrolment.promoted.v1"
    offer_expires_at: dt.datetime | None = None


class EnrolmentRefused(_EnrolmentFacts):
    subject: ClassVar[str] = "enrolment.enrolment.refused.v1"
    reason: str


class EnrolmentWithdrawn(_EnrolmentFacts):
    """A confirmed or waiting enrolment ended before completion (withdrawal, approved leave)."""

    subject: ClassVar[str] = "enrolment.enrolment.withdrawn.v1"
    reason: str
    was_confirmed: bool = True


class EnrolmentConfirmed(_EnrolmentFacts):
    subject: ClassVar[str] = "enrolment.enrolment.confirmed.v1"


class EnrolmentCompleted(_EnrolmentFacts):
    """An enrolment was completed; when passed, its hours are to be recognised (学时认定)."""

    subject: ClassVar[str] = "enrolment.enrolment.completed.v1"
    passed: bool
    attendance_rate: Decimal
    hours: Decimal
    mode: str
    level: str
    category: str
    program_title: str
    completed_on: dt.date


class EnrolmentApplied(_EnrolmentFacts):
    """A teacher applied to a recommended program (R2); the school recommends next."""

    subject: ClassVar[str] = "enrolment.enrolment.applied.v1"


class EnrolmentRecommended(_EnrolmentFacts):
    """The school recommended its teacher within its quota (R2, R3); the bureau approves next."""

    subject: ClassVar[str] = "enrolment.enrolment.recommended.v1"


class EnrolmentOfferExpired(_EnrolmentFacts):
    """A promoted teacher did not take the offered seat in time; the next in line is offered."""

    subject: ClassVar[str] = "enrolment.enrolment.offer_expired.v1"


class LeaveRequested(EnrolmentEvent):
    """A confirmed trainee asked for leave or a substitution (R4)."""

    subject: ClassVar[str] = "enrolment.leave.requested.v1"
    leave_request_id: uuid.UUID
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    school_id: uuid.UUID
    kind: str
    substitute_teacher_id: uuid.UUID | None = None


class LeaveDecided(EnrolmentEvent):
    """A leave request was approved by both parties, or refused by one (R4)."""

    subject: ClassVar[str] = "enrolment.leave.decided.v1"
    leave_request_id: uuid.UUID
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    school_id: uuid.UUID
    kind: str
    approved: bool
    substitute_enrolment_id: uuid.UUID | None = None


class AttendanceRecorded(EnrolmentEvent):
    """Attendance of one session of a program was taken."""

    subject: ClassVar[str] = "enrolment.attendance.recorded.v1"
    program_id: uuid.UUID
    session_on: dt.date
    present: int
    absent: int


class ProgramQuotasSet(EnrolmentEvent):
    """The bureau allotted a program's seats to schools (R3)."""

    subject: ClassVar[str] = "enrolment.program.quotas_set.v1"
    program_id: uuid.UUID
    district_id: uuid.UUID
    quotas: dict[str, int]


class RosterImported(EnrolmentEvent):
    """A roster file finished importing (its teachers are announced one by one as registered)."""

    subject: ClassVar[str] = "enrolment.roster.imported.v1"
    import_id: uuid.UUID
    district_id: uuid.UUID
    status: str
    created_count: int
    error_count: int
