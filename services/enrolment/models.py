"""Tables of the enrolment service."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import infrastructure_tables
from shared.units import HoursColumn


class EnrolmentModel(SQLModel, registry=registry()):
    pass


infra = infrastructure_tables(EnrolmentModel.metadata)


def created_column() -> Column:
    return Column(UtcDateTime, nullable=False, default=utcnow)


class District(EnrolmentModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class School(EnrolmentModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID = Field(foreign_key="district.id", index=True)
    name: str = Field(max_length=200)
    stage: str = Field(max_length=20)
    # R7: how many of its teachers may be away on training at once (None: no cap).
    max_away: int | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class Institution(EnrolmentModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID = Field(foreign_key="district.id", index=True)
    name: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class Teacher(EnrolmentModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID = Field(foreign_key="district.id", index=True)
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    name: str = Field(max_length=100)
    stage: str = Field(max_length=20)
    subject: str = Field(max_length=50)
    hired_on: dt.date | None = None
    id_number_encrypted: str | None = Field(default=None, max_length=200)
    # Unique: teachers log in with it (gateway/accounts.py).
    id_number_hash: str | None = Field(default=None, max_length=64, unique=True)
    id_number_masked: str | None = Field(default=None, max_length=32)
    # A number another teacher, outside the registrar's scope, already has: held here as a
    # conflict for the bureaus to resolve (a transfer), with no id_number_hash and so no login
    # by it; the registrar was answered as for a new number (docs/accounts.md).
    id_number_claim_hash: str | None = Field(default=None, max_length=64, index=True)
    id_number_holder_id: uuid.UUID | None = Field(default=None, foreign_key="teacher.id")
    # Optional; a login identifier, so unique, and kept like the identity number.
    mobile_encrypted: str | None = Field(default=None, max_length=200)
    mobile_hash: str | None = Field(default=None, max_length=64, unique=True)
    mobile_masked: str | None = Field(default=None, max_length=32)
    # Audience roles: principal, middle_cadre, class_teacher, backbone, kindergarten, rural.
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Enrolments made for the teacher so far. Every path that makes one counts it, and the
    # rush path (rush.py) writes only if the count is still the one it read its checks at.
    placements: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


def updated_column(*, on_every_update: bool) -> Column:
    # Null on rows written before it existed (and by the rush's own insert): read it with
    # created_at. A program stamps it itself (programs.py), so the seat counter's UPDATE on
    # the hot path stays one column.
    return Column(
        UtcDateTime, nullable=True, default=utcnow, onupdate=utcnow if on_every_update else None
    )


class Program(EnrolmentModel, table=True):
    __table_args__ = (
        # The catalogue walks a district's programs by start date (its default order).
        Index("ix_program_district_starts", "district_id", "starts_on", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID = Field(foreign_key="district.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    place: str | None = Field(default=None, max_length=200)
    hours: Decimal = Field(sa_type=HoursColumn)
    capacity: int
    seats_taken: int = 0
    mode: str = Field(max_length=20)
    level: str = Field(max_length=20)
    category: str = Field(max_length=20)
    selection: str = Field(max_length=20)
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institution.id", index=True)
    school_id: uuid.UUID | None = Field(default=None, foreign_key="school.id", index=True)
    enrol_opens_at: dt.datetime = Field(sa_type=UtcDateTime)
    enrol_closes_at: dt.datetime = Field(sa_type=UtcDateTime)
    starts_on: dt.date
    ends_on: dt.date
    status: str = Field(default="draft", max_length=20, index=True)
    # {"stages": [...], "subjects": [...], "roles": [...]}; an empty list admits everyone.
    audience: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # R9: [{"name": ..., "kind": "expert" | "frontline" | "researcher" | "other"}]
    expert_team: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cost_per_participant_fen: int = Field(default=0, sa_type=BigInteger)
    # R3: whether seats are allotted to schools (kept here so enrolling reads no extra table).
    allotted: bool = False
    funded_by: str | None = Field(default=None, max_length=20)
    # Lottery selection: the seed, made and shown when the program is published, before its
    # enrolment window opens (lottery.py).
    lottery_seed: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())
    updated_at: dt.datetime | None = Field(
        default=None, sa_column=updated_column(on_every_update=False)
    )


class CatalogueTerm(EnrolmentModel, table=True):
    """The catalogue's index: the words of a program's title and description (Chinese as
    character bigrams) and its audience (`stage:…`, `subject:…`, `role:…`, `*` for all), so a
    search or an audience filter is an index lookup on both databases (docs/decisions.md)."""

    __tablename__ = "catalogue_term"

    # Byte order on PostgreSQL whatever the database's collation, as on SQLite: a prefix is a
    # range of the index.
    term: str = Field(
        sa_column=Column(
            String(80).with_variant(String(80, collation="C"), "postgresql"), primary_key=True
        )
    )
    program_id: uuid.UUID = Field(foreign_key="program.id", primary_key=True, index=True)


class TeacherStanding(EnrolmentModel, table=True):
    """Projection of ledger.teacher.standing_changed.v1: a teacher's gaps this year."""

    __tablename__ = "teacher_standing"

    teacher_id: uuid.UUID = Field(primary_key=True)
    year: int
    policy_version: str = Field(max_length=100)
    requirements: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # When the ledger computed it: an older event delivered late never overwrites a newer one.
    as_of: dt.datetime = Field(sa_type=UtcDateTime)


class ProgramQuota(EnrolmentModel, table=True):
    """R3: the seats of a program allotted to one school."""

    program_id: uuid.UUID = Field(foreign_key="program.id", primary_key=True)
    school_id: uuid.UUID = Field(foreign_key="school.id", primary_key=True)
    seats: int
    seats_taken: int = 0


class Enrolment(EnrolmentModel, table=True):
    __table_args__ = (
        UniqueConstraint("program_id", "teacher_id", name="uq_enrolment_program_teacher"),
        Index("ix_enrolment_teacher_status", "teacher_id", "status"),
        # The last place on a program's waitlist, found without counting everyone waiting.
        Index(
            "ix_enrolment_waitlist",
            "program_id",
            "waitlist_position",
            postgresql_where=text("status = 'waitlisted'"),
            sqlite_where=text("status = 'waitlisted'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    program_id: uuid.UUID = Field(foreign_key="program.id", index=True)
    teacher_id: uuid.UUID = Field(foreign_key="teacher.id")
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    district_id: uuid.UUID = Field(foreign_key="district.id")
    status: str = Field(max_length=20)
    # The place a teacher joined the waitlist at (promotion goes by arrival: created_at, id).
    waitlist_position: int | None = None
    holds_quota: bool = False
    reason: str | None = Field(default=None, max_length=500)
    offer_expires_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    attendance_rate: Decimal | None = Field(default=None, max_digits=4, decimal_places=3)
    passed: bool | None = None
    completed_on: dt.date | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())
    # The app's sync (`updated_since`): every ORM change of the row stamps it.
    updated_at: dt.datetime | None = Field(
        default=None, sa_column=updated_column(on_every_update=True)
    )


class LeaveRequest(EnrolmentModel, table=True):
    """R4: a confirmed trainee's leave or substitution, effective once both parties approve."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    enrolment_id: uuid.UUID = Field(foreign_key="enrolment.id", index=True)
    program_id: uuid.UUID = Field(foreign_key="program.id")
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    district_id: uuid.UUID = Field(foreign_key="district.id")
    kind: str = Field(max_length=20)
    reason: str = Field(max_length=500)
    substitute_teacher_id: uuid.UUID | None = Field(default=None, foreign_key="teacher.id")
    school_approved: bool | None = None
    institution_approved: bool | None = None
    status: str = Field(default="pending", max_length=20)
    substitute_enrolment_id: uuid.UUID | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class Attendance(EnrolmentModel, table=True):
    __table_args__ = (
        UniqueConstraint("enrolment_id", "session_on", name="uq_attendance_enrolment_session"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    program_id: uuid.UUID = Field(foreign_key="program.id", index=True)
    enrolment_id: uuid.UUID = Field(foreign_key="enrolment.id")
    session_on: dt.date
    present: bool


class ProgramSession(EnrolmentModel, table=True):
    """One session of a program (a day's teaching): when, and where or at which link."""

    __tablename__ = "program_session"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    program_id: uuid.UUID = Field(foreign_key="program.id", index=True)
    district_id: uuid.UUID = Field(foreign_key="district.id")
    starts_at: dt.datetime = Field(sa_type=UtcDateTime)
    ends_at: dt.datetime = Field(sa_type=UtcDateTime)
    place: str | None = Field(default=None, max_length=200)
    online_url: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class CheckIn(EnrolmentModel, table=True):
    """A trainee scanned a session's code (扫码签到): once per session; late by policy."""

    __tablename__ = "check_in"
    __table_args__ = (
        UniqueConstraint("session_id", "enrolment_id", name="uq_check_in_session_enrolment"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="program_session.id", index=True)
    program_id: uuid.UUID = Field(foreign_key="program.id", index=True)
    enrolment_id: uuid.UUID = Field(foreign_key="enrolment.id")
    teacher_id: uuid.UUID
    checked_in_at: dt.datetime = Field(sa_type=UtcDateTime)
    late: bool = False


class ProgramRating(EnrolmentModel, table=True):
    """Local projection of feedback.rating.submitted.v1: who has evaluated what (R6)."""

    program_id: uuid.UUID = Field(primary_key=True)
    teacher_id: uuid.UUID = Field(primary_key=True)
    rated_at: dt.datetime = Field(sa_type=UtcDateTime)
    # False: the rating window (R25) closed unrated (feedback.rating.window_closed.v1); the
    # teacher can no longer rate, so R6 does not hold the next term against them.
    rated: bool = Field(default=True, sa_column_kwargs={"server_default": true()})


class LotteryDraw(EnrolmentModel, table=True):
    """The draw of a lottery program, made once when its enrolment closes: its inputs
    (seed, algorithm, policy, capacity) and, in lottery_entry, every applicant's result."""

    __tablename__ = "lottery_draw"

    program_id: uuid.UUID = Field(foreign_key="program.id", primary_key=True)
    seed: str = Field(max_length=64)
    algorithm: str = Field(max_length=200)
    policy: str = Field(max_length=50)
    tiers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    capacity: int
    applicants: int
    confirmed: int
    drawn_at: dt.datetime = Field(sa_type=UtcDateTime)


class LotteryEntry(EnrolmentModel, table=True):
    """One applicant of a draw: tier, ticket (the hash), rank and what the draw gave them."""

    __tablename__ = "lottery_entry"

    program_id: uuid.UUID = Field(foreign_key="program.id", primary_key=True)
    enrolment_id: uuid.UUID = Field(foreign_key="enrolment.id", primary_key=True)
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    tier: int
    tier_name: str = Field(max_length=30)
    ticket: str = Field(max_length=64)
    rank: int
    outcome: str = Field(max_length=20)


class ParkedMessage(EnrolmentModel, table=True):
    """An event that could not be applied yet (an assessment of a program nobody started):
    kept, and applied when its program moves; never dropped (parked.py)."""

    __tablename__ = "parked_message"

    event_id: uuid.UUID = Field(primary_key=True)
    subject: str = Field(max_length=100)
    program_id: uuid.UUID = Field(index=True)
    enrolment_id: uuid.UUID
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str = Field(max_length=300)
    # parked → applied, or refused with the reason when it can never apply (the place ended).
    status: str = Field(default="parked", max_length=20, index=True)
    attempts: int = 0
    parked_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    settled_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class RosterImport(EnrolmentModel, table=True):
    """A roster file being imported; a background task works through it and records progress."""

    __table_args__ = (UniqueConstraint("school_scope", "digest", "mode", name="uq_import_file"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID = Field(foreign_key="district.id")
    # The school an admin imported for, or the district id for the bureau: re-uploads dedupe here.
    school_scope: uuid.UUID
    requested_by: str = Field(max_length=200)
    filename: str = Field(max_length=300)
    digest: str = Field(max_length=64)
    mode: str = Field(max_length=20)
    # Whether each teacher of the file gets a login (made by the gateway from the events).
    create_logins: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    status: str = Field(default="queued", max_length=20, index=True)
    total_rows: int = 0
    processed_rows: int = 0
    created_count: int = 0
    skipped_count: int = 0
    errors: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Columns of the file the import does not read (序号, 性别, …), told as warnings.
    ignored_columns: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # The vocabulary (shared/vocabulary.py) the file's words were read with.
    vocabulary: str | None = Field(default=None, max_length=40)
    # The refused rows as the file had them, for the error report to fix and re-upload:
    # sealed like the upload (they hold identity numbers).
    refused_rows: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())
    finished_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The process working it and until when (shared.worker.Lease), and how often it was
    # taken up: one that keeps failing is given up rather than retried forever.
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
