"""Request and response bodies of the feedback service."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from services.feedback.policy import DEFAULT_POLICY
from shared.units import rate_schema

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
    attendance_rate: Annotated[Decimal, rate_schema(4)] = Field(
        ge=0, le=1, max_digits=5, decimal_places=4
    )
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


# The policy's questionnaire as a body: an unknown question is refused like any unknown field
# (R27). Scales, words and required answers are checked against the policy afterwards.
FollowUpAnswers = create_model(
    "FollowUpAnswers",
    __base__=Strict,
    **{
        q.key: (int | str | None, Field(None, description=q.text))
        for q in DEFAULT_POLICY.follow_up_questions
    },
)


class FollowUpAnswer(Strict):
    answers: FollowUpAnswers  # type: ignore[valid-type]

    def given(self) -> dict[str, int | str]:
        return self.answers.model_dump(exclude_none=True)


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


class SatisfactionFigures(BaseModel):
    value: Decimal | None = Field(description="mean overall score on the policy's scale")
    ratings: int
    not_rated: int = Field(
        0, description="trainees whose rating window (R25) closed without a rating"
    )
    by_dimension: dict[str, Decimal | None]
    distribution: dict[str, int] = Field(description="overall score → number of ratings")
    source: str


class PassRateFigures(BaseModel):
    value: Decimal | None
    passed: int
    assessed: int
    assessments_overdue: int
    source: str


class ParticipationFigures(BaseModel):
    value: Decimal | None = Field(description="completed ÷ every confirmed place (参训率)")
    completed: int
    expected: int
    withdrawn: int
    source: str


class PlanExecutionFigures(BaseModel):
    value: Decimal | None = Field(description="finished ÷ approved programs of the period")
    finished: int
    planned: int
    cancelled: int
    source: str


class FundUseFigures(BaseModel):
    committed_fen: int
    spent_fen: int | None
    budgeted_fen: int | None
    source: str
    missing: list[str] = Field(description="budget events not yet published, so not counted")


class ProgramPeriod(BaseModel):
    starts_on: dt.date
    ends_on: dt.date


class FeedbackSummary(BaseModel):
    program_id: uuid.UUID
    title: str
    institution_id: uuid.UUID | None
    status: str
    period: ProgramPeriod
    policy_version: str
    anonymous: bool
    satisfaction: SatisfactionFigures
    pass_rate: PassRateFigures
    participation_rate: ParticipationFigures
    fund_use: FundUseFigures
    comments: list[dict[str, Any]] = Field(
        description="comments; teacher_id and teacher_name only where the setting allows"
    )


class YearPeriod(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    year: int
    from_: dt.date = Field(alias="from")
    to: dt.date
    programs_by: str


class InstitutionScorecard(BaseModel):
    institution_id: uuid.UUID
    name: str
    period: YearPeriod
    satisfaction: SatisfactionFigures
    pass_rate: PassRateFigures
    participation_rate: ParticipationFigures
    plan_execution: PlanExecutionFigures
    fund_use: FundUseFigures


class RankingRow(BaseModel):
    rank: int
    institution_id: uuid.UUID
    name: str
    score: Decimal | None = Field(description="0–100, weighted by the policy")
    satisfaction: Decimal | None
    ratings: int
    pass_rate: Decimal | None
    participation_rate: Decimal | None
    plan_execution: Decimal | None
    programs_planned: int
    programs_finished: int
    assessments_overdue: int
    committed_fen: int


class InstitutionRanking(BaseModel):
    year: int
    district_id: uuid.UUID
    policy_version: str
    weights: dict[str, Decimal]
    items: list[RankingRow]
