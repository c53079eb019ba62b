"""Requirement policies as data: the seeds' numbers are the default policy (R10, R12)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class RequirementPolicy:
    version: str
    annual_minimum_hours: Decimal  # R12
    cycle_hours: Decimal  # R10
    cycle_years: int
    cycle_start_year: int


DEFAULT_POLICY = RequirementPolicy(
    version="seeds-default/1",
    annual_minimum_hours=Decimal("72.0"),
    cycle_hours=Decimal("360.0"),
    cycle_years=5,
    cycle_start_year=2026,
)


def cycle_of(policy: RequirementPolicy, year: int) -> tuple[int, int]:
    """First and last year of the 5-year cycle containing `year`."""
    offset = (year - policy.cycle_start_year) % policy.cycle_years
    first = year - offset
    return first, first + policy.cycle_years - 1
