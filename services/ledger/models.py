"""Tables of the ledger service."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import infrastructure_tables
from shared.units import HoursColumn


class LedgerModel(SQLModel, registry=registry()):
    pass


infra = infrastructure_tables(LedgerModel.metadata)


class TeacherProjection(LedgerModel, table=True):
    """What the ledger knows of a teacher, kept from enrolment's events and its own records."""

    __tablename__ = "teacher"

    id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    school_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=100)
    hired_on: dt.date | None = None
    # The hire year on its own so SQL can place each teacher's cycle without date functions.
    hired_year: int | None = None
    stage: str = Field(default="", max_length=20, sa_column_kwargs={"server_default": ""})
    # Highest degree, raised by degree-study recognitions and provincial imports (R18).
    degree: str = Field(default="", max_length=20, sa_column_kwargs={"server_default": ""})
    # Trainers (培训者) owe their own annual hours (R15); set by provincial imports.
    is_trainer: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # First year of the cycle for which an at-risk event was sent, so it is sent once.
    at_risk_cycle: int | None = None


class DistrictProjection(LedgerModel, table=True):
    """A district's bureau by name, from enrolment's events: it issues the transcripts."""

    __tablename__ = "district"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)


class SchoolProjection(LedgerModel, table=True):
    """A school by name, from enrolment's events, so documents name it."""

    __tablename__ = "school"

    id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=200)


class LedgerEntry(LedgerModel, table=True):
    """One posting of hours. Never updated or deleted: a correction is a reversal (R16)."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        # A source's references are unique within their issuer's namespace only: a district's
        # (provincial record ids, bureau recognitions) or a school's (school-based).
        UniqueConstraint("ref_scope_id", "source", "source_ref", name="uq_ledger_entry_source"),
        Index("ix_ledger_entry_teacher_year", "teacher_id", "year"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    teacher_id: uuid.UUID
    hours: Decimal = Field(sa_type=HoursColumn)
    credits: Decimal = Field(
        default=Decimal("0.0"), sa_type=HoursColumn, sa_column_kwargs={"server_default": "0"}
    )
    source: str = Field(max_length=30)
    source_ref: str = Field(max_length=100)
    ref_scope_id: uuid.UUID  # see ref_scope() in services/ledger/entries.py
    mode: str = Field(max_length=20)
    level: str = Field(max_length=20)
    category: str = Field(max_length=20)
    year: int
    academic_year: str = Field(default="", max_length=9, sa_column_kwargs={"server_default": ""})
    term: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    occurred_on: dt.date
    program_id: uuid.UUID | None = None
    description: str = Field(default="", max_length=300)
    # R16: a reversal names the entry it cancels, why, and who made it.
    reverses_id: uuid.UUID | None = None
    reason: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})
    recorded_by: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    import_id: uuid.UUID | None = None
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False, default=utcnow)
    )


class TeacherBalance(LedgerModel, table=True):
    """Per-teacher, per-year sums in tenths, updated with every entry (the report's source)."""

    __tablename__ = "teacher_balance"

    teacher_id: uuid.UUID = Field(primary_key=True)
    year: int = Field(primary_key=True)
    total: int = Field(default=0, sa_type=BigInteger)
    centralized: int = Field(default=0, sa_type=BigInteger)
    self_selected: int = Field(default=0, sa_type=BigInteger)
    district_level: int = Field(default=0, sa_type=BigInteger)
    school_based: int = Field(default=0, sa_type=BigInteger)
    credits: int = Field(default=0, sa_type=BigInteger)
    entries: int = Field(default=0, sa_type=BigInteger)


class RequirementPolicyVersion(LedgerModel, table=True):
    """A published version of a district's requirement policy; never changed once published."""

    __tablename__ = "requirement_policy"
    __table_args__ = (
        UniqueConstraint("district_id", "version", name="uq_requirement_policy_version"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    version: int
    effective_from: dt.date
    # What the bureau calls it (e.g. 教师继续教育学时管理办法), printed on transcripts.
    name: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})
    note: str = Field(default="", max_length=300)
    rules: str = Field(sa_column=Column(Text, nullable=False))
    published_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False, default=utcnow)
    )


class RatedProgram(LedgerModel, table=True):
    """A teacher rated a program, or its rating window closed unrated, from feedback's
    events: its hours become visible (R17)."""

    __tablename__ = "rated_program"

    teacher_id: uuid.UUID = Field(primary_key=True)
    program_id: uuid.UUID = Field(primary_key=True)


class LedgerImport(LedgerModel, table=True):
    """One uploaded provincial file and how far its processing has come."""

    __tablename__ = "ledger_import"
    __table_args__ = (UniqueConstraint("district_id", "sha256", name="uq_ledger_import_file"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID
    sha256: str = Field(max_length=64)
    filename: str = Field(max_length=200)
    format: str = Field(max_length=10)
    status: str = Field(max_length=20)
    total_rows: int = 0
    processed_rows: int = 0
    posted: int = 0
    duplicates: int = 0
    # Records the province changed since they were imported: reversed and posted anew (R16).
    corrected: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    failed: int = 0
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False, default=utcnow)
    )
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    # The uploaded file, sealed (shared.pii.seal), until the import is finished: every
    # replica's worker can process it, whichever took the upload.
    content: bytes = Field(
        default=b"", sa_column=Column(LargeBinary, nullable=False, server_default=text("''"))
    )
    # The process working it and until when (shared.worker.Lease), and how often it was
    # taken up: one that keeps failing is given up rather than retried forever.
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # all_or_nothing: every row is checked before any is written; valid_rows: the good rows
    # are written and the others reported.
    mode: str = Field(
        default="valid_rows", max_length=20, sa_column_kwargs={"server_default": "valid_rows"}
    )
    # The column map it was read with (services/ledger/province_formats.py).
    column_map: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})


class LedgerImportError(LedgerModel, table=True):
    __tablename__ = "ledger_import_error"

    import_id: uuid.UUID = Field(primary_key=True)
    row: int = Field(primary_key=True)
    message: str = Field(max_length=500)


class TeacherIdNumber(LedgerModel, table=True):
    """The keyed hash of a teacher's identity number (enrolment's TeacherIdNumbersKeyed), by
    which provincial rows are matched, and the number sealed. Kept apart from the projection so
    it does not depend on which of enrolment's events arrives first."""

    __tablename__ = "teacher_id_number"
    __table_args__ = (Index("ix_teacher_id_number_hash", "district_id", "id_number_hash"),)

    teacher_id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID
    id_number_hash: str = Field(max_length=64)
    # Sealed (shared.pii.encrypt); opened only to write a file for the province.
    id_number_encrypted: str | None = Field(default=None, max_length=200)


class ProvincialRecord(LedgerModel, table=True):
    """A provincial record (省平台记录编号) of a district as last imported: which entry stands
    for it and a digest of its content, so the same row again changes nothing and a changed
    row is a correction (a reversal plus a new entry, R16)."""

    __tablename__ = "provincial_record"

    district_id: uuid.UUID = Field(primary_key=True)
    record_id: str = Field(primary_key=True, max_length=100)
    entry_id: uuid.UUID
    digest: str = Field(max_length=64)
    revision: int = 1


class ProvincialBatch(LedgerModel, table=True):
    """One export of recognised hours to the province (上报批次), kept to be downloaded again
    and acknowledged."""

    __tablename__ = "provincial_batch"
    __table_args__ = (UniqueConstraint("district_id", "number", name="uq_provincial_batch_number"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID
    number: int
    entries: int = 0
    accepted: int = 0
    rejected: int = 0
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False, default=utcnow)
    )
    # When the province sync pushed it (services/ledger/province_sync.py); None: downloaded
    # by hand, or not sent yet.
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    acknowledged_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class ProvincialReport(LedgerModel, table=True):
    """An entry as reported to the province: in which batch, and what the province said."""

    __tablename__ = "provincial_report"
    __table_args__ = (Index("ix_provincial_report_batch", "batch_id"),)

    entry_id: uuid.UUID = Field(primary_key=True)
    batch_id: uuid.UUID
    teacher_id: uuid.UUID = Field(index=True)
    # sent, then accepted or rejected by the province's acknowledgement file.
    status: str = Field(max_length=20)
    reason: str = Field(default="", max_length=300)
    acknowledged_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
