"""The rules of policy.py on their own, without I/O."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from services.enrolment.policy import (
    LIFECYCLE,
    POLICY,
    audience_violation,
    participation_met,
    teacher_roles,
    team_violation,
    term_of,
)


def team(experts: int, frontline: int, other: int = 0) -> list[dict]:
    return (
        [{"name": f"e{i}", "kind": "expert"} for i in range(experts)]
        + [{"name": f"f{i}", "kind": "frontline"} for i in range(frontline)]
        + [{"name": f"o{i}", "kind": "other"} for i in range(other)]
    )


def test_r9_team_needs_35_percent_experts() -> None:
    assert team_violation(team(7, 13), "district") is None  # exactly 35 %
    assert "experts" in team_violation(team(6, 14), "district")


def test_r9_team_needs_half_frontline_or_researchers() -> None:
    assert team_violation(team(4, 5, 1), "district") is None
    assert "Frontline" in team_violation(team(4, 4, 2), "district")
    researchers = team(4, 0) + [{"name": f"r{i}", "kind": "researcher"} for i in range(5)]
    assert team_violation(researchers, "district") is None


def test_r9_team_required_for_levels_above_district() -> None:
    assert team_violation([], "provincial") is not None
    assert team_violation([], "school") is None


def test_r1_no_transition_reaches_published_or_running_without_approval() -> None:
    assert LIFECYCLE["publish"].sources == {"approved"}
    assert LIFECYCLE["approve"].sources == {"submitted"}
    reachable_without_review = {"draft"}
    for step in LIFECYCLE.values():
        if step.action != "approve" and step.sources & reachable_without_review:
            reachable_without_review.add(step.target)
    assert not reachable_without_review & {"approved", "published", "running", "finished"}


def test_r5_participation_at_least_95_percent() -> None:
    assert participation_met(20, 19)  # 95 %
    assert not participation_met(20, 18)
    assert participation_met(0, 0)
    assert POLICY.min_participation_rate == Decimal("0.95")


def test_r6_terms_split_in_february_and_august() -> None:
    assert term_of(dt.date(2026, 11, 23)) == (2026, 1)
    assert term_of(dt.date(2027, 1, 15)) == (2026, 1)
    assert term_of(dt.date(2027, 2, 1)) == (2027, 0)
    assert term_of(dt.date(2027, 8, 1)) == (2027, 1)


def test_audience_checks_stage_subject_and_roles() -> None:
    audience = {"stages": ["primary"], "subjects": ["数学"], "roles": ["class_teacher"]}
    fits = dict(stage="primary", subject="数学", roles={"class_teacher"})
    assert audience_violation(audience, **fits) is None
    assert "stages" in audience_violation(audience, **(fits | {"stage": "senior"}))
    assert "subjects" in audience_violation(audience, **(fits | {"subject": "语文"}))
    assert audience_violation(audience, **(fits | {"roles": set()})) is not None
    assert audience_violation({}, stage="senior", subject="体育", roles=set()) is None


def test_new_teacher_role_comes_from_the_hire_date() -> None:
    today = dt.date(2026, 11, 23)
    assert "new_teacher" in teacher_roles([], dt.date(2025, 9, 1), today)
    assert "new_teacher" not in teacher_roles(["rural"], dt.date(2015, 9, 1), today)
