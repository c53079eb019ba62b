"""Tables of the ledger service."""

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


class LedgerModel(SQLModel, registry=registry()):
    pass


infra = infrastructure_tables(LedgerModel.metadata)


class TeacherProjection(LedgerModel, table=True):
    """What the ledger knows of a teacher, kept from enrolment's events."""

    __tablename__ = "teacher"

    id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    school_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=100)
    hired_on: dt.date | None = None


class LedgerEntry(LedgerModel, table=True):
    """One posting of hours. Never updated or deleted: a correction is a reversal (R16)."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("source", "source_ref", name="uq_ledger_entry_source"),
        Index("ix_ledger_entry_teacher_year", "teacher_id", "year"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    teacher_id: uuid.UUID
    hours: Decimal = Field(sa_type=HoursColumn)
    source: str = Field(max_length=30)
    source_ref: str = Field(max_length=100)
    mode: str = Field(max_length=20)
    level: str = Field(max_length=20)
    category: str = Field(max_length=20)
    year: int
    occurred_on: dt.date
    program_id: uuid.UUID | None = None
    description: str = Field(default="", max_length=300)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False, default=utcnow)
    )
