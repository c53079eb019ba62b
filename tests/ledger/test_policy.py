"""The rules as data, evaluated without I/O (R10–R15, R18)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.ledger.balances import Delta, totals_from_years
from services.ledger.policy import (
    DEFAULT_POLICY,
    PolicyRules,
    Totals,
    checks,
    credits_for,
    cycle_of,
    holds_degree,
    pace,
    takes_centralized,
)

RULES = DEFAULT_POLICY.rules


def by_rule(found: list) -> dict:
    return {c.rule: c for c in found}


def evaluate(totals: Totals, *, year: int = 2027, hired_year=None, trainer=False) -> dict:
    return by_rule(checks(RULES, totals, year=year, hired_year=hired_year, is_trainer=trainer))


def test_r10_cycle_total_needs_360_hours_in_five_years() -> None:
    assert evaluate(Totals(cycle_total=3599))["R10.cycle_total"].missing == 1
    assert evaluate(Totals(cycle_total=3600))["R10.cycle_total"].met
    years = {2026: Delta(total=2000), 2030: Delta(total=1600), 2031: Delta(total=900)}
    totals = totals_from_years(RULES, years, year=2028, hired_year=None)
    assert totals.cycle_total == 3600  # 2031 belongs to the next cycle


def test_r10_cycle_starts_at_the_policy_year_or_a_later_hire_year() -> None:
    assert cycle_of(RULES, 2029) == (2026, 2030)
    assert cycle_of(RULES, 2031) == (2031, 2035)
    assert cycle_of(RULES, 2025) == (2021, 2025)
    assert cycle_of(RULES, 2029, hired_year=2028) == (2028, 2032)
    fixed = RULES.model_copy(update={"cycle_from_hire_date": False})
    assert cycle_of(fixed, 2029, hired_year=2028) == (2026, 2030)


def test_r10_pace_projects_the_cycle_end() -> None:
    behind = pace(RULES, first_year=2026, cycle_total=500, today=dt.date(2027, 12, 31))
    assert behind.on_track is False and behind.projected < 3600
    ahead = pace(RULES, first_year=2026, cycle_total=1600, today=dt.date(2027, 12, 31))
    assert ahead.on_track is True
    early = pace(RULES, first_year=2026, cycle_total=0, today=dt.date(2026, 1, 20))
    assert early.on_track is None


def test_r11_new_teachers_need_120_pre_service_hours() -> None:
    years = {2027: Delta(total=700), 2028: Delta(total=400), 2029: Delta(total=999)}
    totals = totals_from_years(RULES, years, year=2028, hired_year=2027)
    found = evaluate(totals, year=2028, hired_year=2027)
    assert found["R11.pre_service_hours"].achieved == 1100
    assert found["R11.pre_service_hours"].missing == 100
    assert "R11.pre_service_hours" not in evaluate(totals, year=2029, hired_year=2027)
    assert "R11.pre_service_hours" not in evaluate(totals, year=2028, hired_year=None)


def test_r12_annual_self_selected_and_district_level_minimums() -> None:
    found = evaluate(Totals(year_total=720, year_self_selected=379, year_district_level=360))
    assert found["R12.annual_minimum"].met
    assert not found["R12.self_selected_hours"].met
    assert found["R12.self_selected_hours"].missing == 1
    assert found["R12.district_level_hours"].met


def test_r12_self_selected_excludes_school_based_and_mandatory_hours() -> None:
    delta = Delta()
    delta.add(hours=100, credits=0, mode="online", level="provincial", category="self_selected")
    delta.add(hours=200, credits=0, mode="school_based", level="school", category="self_selected")
    delta.add(hours=400, credits=0, mode="centralized", level="district", category="mandatory")
    assert delta.self_selected == 100
    assert delta.district_level == 500
    assert delta.school_based == 200
    assert delta.centralized == 400


def test_r13_school_based_hours_and_twenty_hours_per_credit() -> None:
    assert credits_for(RULES, "school_based", Decimal("40.0")) == Decimal("2.0")
    assert credits_for(RULES, "school_based", Decimal("29.0")) == Decimal("1.4")
    found = evaluate(Totals(year_school_based=390, cycle_school_based=2000))
    assert found["R13.school_based_hours"].missing == 10
    assert found["R13.school_based_cycle_credits"].met  # 200 h = 10 credits
    found = evaluate(Totals(year_school_based=400, cycle_school_based=1990))
    assert found["R13.school_based_hours"].met
    assert found["R13.school_based_cycle_credits"].achieved == 99


def test_r14_a_teacher_counts_with_90_centralized_hours_in_the_year() -> None:
    assert takes_centralized(RULES, Totals(year_centralized=900))
    assert not takes_centralized(RULES, Totals(year_centralized=899, year_total=2000))


def test_r15_trainers_owe_72_hours_of_their_own() -> None:
    assert "R15.trainer_hours" not in evaluate(Totals(year_total=100))
    found = evaluate(Totals(year_total=700), trainer=True)
    assert found["R15.trainer_hours"].missing == 20


def test_r18_degree_order_decides_who_holds_a_target_degree() -> None:
    assert holds_degree("bachelor", "associate")
    assert holds_degree("associate", "associate")
    assert not holds_degree("secondary", "associate")
    assert not holds_degree("", "associate")
    targets = {(t.stage, t.degree): t.share for t in RULES.degree_targets}
    assert targets == {
        ("primary", "associate"): Decimal("0.90"),
        ("junior", "bachelor"): Decimal("0.80"),
        ("senior", "master"): Decimal("0.05"),
    }


def test_a_district_policy_changes_the_numbers_not_the_code() -> None:
    rules = PolicyRules(annual_hours=Decimal("76.0"), cycle_years=3)
    found = by_rule(
        checks(rules, Totals(year_total=740), year=2027, hired_year=None, is_trainer=False)
    )
    assert found["R12.annual_minimum"].missing == 20
    assert cycle_of(rules, 2027) == (2026, 2028)


def test_policy_rules_refuse_nonsense() -> None:
    with pytest.raises(ValidationError):
        PolicyRules(annual_hours="7.25")
    with pytest.raises(ValidationError):
        PolicyRules(hours_per_credit={"centralized": "10.0"})
    with pytest.raises(ValidationError):
        PolicyRules(centralized_share=Decimal("1.5"))
