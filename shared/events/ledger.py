"""Events published by the ledger service (stream LEDGER, subjects ledger.>)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from shared.events.base import Event


class LedgerEvent(Event):
    stream: ClassVar[str] = "LEDGER"


class EntryPosted(LedgerEvent):
    subject: ClassVar[str] = "ledger.entry.posted.v1"
    entry_id: uuid.UUID
    teacher_id: uuid.UUID
    hours: Decimal
    source: str
    source_ref: str
    mode: str
    level: str
    category: str
    year: int
    occurred_on: dt.date
    program_id: uuid.UUID | None = None
    credits: Decimal = Decimal("0.0")


class EntryReversed(LedgerEvent):
    """A correction (R16): `entry_id` is the new reversal entry, cancelling `reversed_entry_id`."""

    subject: ClassVar[str] = "ledger.entry.reversed.v1"
    entry_id: uuid.UUID
    reversed_entry_id: uuid.UUID
    teacher_id: uuid.UUID
    hours: Decimal
    year: int
    reason: str
    reversed_by: str
    program_id: uuid.UUID | None = None


class TeacherAtRisk(LedgerEvent):
    """At the pace so far the teacher will not reach the cycle's hours by its end (R10)."""

    subject: ClassVar[str] = "ledger.teacher.at_risk.v1"
    teacher_id: uuid.UUID
    district_id: uuid.UUID
    school_id: uuid.UUID
    cycle_first_year: int
    cycle_last_year: int
    cycle_hours: Decimal
    required_hours: Decimal
    projected_hours: Decimal
    policy_version: str


class PolicyPublished(LedgerEvent):
    subject: ClassVar[str] = "ledger.policy.published.v1"
    policy_id: uuid.UUID
    district_id: uuid.UUID
    version: int
    effective_from: dt.date


class ImportCompleted(LedgerEvent):
    """A provincial file was processed; its rows are posted without one event each."""

    subject: ClassVar[str] = "ledger.import.completed.v1"
    import_id: uuid.UUID
    district_id: uuid.UUID
    posted: int
    duplicates: int
    failed: int


class StandingItem(BaseModel):
    """One requirement of a teacher's year: hours needed, earned and missing, and what an
    entry must be to count toward it (`modes`, `levels`, `categories`: one of them, when
    given; `exclude_modes`: none of them). Credit rules are given in hours of the mode."""

    model_config = ConfigDict(frozen=True)

    rule: str
    label: str
    required_hours: Decimal
    achieved_hours: Decimal
    missing_hours: Decimal
    modes: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude_modes: tuple[str, ...] = ()


class TeacherStandingChanged(LedgerEvent):
    """A teacher's hours against this year's requirements, after their hours changed (R10–R15).

    The catalogue keeps the latest one per teacher to rank programs that close the gaps; it
    never asks the ledger at request time.
    """

    subject: ClassVar[str] = "ledger.teacher.standing_changed.v1"
    teacher_id: uuid.UUID
    district_id: uuid.UUID
    year: int
    policy_version: str
    requirements: tuple[StandingItem, ...]
