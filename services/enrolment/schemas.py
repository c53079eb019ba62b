"""Request and response bodies of the enrolment service (XCreate / XUpdate / XRead)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.errors import LocalizedError
from shared.units import PositiveHours, rate_schema

# A status to filter a listing by: a status name only, so no stray text (a NUL) reaches SQL.
StatusFilter = Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$")]

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
    # 抽签: apply in the window, a published draw at its close (lottery.py).
    LOTTERY = "lottery"


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class Strict(BaseModel):
    """Unknown fields are refused, so a client never sets what it may not (mass assignment).

    Text with a NUL character is refused too (422): PostgreSQL cannot store it in text.
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: object) -> object:
        if _has_nul(data):
            raise LocalizedError(
                "文本中不能含有 NUL（U+0000）字符",
                "text must not contain NUL (U+0000) characters",
            )
        return data


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SchoolCreate(Strict):
    name: Name
    stage: Stage
    district_id: uuid.UUID | None = Field(None, description="defaults to the caller's district")
    max_away: int | None = Field(
        None, ge=0, le=100_000, description="R7: cap on teachers away at once"
    )


class SchoolUpdate(Strict):
    max_away: int | None = Field(
        None, ge=0, le=100_000, description="R7: cap on teachers away at once"
    )


class SchoolRead(Read):
    id: uuid.UUID
    name: str
    stage: Stage
    district_id: uuid.UUID
    max_away: int | None
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
# A mainland mobile number, as teachers type it (no country code).
Mobile = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^1[3-9]\d{9}$")]


class AudienceRole(StrEnum):
    PRINCIPAL = "principal"
    MIDDLE_CADRE = "middle_cadre"
    CLASS_TEACHER = "class_teacher"
    NEW_TEACHER = "new_teacher"
    BACKBONE = "backbone"
    KINDERGARTEN = "kindergarten"
    RURAL = "rural"


class TeacherCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    school_id: uuid.UUID
    stage: Stage
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    hired_on: dt.date | None = None
    id_number: IdNumber | None = Field(None, description="身份证号; write-only, read back masked")
    mobile: Mobile | None = Field(None, description="手机号; write-only, read back masked")
    roles: list[AudienceRole] = Field(default_factory=list)
    login: bool = Field(
        False,
        description="also make the teacher's login: the gateway creates it with a one-time "
        "activation code, handed out with POST /v1/accounts/activation-codes",
    )


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
    roles: list[AudienceRole] | None = None
    mobile: Mobile | None = Field(None, description="null clears it")


class TeacherRead(Read):
    id: uuid.UUID
    name: str
    school_id: uuid.UUID
    district_id: uuid.UUID
    stage: Stage
    subject: str
    hired_on: dt.date | None
    id_number_masked: str | None
    mobile_masked: str | None
    roles: list[str]
    created_at: dt.datetime


class IdNumberConflictRead(BaseModel):
    """A teacher held because a teacher elsewhere already has its identity number: it has no
    login by that number until the bureaus resolve it (a transfer)."""

    id: uuid.UUID = Field(description="the held teacher")
    district_id: uuid.UUID
    school_id: uuid.UUID
    id_number_masked: str | None
    holder_id: uuid.UUID = Field(description="the teacher who has the number and logs in with it")
    holder_district_id: uuid.UUID
    holder_school_id: uuid.UUID
    created_at: dt.datetime = Field(description="when the held teacher was registered")


class Audience(Strict):
    """Who a program is for; an empty list admits everyone."""

    stages: list[Stage] = Field(default_factory=list)
    subjects: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]] = Field(
        default_factory=list
    )
    roles: list[AudienceRole] = Field(default_factory=list)


class ExpertKind(StrEnum):
    EXPERT = "expert"
    FRONTLINE = "frontline"
    RESEARCHER = "researcher"
    OTHER = "other"


class ExpertMember(Strict):
    name: Name
    kind: ExpertKind


class FundedBy(StrEnum):
    SCHOOL = "school"
    BUREAU = "bureau"


Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ProgramCreate(Strict):
    title: Name
    description: Description = Field("", description="what the program is about (searchable)")
    place: Place | None = Field(None, description="where it runs (培训地点)")
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
    audience: Audience = Field(default_factory=Audience)
    expert_team: list[ExpertMember] = Field(default_factory=list, description="R9")
    cost_per_participant_fen: int = Field(0, ge=0)
    funded_by: FundedBy | None = None

    @model_validator(mode="after")
    def _dates(self) -> ProgramCreate:
        if self.enrol_closes_at <= self.enrol_opens_at:
            raise LocalizedError(
                "报名截止时间须晚于报名开始时间", "enrol_closes_at must be after enrol_opens_at"
            )
        if self.ends_on < self.starts_on:
            raise LocalizedError(
                "结束日期（ends_on）不能早于开始日期", "ends_on must not be before starts_on"
            )
        if self.hours <= 0:
            raise LocalizedError("学时须大于零", "hours must be positive")
        if self.mode is Mode.SCHOOL_BASED and self.school_id is None:
            raise LocalizedError("校本项目须指定学校", "a school-based program names its school_id")
        return self


class ProgramUpdate(Strict):
    """A draft (or rejected) program changes freely; a published one only its capacity and
    the end of its enrolment window."""

    title: Name | None = None
    description: Description | None = None
    place: Place | None = None
    hours: PositiveHours | None = None
    capacity: int | None = Field(None, ge=1, le=100_000)
    enrol_opens_at: AwareDatetime | None = None
    enrol_closes_at: AwareDatetime | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    audience: Audience | None = None
    expert_team: list[ExpertMember] | None = None
    cost_per_participant_fen: int | None = Field(None, ge=0)
    funded_by: FundedBy | None = None


class ProgramRead(Read):
    id: uuid.UUID
    district_id: uuid.UUID
    title: str
    description: str = ""
    place: str | None = None
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
    audience: dict
    expert_team: list[dict]
    cost_per_participant_fen: int
    funded_by: str | None
    lottery_seed: str | None = Field(
        None, description="lottery programs: the draw's seed, shown from publication on"
    )
    created_at: dt.datetime
    updated_at: dt.datetime | None = None


class TraineeResult(Strict):
    enrolment_id: uuid.UUID
    attendance_rate: Annotated[Decimal, rate_schema(3)] = Field(ge=0, le=1, decimal_places=3)
    passed: bool


class ProgramFinish(Strict):
    results: list[TraineeResult] = Field(default_factory=list)


class EnrolmentCreate(Strict):
    teacher_id: uuid.UUID


class EnrolmentComplete(Strict):
    attendance_rate: Annotated[Decimal, rate_schema(3)] = Field(ge=0, le=1, decimal_places=3)
    passed: bool


class EnrolmentRead(Read):
    id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    status: str
    waitlist_position: int | None
    reason: str | None
    offer_expires_at: dt.datetime | None
    attendance_rate: Decimal | None
    passed: bool | None
    completed_on: dt.date | None
    created_at: dt.datetime


class QuotaItem(Strict):
    school_id: uuid.UUID
    seats: int = Field(ge=0)


class QuotasPut(Strict):
    quotas: list[QuotaItem]


class QuotaRead(Read):
    school_id: uuid.UUID
    seats: int
    seats_taken: int


class QuotasRead(BaseModel):
    program_id: uuid.UUID
    quotas: list[QuotaRead]


class EnrolmentDecision(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class LeaveKind(StrEnum):
    LEAVE = "leave"
    SUBSTITUTION = "substitution"


class LeaveRequestCreate(Strict):
    kind: LeaveKind
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    substitute_teacher_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _substitute(self) -> LeaveRequestCreate:
        if (self.kind is LeaveKind.SUBSTITUTION) != (self.substitute_teacher_id is not None):
            raise LocalizedError(
                "只有替换申请才填写替换教师，且必须填写",
                "a substitution, and only a substitution, names substitute_teacher_id",
            )
        return self


class LeaveParty(StrEnum):
    SCHOOL = "school"
    INSTITUTION = "institution"


class LeaveDecision(Strict):
    party: LeaveParty
    approve: bool


class LeaveRequestRead(Read):
    id: uuid.UUID
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    school_id: uuid.UUID
    kind: LeaveKind
    reason: str
    substitute_teacher_id: uuid.UUID | None
    school_approved: bool | None
    institution_approved: bool | None
    status: str
    substitute_enrolment_id: uuid.UUID | None
    created_at: dt.datetime


class AttendanceCreate(Strict):
    session_on: dt.date
    present: list[uuid.UUID] = Field(default_factory=list, description="enrolment ids")
    absent: list[uuid.UUID] = Field(default_factory=list, description="enrolment ids")


class RosterEntry(BaseModel):
    enrolment_id: uuid.UUID
    teacher_id: uuid.UUID
    teacher_name: str
    school_id: uuid.UUID
    status: str
    sessions: int
    attended: int
    attendance_rate: Decimal | None


class ParticipationRow(BaseModel):
    school_id: uuid.UUID | None
    expected: int
    actual: int
    rate: Decimal | None
    met: bool


class ParticipationRead(BaseModel):
    program_id: uuid.UUID
    policy: str
    min_rate: Decimal
    overall: ParticipationRow | None
    by_school: list[ParticipationRow]


class TrainingGap(BaseModel):
    teacher_id: uuid.UUID
    name: str
    school_id: uuid.UUID
    last_qualifying_on: dt.date | None


class ImportMode(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    VALID_ROWS = "valid_rows"


class RosterImportRead(Read):
    id: uuid.UUID
    filename: str
    mode: str
    create_logins: bool
    status: str
    total_rows: int
    processed_rows: int
    created_count: int
    skipped_count: int
    errors: list[dict] = Field(
        description="every error of every refused row: row (the file's line), column (the "
        "file's own header), code (stable), error (the sentence, in Accept-Language)"
    )
    ignored_columns: list[str] = Field(description="columns of the file the import does not read")
    warnings: list[str] = Field(default_factory=list, description="ignored columns, told")
    vocabulary: str | None = Field(None, description="the version of the words read")
    created_at: dt.datetime
    finished_at: dt.datetime | None


class DrawEntryRead(Read):
    rank: int
    tier: int
    tier_name: str
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    enrolment_id: uuid.UUID
    ticket: str = Field(description="sha256(seed + ':' + teacher_id), hex")
    outcome: str = Field(description="what the draw gave: confirmed, pending_funds, waitlisted")


class DrawRead(Read):
    """A lottery's draw: its inputs and every applicant's result (lottery.py)."""

    program_id: uuid.UUID
    seed: str
    algorithm: str
    policy: str
    tiers: list[str]
    capacity: int
    applicants: int
    confirmed: int
    drawn_at: dt.datetime
    entries: list[DrawEntryRead]


class SessionCreate(Strict):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    online_url: (
        Annotated[str, StringConstraints(pattern=r"^https://\S+$", max_length=500)] | None
    ) = None


class SessionRead(Read):
    id: uuid.UUID
    program_id: uuid.UUID
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str | None
    online_url: str | None


class CheckInCode(BaseModel):
    """What the institution's screen shows as a QR code; a new one every `rotates_every` s."""

    session_id: uuid.UUID
    code: str
    expires_at: dt.datetime = Field(description="when the screen shows the next code")
    rotates_every: int


class CheckInCreate(Strict):
    code: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class CheckInRead(Read):
    id: uuid.UUID
    session_id: uuid.UUID
    enrolment_id: uuid.UUID
    teacher_id: uuid.UUID
    checked_in_at: dt.datetime
    late: bool


class CatalogueSort(StrEnum):
    STARTS_ON = "starts_on"
    CLOSING = "closing"
    POPULARITY = "popularity"


class CatalogueItem(BaseModel):
    """One program of the catalogue, as a phone lists it."""

    id: uuid.UUID
    title: str
    starts_on: dt.date
    ends_on: dt.date
    hours: PositiveHours
    mode: Mode
    level: Level
    category: Category
    status: str
    institution_name: str | None
    place: str | None
    enrol_opens_at: dt.datetime
    enrol_closes_at: dt.datetime
    open_now: bool = Field(description="published and inside its enrolment window now")
    seats_left: int
    my_status: str | None = Field(None, description="the caller's enrolment status, if any")


class RuleCheck(BaseModel):
    """One enrolment rule as it stands for the asking teacher."""

    code: str
    label: str
    ok: bool
    detail: str | None = None


class CatalogueDetail(CatalogueItem):
    description: str
    selection: Selection
    capacity: int
    audience: dict
    expert_team: list[dict]
    cost_per_participant_fen: int
    funded_by: str | None
    my_enrolment_id: uuid.UUID | None = None
    rules: list[RuleCheck] = Field(
        default_factory=list, description="for a teacher: each enrolment rule and whether it is met"
    )


class GapClosed(BaseModel):
    rule: str
    label: str
    hours: Decimal = Field(description="of the hours missing for the rule, how many it closes")


class ForMeItem(CatalogueItem):
    reason: str = Field(description="one line in Chinese: why this program, for this teacher")
    closes: list[GapClosed]


class ForMeRead(BaseModel):
    items: list[ForMeItem]
    policy_version: str | None = Field(
        None, description="the ledger policy the gaps were judged by; null before it reported"
    )
    gaps_as_of: dt.datetime | None = None


class TeacherEnrolmentItem(BaseModel):
    """A teacher's enrolment with what the home screen shows of its program."""

    id: uuid.UUID
    status: str
    program_id: uuid.UUID
    program_title: str
    starts_on: dt.date
    ends_on: dt.date
    place: str | None
    hours: PositiveHours
    mode: Mode
    waitlist_position: int | None
    offer_expires_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
