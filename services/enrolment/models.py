"""Tables of the enrolment service."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import Column, Index, UniqueConstraint
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
    id_number_hash: str | None = Field(default=None, max_length=64, unique=True)
    id_number_masked: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class Program(EnrolmentModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID = Field(foreign_key="district.id", index=True)
    title: str = Field(max_length=200)
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
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class Enrolment(EnrolmentModel, table=True):
    __table_args__ = (
        UniqueConstraint("program_id", "teacher_id", name="uq_enrolment_program_teacher"),
        Index("ix_enrolment_teacher_status", "teacher_id", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    program_id: uuid.UUID = Field(foreign_key="program.id", index=True)
    teacher_id: uuid.UUID = Field(foreign_key="teacher.id")
    school_id: uuid.UUID = Field(foreign_key="school.id", index=True)
    district_id: uuid.UUID = Field(foreign_key="district.id")
    status: str = Field(max_length=20)
    waitlist_position: int | None = None
    attendance_rate: Decimal | None = Field(default=None, max_digits=4, decimal_places=3)
    passed: bool | None = None
    completed_on: dt.date | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())
