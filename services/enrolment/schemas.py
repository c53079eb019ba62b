"""Request and response bodies of the enrolment service (XCreate / XUpdate / XRead)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.units import PositiveHours

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Stage(StrEnum):
    KINDERGARTEN = "kindergarten"
    PRIMARY = "primary"
    JUNIOR = "junior"
    SENIOR = "senior"
    VOCATIONAL = "vocational"
    NINE_YEAR = "nine_year"
    COMPLETE = "complete"


class Mode(StrEnum):
    CENTRALIZED = "centralized"
    ONLINE = "online"
    BLENDED = "blended"
    SCHOOL_BASED = "school_based"
    DEGREE = "degree"


class Level(StrEnum):
    NATIONAL = "national"
    PROVINCIAL = "provincial"
    MUNICIPAL = "municipal"
    DISTRICT = "district"
    SCHOOL = "school"


class Category(StrEnum):
    MANDATORY = "mandatory"
    SELF_SELECTED = "self_selected"


class Selection(StrEnum):
    FIRST_COME = "first_come"
    RECOMMENDED = "recommended"


class Strict(BaseModel):
    """Unknown fields are refused, so a client never sets what it may not (mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SchoolCreate(Strict):
    name: Name
    stage: Stage
    district_id: uuid.UUID | None = Field(None, description="defaults to the caller's district")


class SchoolRead(Read):
    id: uuid.UUID
    name: str
    stage: Stage
    district_id: uuid.UUID
    created_at: dt.datetime


class InstitutionCreate(Strict):
    name: Name
    district_id: uuid.UUID | None = None


class InstitutionRead(Read):
    id: uuid.UUID
    name: str
    district_id: uuid.UUID
    created_at: dt.datetime


IdNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^\d{17}[\dX]$")
]


class TeacherCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    school_id: uuid.UUID
    stage: Stage
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    hired_on: dt.date | None = None
    id_number: IdNumber | None = Field(None, description="身份证号; write-only, read back masked")


class TeacherUpdate(Strict):
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None
    stage: Stage | None = None
    subject: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None
    ) = None
    hired_on: dt.date | None = None


class TeacherRead(Read):
    id: uuid.UUID
    name: str
    school_id: uuid.UUID
    district_id: uuid.UUID
    stage: Stage
    subject: str
    hired_on: dt.date | None
    id_number_masked: str | None
    created_at: dt.datetime


class ProgramCreate(Strict):
    title: Name
    hours: PositiveHours
    capacity: int = Field(ge=1, le=100_000)
    mode: Mode
    level: Level
    category: Category
    selection: Selection = Selection.FIRST_COME
    institution_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = Field(None, description="the school of a school-based program")
    enrol_opens_at: AwareDatetime
    enrol_closes_at: AwareDatetime
    starts_on: dt.date
    ends_on: dt.date

    @model_validator(mode="after")
    def _dates(self) -> ProgramCreate:
        if self.enrol_closes_at <= self.enrol_opens_at:
            raise ValueError("enrol_closes_at must be after enrol_opens_at")
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        if self.hours <= 0:
            raise ValueError("hours must be positive")
        if self.mode is Mode.SCHOOL_BASED and self.school_id is None:
            raise ValueError("a school-based program names its school_id")
        return self


class ProgramRead(Read):
    id: uuid.UUID
    district_id: uuid.UUID
    title: str
    hours: PositiveHours
    capacity: int
    seats_taken: int
    mode: Mode
    level: Level
    category: Category
    selection: Selection
    institution_id: uuid.UUID | None
    school_id: uuid.UUID | None
    enrol_opens_at: dt.datetime
    enrol_closes_at: dt.datetime
    starts_on: dt.date
    ends_on: dt.date
    status: str
    created_at: dt.datetime


class TraineeResult(Strict):
    enrolment_id: uuid.UUID
    attendance_rate: Decimal = Field(ge=0, le=1, decimal_places=3)
    passed: bool


class ProgramFinish(Strict):
    results: list[TraineeResult] = Field(default_factory=list)


class EnrolmentCreate(Strict):
    teacher_id: uuid.UUID


class EnrolmentComplete(Strict):
    attendance_rate: Decimal = Field(ge=0, le=1, decimal_places=3, description="0 to 1")
    passed: bool


class EnrolmentRead(Read):
    id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    status: str
    waitlist_position: int | None
    attendance_rate: Decimal | None
    passed: bool | None
    completed_on: dt.date | None
    created_at: dt.datetime
