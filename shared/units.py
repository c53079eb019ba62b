"""Hours and money: hours are Decimal with one place, money is integer fen.

Hours are stored as integer tenths so sums are exact on every database.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema
from sqlalchemy import BigInteger, TypeDecorator

from shared.errors import LocalizedError

ONE_PLACE = Decimal("0.1")
# Bounds hours given as input: far above any program's or entry's, far below what integer
# tenths can hold once summed.
MAX_HOURS = Decimal("99999.9")


def to_hours(value: Any) -> Decimal:
    """Parse hours; more than one decimal place is an error, not a silent rounding."""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise LocalizedError(f"“{value}”不是学时数", f"{value!r} is not a number of hours") from exc
    if not number.is_finite():
        raise LocalizedError("学时须为有限的数字", "hours must be a finite number")
    if number.adjusted() >= 15:
        # quantize() raises InvalidOperation past the context's 28 digits.
        raise LocalizedError(f"学时数“{value}”过大", f"{value!r} is too large a number of hours")
    if number != number.quantize(ONE_PLACE, rounding=ROUND_HALF_UP):
        raise LocalizedError("学时最多一位小数", "hours have at most one decimal place")
    return number.quantize(ONE_PLACE)


def round_hours(value: Decimal) -> Decimal:
    return value.quantize(ONE_PLACE, rounding=ROUND_HALF_UP)


def format_hours(value: Decimal) -> str:
    return f"{value:.1f}"


def _within_bounds(value: Decimal) -> Decimal:
    if value < 0:
        raise LocalizedError("学时不能为负数", "hours cannot be negative")
    if value > MAX_HOURS:
        raise LocalizedError(f"学时最多为 {MAX_HOURS}", f"hours are at most {MAX_HOURS}")
    return value


_HOURS_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": r"^-?\d+(\.\d)?$", "examples": ["24.0"]}
)
_POSITIVE_HOURS_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": r"^\d{1,5}(\.\d)?$", "examples": ["24.0"]}
)
_HOURS_JSON = PlainSerializer(format_hours, return_type=str, when_used="json")

# Hours as they travel in JSON: a decimal string like "24.0".
HoursValue = Annotated[Decimal, BeforeValidator(to_hours), _HOURS_JSON, _HOURS_SCHEMA]
PositiveHours = Annotated[
    Decimal,
    BeforeValidator(to_hours),
    AfterValidator(_within_bounds),
    _HOURS_JSON,
    _POSITIVE_HOURS_SCHEMA,
]


def rate_schema(places: int) -> WithJsonSchema:
    """How a rate from 0 to 1 with at most `places` decimals is documented: pydantic would
    say any string, and generated strings would nearly all be refused."""
    text = rf"^(0(\.\d{{1,{places}}})?|1(\.0{{1,{places}}})?)$"
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {"type": "string", "pattern": text},
            ],
            "description": "0 to 1",
        }
    )


class HoursColumn(TypeDecorator):
    """Decimal hours in Python, integer tenths in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Any) -> int | None:
        if value is None:
            return None
        return int(to_hours(value) * 10)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / 10).quantize(ONE_PLACE)
