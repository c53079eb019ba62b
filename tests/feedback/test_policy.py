"""The feedback rules as data, without I/O."""

from __future__ import annotations

import dataclasses
import datetime as dt

from services.feedback.policy import (
    DEFAULT_APPRAISAL_ROUNDS,
    DEFAULT_POLICY,
    add_months,
    assessment_window,
    follow_up_windows,
    local_midnight,
    rating_window,
    reminder_at,
    valid_score,
)

END = dt.date(2026, 11, 20)
UTC = dt.UTC


def shanghai(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    # Asia/Shanghai is UTC+8 all year.
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - dt.timedelta(
        hours=8
    )


def test_r24_assessment_window_runs_from_last_day_to_five_days_after() -> None:
    window = assessment_window(DEFAULT_POLICY, END)
    assert window.opens_at == shanghai(END)
    assert window.contains(shanghai(END + dt.timedelta(days=5), 23, 59))
    assert not window.contains(shanghai(END + dt.timedelta(days=6)))
    assert not window.contains(shanghai(END) - dt.timedelta(seconds=1))


def test_r24_assessment_days_are_policy_data() -> None:
    longer = dataclasses.replace(DEFAULT_POLICY, assessment_days=7)
    assert assessment_window(longer, END).contains(shanghai(END + dt.timedelta(days=7), 12))
    assert not assessment_window(DEFAULT_POLICY, END).contains(
        shanghai(END + dt.timedelta(days=7), 12)
    )


def test_r25_rating_window_runs_from_last_day_to_ten_days_after() -> None:
    window = rating_window(DEFAULT_POLICY, END)
    assert window.contains(shanghai(END, 9))
    assert window.contains(shanghai(END + dt.timedelta(days=10), 23, 59))
    assert not window.contains(shanghai(END + dt.timedelta(days=11)))
    assert not window.contains(shanghai(END - dt.timedelta(days=1), 12))


def test_r25_scores_are_on_a_one_to_five_scale() -> None:
    assert [valid_score(DEFAULT_POLICY, v) for v in (0, 1, 5, 6)] == [False, True, True, False]
    assert DEFAULT_POLICY.rating_dimensions == ("overall", "format", "instructors", "management")
    assert DEFAULT_POLICY.ratings_named_to_institution is False


def test_r27_follow_ups_one_and_three_months_after_the_end() -> None:
    windows = follow_up_windows(DEFAULT_POLICY, dt.date(2026, 11, 30))
    assert [months for months, _ in windows] == [1, 3]
    assert windows[0][1].opens_at == local_midnight(dt.date(2026, 12, 30))
    # 30 November + 3 months is the end of February.
    assert windows[1][1].opens_at == local_midnight(dt.date(2027, 2, 28))
    assert windows[1][1].due_at - windows[1][1].opens_at == dt.timedelta(days=14)


def test_add_months_clamps_to_the_last_day_of_the_month() -> None:
    assert add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2026, 12, 15), 3) == dt.date(2027, 3, 15)


def test_reminder_comes_before_the_deadline_but_never_before_the_window_opens() -> None:
    window = rating_window(DEFAULT_POLICY, END)
    assert reminder_at(DEFAULT_POLICY, window) == window.due_at - dt.timedelta(days=2)
    eager = dataclasses.replace(DEFAULT_POLICY, reminder_before=dt.timedelta(days=30))
    assert reminder_at(eager, window) == window.opens_at


def test_r28_default_appraisal_has_five_rounds_on_the_seed_weeks() -> None:
    weeks = {r.key: (r.first_week, r.last_week) for r in DEFAULT_APPRAISAL_ROUNDS}
    assert weeks == {
        "classroom_ability": (1, 13),
        "clarity": (4, 5),
        "student_satisfaction": (13, 13),
        "self": (14, 14),
        "peer_grade_group": (18, 19),
    }
