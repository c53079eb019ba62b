"""Requirement policies as data (R10–R15, R18), and the one place they are evaluated.

A district publishes versions of `PolicyRules`; the seeds' numbers are the default. Every
check works on integer tenths of an hour so a district of 100,000 teachers evaluates fast
and exactly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.errors import LocalizedError
from shared.units import PositiveHours

MODES = ("centralized", "online", "blended", "school_based", "degree")
LEVELS = ("national", "provincial", "municipal", "district", "school")
CATEGORIES = ("mandatory", "self_selected")
STAGES = ("kindergarten", "primary", "junior", "senior", "vocational", "nine_year", "complete")
DEGREES = ("none", "secondary", "associate", "bachelor", "master", "doctor")
# R12: the levels whose hours count as district-level-or-above (区县级以上).
DISTRICT_LEVEL_OR_ABOVE = frozenset({"national", "provincial", "municipal", "district"})


class DegreeTarget(BaseModel):
    """R18: at least `share` of a stage's teachers hold `degree` or higher."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str
    degree: str
    share: Decimal = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _known(self) -> DegreeTarget:
        if self.stage not in STAGES:
            raise LocalizedError(f"未知学段：{self.stage}", f"unknown stage {self.stage!r}")
        if self.degree not in DEGREES:
            raise LocalizedError(f"未知学历：{self.degree}", f"unknown degree {self.degree!r}")
        return self


def _exactly_the_modes(schema: dict) -> None:
    """The schema says what the validator enforces: every mode, and nothing else."""
    hours = schema.pop("additionalProperties")
    schema["properties"] = {mode: hours for mode in MODES}
    schema["required"] = list(MODES)
    schema["additionalProperties"] = False


class PolicyRules(BaseModel):
    """The numbers of one version of a district's requirement policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # R10: the cycle; it starts at cycle_start_year, or at the hire year of a teacher hired
    # later when cycle_from_hire_date is set.
    cycle_years: int = Field(5, ge=1, le=10)
    cycle_hours: PositiveHours = Decimal("360.0")
    cycle_start_year: int = Field(2026, ge=1990, le=2100)
    cycle_from_hire_date: bool = True
    # R11: pre-service hours counted in the hire year and the years after it.
    pre_service_hours: PositiveHours = Decimal("120.0")
    pre_service_years: int = Field(2, ge=1, le=5)
    # R12
    annual_hours: PositiveHours = Decimal("72.0")
    self_selected_hours: PositiveHours = Decimal("38.0")
    district_level_hours: PositiveHours = Decimal("36.0")
    # R13 (seed 002): 40 school-based hours a year, 20 h = 1 credit, 10 credits a cycle.
    school_based_hours: PositiveHours = Decimal("40.0")
    school_based_cycle_credits: PositiveHours = Decimal("10.0")
    # Hours per credit by mode; the seeds set school-based only, the rest is the default.
    hours_per_credit: dict[str, PositiveHours] = Field(
        default_factory=lambda: {
            "centralized": Decimal("10.0"),
            "online": Decimal("10.0"),
            "blended": Decimal("10.0"),
            "school_based": Decimal("20.0"),
            "degree": Decimal("10.0"),
        },
        json_schema_extra=_exactly_the_modes,
    )
    # R14: at least this share of teachers take this many centralized hours in a year.
    centralized_hours: PositiveHours = Decimal("90.0")
    centralized_share: Decimal = Field(Decimal("0.22"), ge=0, le=1)
    # R15
    trainer_hours: PositiveHours = Decimal("72.0")
    # R18
    degree_targets: tuple[DegreeTarget, ...] = (
        DegreeTarget(stage="primary", degree="associate", share=Decimal("0.90")),
        DegreeTarget(stage="junior", degree="bachelor", share=Decimal("0.80")),
        DegreeTarget(stage="senior", degree="master", share=Decimal("0.05")),
    )

    @model_validator(mode="after")
    def _every_mode_converts(self) -> PolicyRules:
        missing = [m for m in MODES if m not in self.hours_per_credit]
        unknown = [m for m in self.hours_per_credit if m not in MODES]
        if missing or unknown:
            raise LocalizedError(
                f"每学分学时须且只须包含以下培训形式：{'、'.join(MODES)}",
                f"hours_per_credit needs exactly the modes {', '.join(MODES)}",
            )
        if any(v <= 0 for v in self.hours_per_credit.values()):
            raise LocalizedError("每学分学时须大于零", "hours_per_credit must be positive")
        return self


@dataclass(frozen=True)
class Policy:
    """A version in force: its rules and how reports name it."""

    id: str | None
    label: str
    effective_from: dt.date
    rules: PolicyRules
    # How a person reads it: the bureau's title and the version's number.
    name: str = ""
    number: int = 1


DEFAULT_POLICY = Policy(
    id=None,
    label="seeds-default/1",
    effective_from=dt.date(2026, 1, 1),
    rules=PolicyRules(),
    name="中小学教师继续教育学时要求（系统默认）",
)


def tenths(hours: Decimal) -> int:
    return int(hours * 10)


def cycle_of(rules: PolicyRules, year: int, hired_year: int | None = None) -> tuple[int, int]:
    """First and last year of the teacher's cycle containing `year` (R10)."""
    anchor = rules.cycle_start_year
    if rules.cycle_from_hire_date and hired_year is not None and hired_year > anchor:
        anchor = hired_year
    first = year - (year - anchor) % rules.cycle_years
    return first, first + rules.cycle_years - 1


def credits_for(rules: PolicyRules, mode: str, hours: Decimal) -> Decimal:
    """Credits of an entry: hours divided by the mode's ratio, down to one place (R13)."""
    ratio = rules.hours_per_credit.get(mode)
    if ratio is None:
        return Decimal("0.0")
    return (hours / ratio).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)


@dataclass(frozen=True)
class Totals:
    """One teacher's sums, in tenths, for the year asked and the cycle around it."""

    year_total: int = 0
    year_centralized: int = 0
    year_self_selected: int = 0
    year_district_level: int = 0
    year_school_based: int = 0
    cycle_total: int = 0
    cycle_school_based: int = 0
    pre_service: int = 0


def credit_tenths(rules: PolicyRules, mode: str, hours_tenths: int) -> int:
    """Credits in tenths from hours in tenths, rounded down; the same integer sum in SQL."""
    return hours_tenths * 10 // tenths(rules.hours_per_credit[mode])


@dataclass(frozen=True)
class RuleSpec:
    """One individual requirement: which policy number it needs of which total, and who owes it.

    `applies` is None (every teacher), "new_teacher" (R11) or "trainer" (R15). The compliance
    report turns the same table into SQL, so a rule is defined here once.
    """

    rule: str
    unit: str
    required: str  # a PolicyRules field
    achieved: str  # a Totals field, or "cycle_school_based_credits"
    applies: str | None = None


RULE_TABLE = (
    RuleSpec("R10.cycle_total", "hours", "cycle_hours", "cycle_total"),
    RuleSpec("R11.pre_service_hours", "hours", "pre_service_hours", "pre_service", "new_teacher"),
    RuleSpec("R12.annual_minimum", "hours", "annual_hours", "year_total"),
    RuleSpec("R12.self_selected_hours", "hours", "self_selected_hours", "year_self_selected"),
    RuleSpec("R12.district_level_hours", "hours", "district_level_hours", "year_district_level"),
    RuleSpec("R13.school_based_hours", "hours", "school_based_hours", "year_school_based"),
    RuleSpec(
        "R13.school_based_cycle_credits",
        "credits",
        "school_based_cycle_credits",
        "cycle_school_based_credits",
    ),
    RuleSpec("R15.trainer_hours", "hours", "trainer_hours", "year_total", "trainer"),
)


# What each rule is called where a person reads it (transcripts, compliance downloads).
RULE_NAMES = {
    "R10.cycle_total": "五年周期累计学时",
    "R11.pre_service_hours": "新教师岗前培训学时",
    "R12.annual_minimum": "年度学时",
    "R12.self_selected_hours": "自主选学学时",
    "R12.district_level_hours": "区级及以上培训学时",
    "R13.school_based_hours": "校本研修学时",
    "R13.school_based_cycle_credits": "校本研修周期学分",
    "R15.trainer_hours": "培训者年度研修学时",
}


@dataclass(frozen=True)
class Check:
    rule: str
    unit: str
    required: int  # tenths
    achieved: int  # tenths

    @property
    def met(self) -> bool:
        return self.achieved >= self.required

    @property
    def missing(self) -> int:
        return max(self.required - self.achieved, 0)


def is_new_teacher(rules: PolicyRules, year: int, hired_year: int | None) -> bool:
    """R11 applies from the hire year through pre_service_years."""
    return hired_year is not None and hired_year <= year < hired_year + rules.pre_service_years


def checks(
    rules: PolicyRules,
    totals: Totals,
    *,
    year: int,
    hired_year: int | None,
    is_trainer: bool,
) -> list[Check]:
    """Every individual requirement that applies to this teacher in this year."""
    applies = {
        None: True,
        "new_teacher": is_new_teacher(rules, year, hired_year),
        "trainer": is_trainer,
    }
    out = []
    for spec in RULE_TABLE:
        if not applies[spec.applies]:
            continue
        if spec.achieved == "cycle_school_based_credits":
            achieved = credit_tenths(rules, "school_based", totals.cycle_school_based)
        else:
            achieved = getattr(totals, spec.achieved)
        out.append(Check(spec.rule, spec.unit, tenths(getattr(rules, spec.required)), achieved))
    return out


def takes_centralized(rules: PolicyRules, totals: Totals) -> bool:
    """R14, per teacher: this year's centralized hours reach the threshold."""
    return totals.year_centralized >= tenths(rules.centralized_hours)


def degrees_from(at_least: str) -> tuple[str, ...]:
    """R18: the degrees that count as `at_least` or higher."""
    return DEGREES[DEGREES.index(at_least) :]


def holds_degree(degree: str, at_least: str) -> bool:
    """R18: whether a teacher's highest degree is `at_least` or higher."""
    if degree not in DEGREES:
        return False
    return DEGREES.index(degree) >= DEGREES.index(at_least)


@dataclass(frozen=True)
class Pace:
    elapsed_years: Decimal
    projected: int  # tenths at the cycle's end at the current pace
    on_track: bool | None  # None: too early in the cycle to say


def pace(rules: PolicyRules, *, first_year: int, cycle_total: int, today: dt.date) -> Pace:
    """Projection: at the pace so far, will the cycle's hours be reached by its end?"""
    start = dt.date(first_year, 1, 1)
    elapsed = Decimal((today - start).days) / Decimal("365.25")
    elapsed = min(max(elapsed, Decimal(0)), Decimal(rules.cycle_years))
    required = tenths(rules.cycle_hours)
    if cycle_total >= required:
        return Pace(elapsed.quantize(Decimal("0.01")), cycle_total, True)
    if elapsed < Decimal("0.25"):
        return Pace(elapsed.quantize(Decimal("0.01")), cycle_total, None)
    projected = int(cycle_total * rules.cycle_years / elapsed)
    return Pace(elapsed.quantize(Decimal("0.01")), projected, projected >= required)


# What an entry must be to count toward each total a rule compares: the same facts
# balances.Delta.add sorts entries by. The standing event carries it, so the catalogue learns
# from the ledger which programs close which gap instead of knowing the buckets itself.
COUNTS_TOWARD: dict[str, dict[str, tuple[str, ...]]] = {
    "year_total": {},
    "cycle_total": {},
    "pre_service": {},
    "year_centralized": {"modes": ("centralized",)},
    "year_self_selected": {"categories": ("self_selected",), "exclude_modes": ("school_based",)},
    "year_district_level": {"levels": tuple(sorted(DISTRICT_LEVEL_OR_ABOVE))},
    "year_school_based": {"modes": ("school_based",)},
    "cycle_school_based_credits": {"modes": ("school_based",)},
}

# How a teacher reads each requirement (zh-CN), in reasons and on the home screen.
RULE_LABELS: dict[str, str] = {
    "R10.cycle_total": "本周期学时",
    "R11.pre_service_hours": "岗前培训学时",
    "R12.annual_minimum": "本年度学时",
    "R12.self_selected_hours": "本年度自主选学学时",
    "R12.district_level_hours": "本年度区县级以上学时",
    "R13.school_based_hours": "本年度校本研修学时",
    "R13.school_based_cycle_credits": "本周期校本研修学分",
    "R14.centralized_hours": "本年度集中培训学时",
    "R15.trainer_hours": "本年度培训者学时",
}

# R14 is the district's target, not a teacher's duty, but the hours a teacher lacks to be
# counted in it are a gap programs can close, so the standing names it beside RULE_TABLE.
R14_SPEC = RuleSpec("R14.centralized_hours", "hours", "centralized_hours", "year_centralized")
