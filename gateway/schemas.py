"""Bodies of the gateway's own endpoints."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from gateway.policy import SCOPES
from shared.auth import Role
from shared.errors import LocalizedError
from shared.events import EVENT_TYPES
from shared.units import HoursValue

Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=100, pattern=r"^[\w.@-]+$"),
]


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None


class Me(BaseModel):
    id: str
    username: str | None
    role: Role
    district_id: uuid.UUID | None
    school_id: uuid.UUID | None
    institution_id: uuid.UUID | None
    teacher_id: uuid.UUID | None
    scopes: list[str]


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: str = Field(min_length=8, max_length=200)
    role: Role
    school_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    teacher_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _scope_fits_role(self) -> AccountCreate:
        needs = {
            Role.TEACHER: "teacher_id",
            Role.SCHOOL_ADMIN: "school_id",
            Role.INSTITUTION_ADMIN: "institution_id",
        }
        if self.role is Role.SERVICE:
            raise LocalizedError(
                "服务账号请在 /v1/service-accounts 创建",
                "service accounts are made at /v1/service-accounts",
            )
        field = needs.get(self.role)
        if field and getattr(self, field) is None:
            raise LocalizedError(
                f"该角色的账号须填写{field}", f"a {self.role.value} account names its {field}"
            )
        return self


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    role: Role
    district_id: uuid.UUID | None
    school_id: uuid.UUID | None
    institution_id: uuid.UUID | None
    teacher_id: uuid.UUID | None


# The documents list what is accepted; an unknown one is still refused by the domain code,
# with the problem that names the known ones.
ScopeName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]+:[a-z]+$", max_length=50),
    WithJsonSchema({"type": "string", "enum": sorted(SCOPES.scopes)}),
]
EventTypeName = Annotated[
    str,
    StringConstraints(max_length=200),
    WithJsonSchema(
        {"type": "string", "enum": sorted(s for s, e in EVENT_TYPES.items() if e.webhook)}
    ),
]


class ServiceAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="who the client is, for people")
    scopes: list[ScopeName] = Field(min_length=1, max_length=20)
    school_id: uuid.UUID | None = Field(
        None, description="limits the client to one school; unset, to the bureau's district"
    )


class ServiceAccountCreated(BaseModel):
    id: uuid.UUID
    name: str
    client_id: str
    client_secret: str | None = Field(
        description="shown once; store it safely (null when an Idempotency-Key replays)"
    )
    scopes: list[str]
    district_id: uuid.UUID | None
    school_id: uuid.UUID | None


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="where deliveries are POSTed")
    event_types: list[EventTypeName] = Field(
        min_length=1, max_length=100, description="subjects, see /asyncapi.json"
    )


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    event_types: list[str]
    district_id: uuid.UUID
    school_id: uuid.UUID | None
    active: bool
    created_at: dt.datetime

    @field_validator("event_types", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return value.split() if isinstance(value, str) else value


class WebhookCreated(WebhookRead):
    secret: str = Field(description="HMAC-SHA256 key of the Shixun-Signature header; shown once")


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    subject: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class DashboardPart(BaseModel):
    """One part of the home screen: `data` when `ok`, else why it is `unavailable`."""

    status: Literal["ok", "unavailable"]
    data: Any | None = None
    detail: str | None = Field(None, description="why the part is unavailable")


class DashboardEnrolment(BaseModel):
    id: uuid.UUID
    status: str
    program_id: uuid.UUID
    program_title: str
    starts_on: dt.date
    ends_on: dt.date
    place: str | None
    hours: HoursValue
    mode: str
    waitlist_position: int | None = None
    offer_expires_at: dt.datetime | None = None


class NextSession(BaseModel):
    """The next day of training the teacher holds a seat for (a program's days until the
    program lifecycle adds sessions of their own)."""

    program_id: uuid.UUID
    program_title: str
    on: dt.date
    until: dt.date
    place: str | None


class RequirementProgress(BaseModel):
    rule: str
    label: str
    unit: str
    required: HoursValue
    achieved: HoursValue
    missing: HoursValue = Field(description="the gap")
    met: bool


class HoursProgress(BaseModel):
    year: int
    policy_version: str
    total_hours: HoursValue
    requirements: list[RequirementProgress]


class PendingEvaluationItem(BaseModel):
    task_id: uuid.UUID
    kind: str
    program_id: uuid.UUID
    program_title: str
    due_at: dt.datetime = Field(description="the deadline")
    open_now: bool


class ProgramForMe(BaseModel):
    id: uuid.UUID
    title: str
    starts_on: dt.date
    ends_on: dt.date
    hours: HoursValue
    mode: str
    level: str
    institution_name: str | None
    place: str | None
    seats_left: int
    enrol_closes_at: dt.datetime
    open_now: bool
    reason: str = Field(description="why, in one line of Chinese")


class EnrolmentsPart(DashboardPart):
    data: list[DashboardEnrolment] | None = None


class NextSessionsPart(DashboardPart):
    data: list[NextSession] | None = None


class HoursPart(DashboardPart):
    data: HoursProgress | None = None


class PendingEvaluationsPart(DashboardPart):
    data: list[PendingEvaluationItem] | None = None


class ForMePart(DashboardPart):
    data: list[ProgramForMe] | None = None


class Dashboard(BaseModel):
    teacher_id: uuid.UUID
    partial: bool = Field(description="true when some part could not be fetched")
    unavailable: list[str]
    next_sessions: NextSessionsPart
    enrolments: EnrolmentsPart = Field(description="current ones: not ended a month ago")
    hours: HoursPart
    pending_evaluations: PendingEvaluationsPart
    for_me: ForMePart = Field(description="up to three programs that close my gaps")


class ServiceAccountRead(BaseModel):
    # Documented as it is sent: the one OpenAPI schema per model is the validation one, which
    # would name the fields by the aliases they are read from (label, username).
    model_config = ConfigDict(from_attributes=True, json_schema_mode_override="serialization")

    id: uuid.UUID
    name: str | None = Field(validation_alias="label")
    client_id: str = Field(validation_alias="username")
    scopes: list[str]
    district_id: uuid.UUID | None
    school_id: uuid.UUID | None
    disabled: bool
    created_at: dt.datetime

    @field_validator("scopes", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return value.split() if isinstance(value, str) else value


LoginStatus = Literal["pending", "active", "disabled", "locked"]


class LoginRead(BaseModel):
    """A person's login as those who manage it see it; identifiers only masked."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    role: Role
    name: str | None
    district_id: uuid.UUID | None
    school_id: uuid.UUID | None
    institution_id: uuid.UUID | None
    teacher_id: uuid.UUID | None
    id_number_masked: str | None
    mobile_masked: str | None
    status: LoginStatus = Field(
        description="pending: waits for its first login with the activation code"
    )
    activation_issued_at: dt.datetime | None = Field(
        description="when its current code was handed out; null: not yet"
    )
    activation_expires_at: dt.datetime | None
    locked_until: dt.datetime | None
    created_at: dt.datetime


class LoginReset(BaseModel):
    login: LoginRead
    activation_code: str | None = Field(
        description="shown once; hand it to the person (null when an Idempotency-Key replays)"
    )
    expires_at: dt.datetime


class CodeSheetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    school_id: uuid.UUID | None = Field(
        None, description="one school of the district (the bureau); a school admin's own"
    )
    reissue: bool = Field(
        False,
        description="new codes for every login still waiting (a lost sheet); the old ones "
        "stop working. Without it, only logins never handed a code",
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str | None = Field(
        None, max_length=200, description="required, except with the token of an activation code"
    )
    new_password: str = Field(min_length=1, max_length=200)
