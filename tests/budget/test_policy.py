"""Rules of the budget as data, without I/O (R19–R23) and the journal's balance check."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from services.budget import policy
from services.budget.journal import Leg, UnbalancedTransaction, check_balanced, transfer
from services.budget.schemas import BudgetLines
from shared.errors import Unprocessable


def test_r19_bureau_fund_is_a_versioned_share_of_payroll() -> None:
    payroll = 123_456_789_01  # fen
    seed000, seed004 = policy.policy("seed-000/1"), policy.policy("seed-004/1")
    assert policy.bureau_fund_fen(seed000, payroll) == 370_370_367  # 3 %, half up
    assert policy.bureau_fund_fen(seed004, payroll) == 185_185_184  # 1.5 %: .515 rounds up
    assert policy.school_share_fen(seed000, 1_000_01) == 700_00  # 70 %, never over
    assert policy.school_share_fen(seed004, 1_000_00) == 0
    assert policy.policy().version == policy.DEFAULT_VERSION


def test_r19_unknown_policy_version_is_refused() -> None:
    with pytest.raises(Unprocessable, match="No funding policy"):
        policy.policy("seed-999/1")


def test_r20_school_minimum_is_a_share_of_public_funds_rounded_up() -> None:
    assert policy.school_minimum_fen(policy.policy("seed-000/1"), 1_000_01) == 100_01
    assert policy.school_minimum_fen(policy.policy("seed-004/1"), 1_000_00) == 50_00


def test_r21_categories_are_the_six_of_seed_004() -> None:
    assert set(policy.R21_CATEGORIES) == {
        "preliminary_research",
        "transport",
        "expert_fees",
        "teaching_resources",
        "board_and_lodging",
        "publicity",
    }


def test_r21_budget_lines_are_a_closed_object_of_the_six_categories() -> None:
    """A budget body names R21 categories only, so its schema refuses any other key."""
    assert tuple(BudgetLines.model_fields) == policy.R21_CATEGORIES
    assert BudgetLines.model_json_schema()["additionalProperties"] is False


def test_r23_ring_fence_refuses_a_non_training_category() -> None:
    rules = policy.policy()
    policy.ensure_training_category(rules, "expert_fees")
    with pytest.raises(Unprocessable, match="ring-fenced") as refused:
        policy.ensure_training_category(rules, "office_furniture")
    assert refused.value.code == "ring-fenced"


def test_r23_deviation_and_execution_rate() -> None:
    assert policy.deviation(100_00, 80_00) == Decimal("-0.2000")
    assert policy.deviation(0, 5) is None
    assert policy.execution_rate(3, 1) == Decimal("0.3333")
    assert policy.execution_rate(0, 0) == Decimal("0")


def test_journal_refuses_unbalanced_or_empty_transactions() -> None:
    pool = uuid.uuid4()
    check_balanced(transfer(pool, "available", pool, "committed", 5))
    for legs in (
        [Leg(pool, "available", 5), Leg(pool, "committed", -4)],
        [Leg(pool, "available", 0), Leg(pool, "committed", 0)],
        [Leg(pool, "available", 5)],
    ):
        with pytest.raises(UnbalancedTransaction):
            check_balanced(legs)
