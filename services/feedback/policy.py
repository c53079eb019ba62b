"""Feedback rules as data (R24–R28): windows, scales, reminders, follow-ups, scorecard weights.

Every number is a default of a versioned policy; districts differ, so nothing here is an `if`.
The window arithmetic lives here too, so each rule is enforced in exactly one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.config import DISTRICT_TZ

LOCAL = ZoneInfo(DISTRICT_TZ)


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    kind: str  # "scale" (policy scale) or "text"
    required: bool = True


@dataclass(frozen=True)
class AppraisalRound:
    """One round of a school's teacher appraisal (R28), placed in weeks of the term."""

    key: str
    name: str
    first_week: int
    last_week: int
    respondent: str


@dataclass(frozen=True)
class FeedbackPolicy:
    version: str
    # R24: the institution assesses each trainee within this many days after the program ends.
    assessment_days: int
    # R25: trainees rate the program within this many days after it ends.
    rating_days: int
    # Reminders go out this long before a deadline (for the mobile app to push).
    reminder_before: dt.timedelta
    # R25: the rating scale and the rated dimensions.
    scale_min: int
    scale_max: int
    rating_dimensions: tuple[str, ...]
    # R25: whether the institution sees who wrote a rating; anonymous by default.
    ratings_named_to_institution: bool
    # R27: follow-ups after the end, in months, each open for this many days.
    follow_up_months: tuple[int, ...]
    follow_up_answer_days: int
    follow_up_questions: tuple[Question, ...]
    # R26: weights of the institution ranking (they sum to 1).
    ranking_weights: dict[str, Decimal] = field(default_factory=dict)


DEFAULT_POLICY = FeedbackPolicy(
    version="seeds-default/1",
    assessment_days=5,
    rating_days=10,
    reminder_before=dt.timedelta(days=2),
    scale_min=1,
    scale_max=5,
    rating_dimensions=("overall", "format", "instructors", "management"),
    ratings_named_to_institution=False,
    follow_up_months=(1, 3),
    follow_up_answer_days=14,
    follow_up_questions=(
        Question("applied", "我在课堂上运用了培训所学 (1–5)", "scale"),
        Question("student_effect", "学生的学习因此有了改善 (1–5)", "scale"),
        Question("what_changed", "我的教学实践有哪些具体变化?", "text"),
        Question("support_needed", "还需要哪些后续支持?", "text", required=False),
    ),
    ranking_weights={
        "satisfaction": Decimal("0.4"),
        "pass_rate": Decimal("0.3"),
        "participation_rate": Decimal("0.3"),
    },
)

# R28: the five rounds of seed 003 (plan 2), in weeks of the term.
DEFAULT_APPRAISAL_ROUNDS: tuple[AppraisalRound, ...] = (
    AppraisalRound("classroom_ability", "教师课堂专业能力考评", 1, 13, "teaching_group_lead"),
    AppraisalRound("clarity", "教师课堂教学清晰性考评", 4, 5, "student"),
    AppraisalRound("student_satisfaction", "学生对教师的满意度调查", 13, 13, "student"),
    AppraisalRound("self", "教师自评", 14, 14, "self"),
    AppraisalRound("peer_grade_group", "教师互评及年级组评价", 18, 19, "peer"),
)
TERM_WEEKS = 20


def policy_with(*, ratings_named_to_institution: bool | None = None) -> FeedbackPolicy:
    """The default policy with this deployment's settings applied."""
    if ratings_named_to_institution is None:
        return DEFAULT_POLICY
    return replace(DEFAULT_POLICY, ratings_named_to_institution=ratings_named_to_institution)


def local_midnight(day: dt.date) -> dt.datetime:
    """The start of a district-local day, in UTC."""
    return dt.datetime.combine(day, dt.time(), LOCAL).astimezone(dt.UTC)


@dataclass(frozen=True)
class Window:
    opens_at: dt.datetime
    due_at: dt.datetime  # exclusive: the first instant that is too late

    def contains(self, at: dt.datetime) -> bool:
        return self.opens_at <= at < self.due_at


def _after_end(ends_on: dt.date, days: int) -> Window:
    # Opens on the last day of the program; closes at the end of the N-th local day after it.
    return Window(local_midnight(ends_on), local_midnight(ends_on + dt.timedelta(days=days + 1)))


def assessment_window(policy: FeedbackPolicy, ends_on: dt.date) -> Window:
    """R24: the institution assesses trainees from the last day until N days after it."""
    return _after_end(ends_on, policy.assessment_days)


def rating_window(policy: FeedbackPolicy, ends_on: dt.date) -> Window:
    """R25: trainees rate from the last day until N days after it."""
    return _after_end(ends_on, policy.rating_days)


def follow_up_windows(policy: FeedbackPolicy, ends_on: dt.date) -> list[tuple[int, Window]]:
    """R27: one questionnaire per follow-up month after the end, each open for a while."""
    windows = []
    for months in policy.follow_up_months:
        day = add_months(ends_on, months)
        opens = local_midnight(day)
        due = local_midnight(day + dt.timedelta(days=policy.follow_up_answer_days))
        windows.append((months, Window(opens, due)))
    return windows


def reminder_at(policy: FeedbackPolicy, window: Window) -> dt.datetime:
    """When to remind: a fixed time before the deadline, never before the window opens."""
    return max(window.opens_at, window.due_at - policy.reminder_before)


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def valid_score(policy: FeedbackPolicy, value: int) -> bool:
    return policy.scale_min <= value <= policy.scale_max
