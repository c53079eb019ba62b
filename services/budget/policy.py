"""Funding rules as data, versioned (R19, R20, R21, R23).

The seeds' numbers are defaults of a policy a district chooses; every pool records the
version it was computed under, so a later change of policy never rewrites an old pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from shared.errors import Unprocessable

# R21: the spending categories of a program budget (seed 004 art. 35).
R21_CATEGORIES: tuple[str, ...] = (
    "preliminary_research",  # 前期调研费
    "transport",  # 交通费
    "expert_fees",  # 专家劳务费
    "teaching_resources",  # 教学资源费
    "board_and_lodging",  # 学员食宿费
    "publicity",  # 宣传费
)

# R22/R23: money is spent only on a program the bureau approved (the lifecycle states from
# approval on); a draft, submitted, rejected or cancelled program spends nothing.
SPENDING_STATUSES: frozenset[str] = frozenset(
    {"approved", "published", "enrolment_closed", "running", "finished"}
)


@dataclass(frozen=True)
class FundingPolicy:
    version: str
    # R19: the bureau's special fund as a share of total staff payroll ...
    bureau_payroll_rate: Decimal
    # ... and the part of it passed on to schools.
    school_share_rate: Decimal
    # R20: a school's minimum share of its annual public-funds budget.
    school_public_funds_rate: Decimal
    # R23: ring-fencing: the categories training money may go to.
    training_categories: tuple[str, ...] = R21_CATEGORIES
    # R23: spot checks list programs whose execution deviates from plan beyond this share.
    spot_check_threshold: Decimal = Decimal("0.10")


POLICIES: dict[str, FundingPolicy] = {
    # seed 000 §(六)1: 3 % of payroll, 70 % to schools; schools ≥ 10 % of public funds.
    "seed-000/1": FundingPolicy(
        version="seed-000/1",
        bureau_payroll_rate=Decimal("0.03"),
        school_share_rate=Decimal("0.70"),
        school_public_funds_rate=Decimal("0.10"),
    ),
    # seed 004 art. 34: 1.5 % of teacher payroll; schools ≥ 5 % of public funds.
    "seed-004/1": FundingPolicy(
        version="seed-004/1",
        bureau_payroll_rate=Decimal("0.015"),
        school_share_rate=Decimal("0"),
        school_public_funds_rate=Decimal("0.05"),
    ),
}
DEFAULT_VERSION = "seed-000/1"

R19_BUREAU = "R19.bureau_payroll"
R19_SCHOOL_SHARE = "R19.school_share"
R20_SCHOOL = "R20.school_public_funds"


def policy(version: str | None = None) -> FundingPolicy:
    found = POLICIES.get(version or DEFAULT_VERSION)
    if found is None:
        raise Unprocessable(
            f"No funding policy has version {version!r}; known: {', '.join(sorted(POLICIES))}.",
            code="unknown-policy",
        )
    return found


def _fen(value: Decimal, rounding: str) -> int:
    return int(value.quantize(Decimal(1), rounding=rounding))


def bureau_fund_fen(p: FundingPolicy, payroll_fen: int) -> int:
    """R19: the bureau's special fund from total payroll, to the nearest fen."""
    return _fen(Decimal(payroll_fen) * p.bureau_payroll_rate, ROUND_HALF_UP)


def school_share_fen(p: FundingPolicy, fund_fen: int) -> int:
    """R19: how much of a bureau fund is reserved for schools (rounded down: never over)."""
    return int(Decimal(fund_fen) * p.school_share_rate)


def school_minimum_fen(p: FundingPolicy, public_funds_fen: int) -> int:
    """R20: the least a school must set aside (rounded up: a minimum is never undershot)."""
    return _fen(Decimal(public_funds_fen) * p.school_public_funds_rate, ROUND_CEILING)


def ensure_training_category(p: FundingPolicy, category: str) -> None:
    """R23: training money goes to training categories (R21) only."""
    if category not in p.training_categories:
        raise Unprocessable(
            f"{category!r} is not a training spending category; training funds are "
            f"ring-fenced to: {', '.join(p.training_categories)}.",
            code="ring-fenced",
            allowed=list(p.training_categories),
        )


def deviation(planned_fen: int, actual_fen: int) -> Decimal | None:
    """Share by which actual spending differs from plan; None when nothing was planned."""
    if planned_fen == 0:
        return None
    return (Decimal(actual_fen - planned_fen) / Decimal(planned_fen)).quantize(Decimal("0.0001"))


def execution_rate(allocated_fen: int, spent_fen: int) -> Decimal:
    if allocated_fen == 0:
        return Decimal("0.0000")
    return (Decimal(spent_fen) / Decimal(allocated_fen)).quantize(Decimal("0.0001"))


# Which of a school's pools pays an enrolment first: the bureau's money before the school's.
SCHOOL_POOL_ORDER: tuple[str, ...] = ("bureau_allocation", "public_funds")
