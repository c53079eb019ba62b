"""Values as offices write them: dates in the common forms, identity numbers (GB 11643)."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.office_values import CellError, check_digit, parse_date, parse_id_number, parse_mobile


@pytest.mark.parametrize(
    "text",
    [
        "2008-09-01",
        "2008/9/1",
        "2008.09.01",
        "2008年9月1日",
        "2008 年 9 月 1 日",
        "20080901",
        "39692",
        "39692.0",
        "2008-09-01 00:00:00",
    ],
)
def test_the_common_date_forms_and_excel_serials_are_read(text: str) -> None:
    assert parse_date(text) == dt.date(2008, 9, 1)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("2019年2月30日", "date-impossible"),
        ("2019/13/1", "date-impossible"),
        ("2019-02-29", "date-impossible"),
        ("9/1/2019", "date"),
        ("去年九月", "date"),
        ("2999-01-01", "date-future"),
    ],
)
def test_impossible_or_unreadable_dates_are_refused(text: str, key: str) -> None:
    with pytest.raises(CellError) as refused:
        parse_date(text)
    assert refused.value.key == key


def test_the_check_digit_is_gb_11643_mod_11_2() -> None:
    # The standard's own example: 11010519491231002X.
    assert check_digit("11010519491231002") == "X"
    assert parse_id_number("11010519491231002x") == "11010519491231002X"
    assert parse_id_number(" 110105197001010011 ") == "110105197001010011"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("110105194912310021", "id-number-check"),
        ("110105194902300024", "id-number-birth"),  # 1949-02-30
        ("1101051949123100", "id-number-format"),
        ("1.10105E+17", "id-number-as-number"),
        ("110105194912310000.0", "id-number-as-number"),
    ],
)
def test_wrong_identity_numbers_are_refused_with_the_reason(text: str, key: str) -> None:
    with pytest.raises(CellError) as refused:
        parse_id_number(text)
    assert refused.value.key == key


def test_mobile_numbers_as_offices_write_them() -> None:
    assert parse_mobile("138 1234 5678") == "13812345678"
    assert parse_mobile("+8613812345678") == "13812345678"
    assert parse_mobile("13812345678.0") == "13812345678"
    with pytest.raises(CellError):
        parse_mobile("1381234567")
