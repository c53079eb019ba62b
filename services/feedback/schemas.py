"""Request and response bodies of the feedback service."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

Score = Annotated[int, Field(strict=True, description="1–5 on the policy's scale")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RatingCreate(Strict):
    overall: Score
    format: Score
    instructors: Score
    management: Score
    comments: str = Field("", max_length=2000)


class RatingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    overall: int
    format: int
    instructors: int
    management: int
    comments: str
    created_at: dt.datetime


class AssessmentCreate(Strict):
    attitude: Score
    assignments: Score
    attendance_rate: Decimal = Field(ge=0, le=1, max_digits=5, decimal_places=4)
    passed: bool
    comments: str = Field("", max_length=2000)


class AssessmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    institution_id: uuid.UUID | None
    attitude: int
    assignments: int
    attendance_rate: Decimal
    passed: bool
    comments: str
    late: bool
    created_at: dt.datetime


class PendingEvaluation(BaseModel):
    task_id: uuid.UUID
    kind: str
    program_id: uuid.UUID
    program_title: str
    enrolment_id: uuid.UUID
    opens_at: dt.datetime
    due_at: dt.datetime
    open_now: bool
    created_at: dt.datetime
    id: uuid.UUID


class QuestionRead(BaseModel):
    key: str
    text: str
    kind: str
    required: bool


class FollowUpRead(BaseModel):
    task_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    months_after: int
    state: str
    opens_at: dt.datetime
    due_at: dt.datetime
    questions: list[QuestionRead]
    answers: dict[str, Any] | None = None


class FollowUpAnswer(Strict):
    answers: dict[str, int | str]


class FollowUpResponseRead(BaseModel):
    id: uuid.UUID
    task_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    months_after: int
    answers: dict[str, Any]
    created_at: dt.datetime


class AppraisalRoundCreate(Strict):
    key: str = Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1, max_length=100)
    first_week: int
    last_week: int
    respondent: str = Field(min_length=1, max_length=50)


class AppraisalTemplateCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    term_weeks: int = Field(20, ge=1, le=30)
    rounds: list[AppraisalRoundCreate] = Field(min_length=1, max_length=20)


class AppraisalRoundRead(BaseModel):
    key: str
    name: str
    first_week: int
    last_week: int
    respondent: str


class AppraisalTemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID | str  # "default" names the seed template
    name: str
    school_id: uuid.UUID | None
    district_id: uuid.UUID | None
    term_weeks: int
    rounds: list[AppraisalRoundRead]
    created_at: dt.datetime | None

    @field_validator("rounds", mode="before")
    @classmethod
    def _stored_as_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value
