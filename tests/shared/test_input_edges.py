"""Input at the edge of what can be stored or written, found by fuzzing (issue 18)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pydantic import TypeAdapter, ValidationError

from services.ledger.spreadsheets import xlsx_bytes
from shared.units import MAX_HOURS, PositiveHours

HOURS = TypeAdapter(PositiveHours)


def test_hours_given_are_bounded_as_the_schema_says() -> None:
    assert HOURS.validate_python(str(MAX_HOURS)) == MAX_HOURS
    # More would overflow integer tenths in the database, a 500 behind the API.
    with pytest.raises(ValidationError, match="at most"):
        HOURS.validate_python("100000.0")
    # Past decimal's 28 digits, where rounding itself fails.
    with pytest.raises(ValidationError, match="too large"):
        HOURS.validate_python("91400823459723752277188753338")
    assert HOURS.json_schema()["pattern"] == r"^\d{1,5}(\.\d)?$"
    assert HOURS.validate_python("24") == Decimal("24.0")


def test_a_worksheet_takes_text_with_control_characters_out_of_them() -> None:
    content = xlsx_bytes([("sheet", ["name", "hours"], [["李\x01老\x1b师", 12]])])
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    assert rows == [("name", "hours"), ("李老师", 12)]
