"""Tables of the feedback service: projections fed by events, and the evaluations themselves."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import infrastructure_tables
from shared.units import HoursColumn


class FeedbackModel(SQLModel, registry=registry()):
    pass


infra = infrastructure_tables(FeedbackModel.metadata)


def _created() -> Column:
    return Column(UtcDateTime, nullable=False, default=utcnow)


def _when(nullable: bool = True) -> Column:
    return Column(UtcDateTime, nullable=nullable)


class ProgramProjection(FeedbackModel, table=True):
    """What feedback knows of a program, from enrolment.program.transitioned.v1."""

    __tablename__ = "program"

    id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    institution_id: uuid.UUID | None = Field(default=None, index=True)
    school_id: uuid.UUID | None = None
    title: str = Field(max_length=300)
    hours: Decimal = Field(sa_type=HoursColumn)
    mode: str = Field(max_length=20)
    level: str = Field(max_length=20)
    category: str = Field(max_length=20)
    status: str = Field(max_length=30)
    starts_on: dt.date
    ends_on: dt.date
    approved_at: dt.datetime | None = Field(default=None, sa_column=_when())
    finished_at: dt.datetime | None = Field(default=None, sa_column=_when())


class InstitutionProjection(FeedbackModel, table=True):
    """A training institution's name and district, for scorecards and the ranking (R26)."""

    __tablename__ = "institution"

    id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=200)


class TeacherProjection(FeedbackModel, table=True):
    """A teacher's name and school, for scope checks and named ratings."""

    __tablename__ = "teacher"

    id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    school_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=100)


class Attendee(FeedbackModel, table=True):
    """A confirmed place in a program (who should attend) and how it ended."""

    __tablename__ = "attendee"
    __table_args__ = (Index("ix_attendee_program_teacher", "program_id", "teacher_id"),)

    enrolment_id: uuid.UUID = Field(primary_key=True)
    program_id: uuid.UUID
    teacher_id: uuid.UUID = Field(index=True)
    school_id: uuid.UUID
    district_id: uuid.UUID
    status: str = Field(max_length=20)  # confirmed, completed, withdrawn
    passed: bool | None = None
    attendance_rate: Decimal | None = Field(default=None, max_digits=5, decimal_places=4)


class Rating(FeedbackModel, table=True):
    """A trainee's rating of a program (R25): one per trainee per program."""

    __table_args__ = (UniqueConstraint("program_id", "teacher_id", name="uq_rating_trainee"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    program_id: uuid.UUID = Field(index=True)
    teacher_id: uuid.UUID = Field(index=True)
    enrolment_id: uuid.UUID
    overall: int
    format: int
    instructors: int
    management: int
    comments: str = Field(default="", max_length=2000)
    policy_version: str = Field(max_length=50)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_created())


class Assessment(FeedbackModel, table=True):
    """The institution's assessment of one trainee (R24): one per enrolment."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    enrolment_id: uuid.UUID = Field(unique=True)
    program_id: uuid.UUID = Field(index=True)
    teacher_id: uuid.UUID = Field(index=True)
    institution_id: uuid.UUID | None = None
    attitude: int
    assignments: int
    attendance_rate: Decimal = Field(max_digits=5, decimal_places=4)
    passed: bool
    comments: str = Field(default="", max_length=2000)
    late: bool = False
    assessed_by: str = Field(max_length=200)
    policy_version: str = Field(max_length=50)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_created())


class EvaluationTask(FeedbackModel, table=True):
    """Something someone owes by a deadline: a rating, an assessment or a follow-up.

    The scheduler derives all due work from these rows, so a restart loses nothing; each
    step (reminded, expired) is claimed by a conditional UPDATE so it happens once.
    """

    __tablename__ = "evaluation_task"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "kind", name="uq_task_enrolment_kind"),
        Index("ix_task_state_due", "state", "due_at"),
        Index("ix_task_state_remind", "state", "remind_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=30)  # rating, assessment, follow_up_1m, follow_up_3m
    enrolment_id: uuid.UUID
    program_id: uuid.UUID = Field(index=True)
    teacher_id: uuid.UUID = Field(index=True)
    institution_id: uuid.UUID | None = None
    school_id: uuid.UUID
    district_id: uuid.UUID
    state: str = Field(default="open", max_length=20)  # open, done, overdue, closed, cancelled
    opens_at: dt.datetime = Field(sa_column=_when(nullable=False))
    due_at: dt.datetime = Field(sa_column=_when(nullable=False))
    remind_at: dt.datetime = Field(sa_column=_when(nullable=False))
    reminded_at: dt.datetime | None = Field(default=None, sa_column=_when())
    settled_at: dt.datetime | None = Field(default=None, sa_column=_when())
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_created())


class FollowUpResponse(FeedbackModel, table=True):
    """A teacher's answers to a follow-up questionnaire (R27)."""

    __tablename__ = "follow_up_response"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    task_id: uuid.UUID = Field(unique=True)
    program_id: uuid.UUID = Field(index=True)
    teacher_id: uuid.UUID = Field(index=True)
    months_after: int
    answers: str  # JSON object, keys of the policy's questions
    policy_version: str = Field(max_length=50)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_created())


class FundingFigure(FeedbackModel, table=True):
    """Money committed to a program's participants, from budget.funding.reserved.v1 (R26)."""

    __tablename__ = "funding_figure"

    enrolment_id: uuid.UUID = Field(primary_key=True)
    program_id: uuid.UUID = Field(index=True)
    amount_fen: int = Field(sa_type=BigInteger)


class AppraisalTemplate(FeedbackModel, table=True):
    """A school's appraisal rounds (R28) as a survey template with its week schedule."""

    __tablename__ = "appraisal_template"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    school_id: uuid.UUID | None = Field(default=None, index=True)
    name: str = Field(max_length=200)
    term_weeks: int
    rounds: str  # JSON list of rounds
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_created())
