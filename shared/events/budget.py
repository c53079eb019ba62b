"""Events published by the budget service (stream BUDGET, subjects budget.>)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from shared.events.base import Event


class BudgetEvent(Event):
    stream: ClassVar[str] = "BUDGET"


class FundingReserved(BudgetEvent):
    """The school's pool committed an enrolment's cost; enrolment may confirm the seat."""

    subject: ClassVar[str] = "budget.funding.reserved.v1"
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    school_id: uuid.UUID
    pool_id: uuid.UUID
    amount_fen: int


class FundingRefused(BudgetEvent):
    """The pool cannot cover an enrolment's cost; enrolment refuses it with this reason."""

    subject: ClassVar[str] = "budget.funding.refused.v1"
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    school_id: uuid.UUID
    amount_fen: int
    available_fen: int
    reason: str
