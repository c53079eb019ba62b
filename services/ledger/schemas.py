"""Request and response bodies of the ledger service."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from services.ledger.policy import RULE_LABELS, Check, PolicyRules
from shared.units import HoursValue, PositiveHours

Strict = ConfigDict(extra="forbid")


class Requirement(BaseModel):
    rule: str
    label: str = Field("", description="how a teacher reads the rule (zh-CN)")
    unit: str
    required: HoursValue
    achieved: HoursValue
    missing: HoursValue
    met: bool

    @classmethod
    def of(cls, check: Check) -> Requirement:
        return cls(
            rule=check.rule,
            label=RULE_LABELS.get(check.rule, check.rule),
            unit=check.unit,
            required=Decimal(check.required) / 10,
            achieved=Decimal(check.achieved) / 10,
            missing=Decimal(check.missing) / 10,
            met=check.met,
        )


class CycleTotal(BaseModel):
    first_year: int
    last_year: int
    hours: HoursValue


class PolicyRef(BaseModel):
    id: str | None
    version: str
    effective_from: dt.date
    name: str = Field("", description="the policy's title as the bureau published it")
    number: int = Field(1, description="the version's number within its district")


class Outlook(BaseModel):
    """At the pace so far, the hours at the cycle's end; on_track is null early in a cycle."""

    elapsed_years: Decimal
    projected_cycle_hours: HoursValue
    required_cycle_hours: HoursValue
    on_track: bool | None


class ProvinceRejection(BaseModel):
    """An entry reported to the provincial platform and rejected by it, with its reason."""

    entry_id: uuid.UUID
    teacher_id: uuid.UUID
    name: str
    school_id: uuid.UUID
    batch: str
    hours: str
    occurred_on: dt.date
    description: str
    reason: str


class HoursSummary(BaseModel):
    teacher_id: uuid.UUID
    year: int
    policy_version: str
    policy: PolicyRef
    total_hours: HoursValue
    credits: HoursValue
    cycle: CycleTotal
    by_mode: dict[str, HoursValue]
    by_level: dict[str, HoursValue]
    by_category: dict[str, HoursValue]
    requirements: list[Requirement]
    missing: list[str]
    projection: Outlook
    # R17: programs whose hours the teacher sees once they have rated them.
    withheld_programs: list[uuid.UUID]
    # Entries the provincial platform rejected when the district reported them.
    province_rejections: list[ProvinceRejection] = Field(default_factory=list)


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    teacher_id: uuid.UUID
    hours: HoursValue
    credits: HoursValue
    source: str
    source_ref: str
    mode: str
    level: str
    category: str
    year: int
    academic_year: str
    term: int
    occurred_on: dt.date
    program_id: uuid.UUID | None
    description: str
    reverses_id: uuid.UUID | None
    reason: str
    recorded_by: str
    created_at: dt.datetime


Mode = Literal["centralized", "online", "blended", "school_based", "degree"]
Level = Literal["national", "provincial", "municipal", "district", "school"]
Category = Literal["mandatory", "self_selected"]
Degree = Literal["none", "secondary", "associate", "bachelor", "master", "doctor"]


class EntryCreate(BaseModel):
    """Manual recognition (学时认定) of hours not coming from a program of this system."""

    model_config = Strict

    teacher_id: uuid.UUID
    source: Literal["school_based", "degree_study", "manual_recognition"]
    reference: str = Field(min_length=1, max_length=100, description="unique per source")
    hours: PositiveHours
    mode: Mode
    level: Level
    category: Category
    occurred_on: dt.date
    description: str = Field(min_length=1, max_length=300)
    degree: Degree | None = Field(None, description="degree study: the degree attained (R18)")


class ReversalCreate(BaseModel):
    model_config = Strict

    reason: str = Field(min_length=2, max_length=300)


class PolicyCreate(BaseModel):
    model_config = Strict

    effective_from: dt.date
    name: str = Field(
        "",
        max_length=100,
        description="its title, printed on transcripts (教师继续教育学时管理办法)",
    )
    note: str = Field("", max_length=300)
    rules: PolicyRules


def _rules(value: object) -> object:
    return PolicyRules.model_validate_json(value) if isinstance(value, str) else value


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    district_id: uuid.UUID
    version: int
    effective_from: dt.date
    name: str
    note: str
    rules: Annotated[PolicyRules, BeforeValidator(_rules)]
    published_by: str
    created_at: dt.datetime
    # A field set from `version` rather than a computed one: FastAPI would then document the
    # rules twice (PolicyRules-Input and -Output), and generated clients drop one of them.
    label: str = Field("", description="how reports name it: district/<version>")

    @model_validator(mode="after")
    def _label(self) -> PolicyRead:
        self.label = f"district/{self.version}"
        return self


class ImportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    district_id: uuid.UUID
    filename: str
    format: str
    status: str
    total_rows: int
    processed_rows: int
    posted: int
    duplicates: int
    corrected: int = Field(description="records the province changed: reversed and posted anew")
    failed: int
    mode: str = Field(description="all_or_nothing or valid_rows")
    column_map: str = Field(description="the province's column map the file was read with")
    created_at: dt.datetime
    finished_at: dt.datetime | None
