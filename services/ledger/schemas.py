"""Request and response bodies of the ledger service."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from shared.units import HoursValue


class Requirement(BaseModel):
    rule: str
    required: HoursValue
    achieved: HoursValue
    missing: HoursValue
    met: bool

    @classmethod
    def of(cls, rule: str, required: Decimal, achieved: Decimal) -> Requirement:
        missing = max(required - achieved, Decimal("0.0"))
        return cls(
            rule=rule,
            required=required,
            achieved=achieved,
            missing=missing,
            met=achieved >= required,
        )


class CycleTotal(BaseModel):
    first_year: int
    last_year: int
    hours: HoursValue


class HoursSummary(BaseModel):
    teacher_id: uuid.UUID
    year: int
    policy_version: str
    total_hours: HoursValue
    cycle: CycleTotal
    by_mode: dict[str, HoursValue]
    by_level: dict[str, HoursValue]
    by_category: dict[str, HoursValue]
    requirements: list[Requirement]


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    teacher_id: uuid.UUID
    hours: HoursValue
    source: str
    source_ref: str
    mode: str
    level: str
    category: str
    year: int
    occurred_on: dt.date
    program_id: uuid.UUID | None
    description: str
    created_at: dt.datetime
