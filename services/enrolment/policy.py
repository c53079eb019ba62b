"""The program lifecycle as data: which action moves a program from where to where, by whom.

R1: every program, school-based ones included, passes review (submit → approve) before it can
be published or run; there is no transition that skips it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.auth import Role
from shared.config import DISTRICT_TZ

BUREAU = Role.BUREAU_ADMIN
INSTITUTION = Role.INSTITUTION_ADMIN
SCHOOL = Role.SCHOOL_ADMIN


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    roles: frozenset[Role]


def _t(action: str, sources: set[str], target: str, roles: set[Role]) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles))


LIFECYCLE_VERSION = "program-lifecycle/1"
LIFECYCLE: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("submit", {"draft", "rejected"}, "submitted", {BUREAU, INSTITUTION, SCHOOL}),
        _t("approve", {"submitted"}, "approved", {BUREAU}),
        _t("reject", {"submitted"}, "rejected", {BUREAU}),
        _t("publish", {"approved"}, "published", {BUREAU}),
        _t("close-enrolment", {"published"}, "enrolment_closed", {BUREAU, INSTITUTION, SCHOOL}),
        _t("start", {"enrolment_closed"}, "running", {BUREAU, INSTITUTION, SCHOOL}),
        _t("finish", {"running"}, "finished", {BUREAU, INSTITUTION, SCHOOL}),
        _t(
            "cancel",
            {"draft", "submitted", "approved", "rejected", "published", "enrolment_closed"},
            "cancelled",
            {BUREAU},
        ),
    )
}


@dataclass(frozen=True)
class TeamRule:
    """R9: the composition of a program's expert team, checked when the program is submitted."""

    min_expert_share: float
    min_frontline_share: float
    frontline_kinds: frozenset[str]
    # Levels whose programs must name a team; others are checked only when they give one.
    required_for_levels: frozenset[str]


@dataclass(frozen=True)
class WaitlistRule:
    """How a freed seat is offered (waitlist.py)."""

    # At most this many offers of one program wait for an answer at once; None: one for
    # every free seat (a cap leaves seats free that a newcomer could take first come).
    offers_at_once: int | None
    # No offer goes out this long before the program's first day (local midnight): too late
    # to arrange cover at school; the seat stays free.
    no_offers_before_start: dt.timedelta
    # An offer not taken in time: "requeue" puts the teacher at the end of the waitlist,
    # "drop" ends the place (offer_expired).
    unclaimed: str


@dataclass(frozen=True)
class CalendarRule:
    """When the calendar moves a program on its own (calendar.py); a person may act earlier."""

    # A running program finishes at the start of the local day this many days after
    # ends_on + 1 (0: at the end of its last day).
    finish_grace_days: int


@dataclass(frozen=True)
class LotteryRule:
    """Selection by lottery (抽签, lottery.py): applicants ranked by tier, then by ticket."""

    algorithm: str
    # Tiers in priority order; a teacher belongs to the first that holds, else to the last.
    # "r8_gap": no completed district-level-or-above program within r8_years (R8);
    # "short_of_hours": passed program hours of this local year below annual_hours;
    # "rest": everyone.
    tiers: tuple[str, ...]
    # R12: the annual minimum the short_of_hours tier measures against.
    annual_hours: Decimal


@dataclass(frozen=True)
class CheckInRule:
    """扫码签到 (sessions.py): the code on the institution's screen and when it counts."""

    # A new code every this many seconds; a code is also taken during the window after its
    # own, so one scanned as it changes still counts (at most twice this old).
    code_seconds: int
    # Check-in opens this long before a session and closes at its end.
    opens_before: dt.timedelta
    # A check-in this long after the start is marked late.
    late_after: dt.timedelta


@dataclass(frozen=True)
class EnrolmentPolicy:
    """The configurable numbers of R2–R9 and of the waitlist, versioned as one record."""

    version: str
    # Statuses in which an enrolment holds a seat of the program's capacity.
    seat_statuses: frozenset[str]
    # Statuses that count as "holding" a program for the no-overlap rule.
    holding_statuses: frozenset[str]
    # A waitlisted teacher offered a freed seat has this long to accept it.
    offer_ttl: dt.timedelta
    # R7: modes in which a trainee is away from school (online training is not).
    away_modes: frozenset[str]
    away_statuses: frozenset[str]
    # Audience role "new_teacher": hired within this many years.
    new_teacher_years: int
    # R5: actual participants ÷ those who should attend.
    min_participation_rate: Decimal
    # R6: the term a date falls in; terms start on these months (spring, autumn).
    term_start_months: tuple[int, ...]
    # R8: at least one completed program of these levels within this many years.
    r8_years: int
    r8_levels: frozenset[str]
    r9: TeamRule
    waitlist: WaitlistRule
    calendar: CalendarRule
    lottery: LotteryRule
    check_in: CheckInRule


POLICY = EnrolmentPolicy(
    version="enrolment-policy/2",
    seat_statuses=frozenset({"offered", "pending_funds", "confirmed"}),
    holding_statuses=frozenset(
        {
            "applied",
            "pending_school",
            "pending_bureau",
            "waitlisted",
            "offered",
            "pending_funds",
            "confirmed",
        }
    ),
    offer_ttl=dt.timedelta(hours=24),
    away_modes=frozenset({"centralized", "blended"}),
    away_statuses=frozenset({"offered", "pending_funds", "confirmed"}),
    new_teacher_years=3,
    min_participation_rate=Decimal("0.95"),
    term_start_months=(2, 8),
    r8_years=3,
    r8_levels=frozenset({"national", "provincial", "municipal", "district"}),
    r9=TeamRule(
        min_expert_share=0.35,
        min_frontline_share=0.50,
        frontline_kinds=frozenset({"frontline", "researcher"}),
        required_for_levels=frozenset({"national", "provincial", "municipal"}),
    ),
    waitlist=WaitlistRule(
        offers_at_once=None, no_offers_before_start=dt.timedelta(days=1), unclaimed="drop"
    ),
    calendar=CalendarRule(finish_grace_days=0),
    lottery=LotteryRule(
        algorithm="lottery/1: sha256(seed + ':' + teacher_id), ascending within tiers",
        tiers=("r8_gap", "short_of_hours", "rest"),
        annual_hours=Decimal("72.0"),
    ),
    check_in=CheckInRule(
        code_seconds=30,
        opens_before=dt.timedelta(minutes=30),
        late_after=dt.timedelta(minutes=10),
    ),
)


def local_midnight(day: dt.date) -> dt.datetime:
    """The start of a district-local day, in UTC."""
    return dt.datetime.combine(day, dt.time(), ZoneInfo(DISTRICT_TZ)).astimezone(dt.UTC)


def offers_to_make(
    *,
    free_seats: int,
    outstanding_offers: int,
    now: dt.datetime,
    starts_on: dt.date,
    policy: EnrolmentPolicy = POLICY,
) -> int:
    """How many waitlisted teachers may be offered a seat now: no more than the free seats,
    no more than the policy's offers at once (counting those out already), none after the
    cutoff before the start; never below zero (a capacity of 0 offers nothing)."""
    rule = policy.waitlist
    if now >= local_midnight(starts_on) - rule.no_offers_before_start:
        return 0
    if rule.offers_at_once is None:
        return max(0, free_seats)
    return max(0, min(free_seats, rule.offers_at_once - outstanding_offers))


def term_of(day: dt.date, policy: EnrolmentPolicy = POLICY) -> tuple[int, int]:
    """(year, index) of the term a day falls in; January belongs to the previous autumn."""
    starts = sorted(policy.term_start_months)
    for index in range(len(starts) - 1, -1, -1):
        if day.month >= starts[index]:
            return (day.year, index)
    return (day.year - 1, len(starts) - 1)


def team_violation(team: list[dict], level: str, policy: EnrolmentPolicy = POLICY) -> str | None:
    """Why an expert team breaks R9, or None when it complies."""
    rule = policy.r9
    if not team:
        if level in rule.required_for_levels:
            return f"A {level} program must name its expert team."
        return None
    experts = sum(1 for member in team if member["kind"] == "expert")
    frontline = sum(1 for member in team if member["kind"] in rule.frontline_kinds)
    if experts / len(team) < rule.min_expert_share:
        return (
            f"Experts are {experts} of {len(team)}; at least "
            f"{rule.min_expert_share:.0%} of the team must be experts."
        )
    if frontline / len(team) < rule.min_frontline_share:
        return (
            f"Frontline teachers and researchers are {frontline} of {len(team)}; at least "
            f"{rule.min_frontline_share:.0%} are required."
        )
    return None


def audience_violation(
    audience: dict[str, list[str]],
    *,
    stage: str,
    subject: str,
    roles: set[str],
) -> str | None:
    """Why a teacher is outside a program's target audience, or None. Empty lists admit all."""
    if audience.get("stages") and stage not in audience["stages"]:
        return f"The program is for stages {', '.join(audience['stages'])}, not {stage}."
    if audience.get("subjects") and subject not in audience["subjects"]:
        return f"The program is for subjects {', '.join(audience['subjects'])}, not {subject}."
    wanted = set(audience.get("roles") or ())
    if wanted and not wanted & roles:
        return f"The program is for {', '.join(sorted(wanted))}."
    return None


def teacher_roles(
    roles: list[str], hired_on: dt.date | None, today: dt.date, policy: EnrolmentPolicy = POLICY
) -> set[str]:
    """A teacher's audience roles: those recorded plus new_teacher, derived from the hire date."""
    found = set(roles)
    if hired_on is not None and (today - hired_on).days < 365 * policy.new_teacher_years:
        found.add("new_teacher")
    return found


def participation_met(expected: int, actual: int, policy: EnrolmentPolicy = POLICY) -> bool:
    """R5: nobody expected counts as met."""
    return expected == 0 or Decimal(actual) / Decimal(expected) >= policy.min_participation_rate


@dataclass(frozen=True)
class RecommendPolicy:
    """How "for me" ranks programs by the hours gaps they close (R10–R15, from the ledger)."""

    version: str
    # Gaps of the whole cycle rank after this year's: a year's minimum is lost at its end.
    long_term_rules: frozenset[str]
    # Programs weighed per request, the soonest first.
    candidates: int
    reason: str  # {label} {hours}
    reason_without_gap: str  # {hours}


RECOMMEND = RecommendPolicy(
    version="recommend-policy/1",
    long_term_rules=frozenset({"R10.cycle_total", "R13.school_based_cycle_credits"}),
    candidates=200,
    reason="补足{label} {hours} 学时",
    reason_without_gap="适合你的学段和学科，共 {hours} 学时",
)
