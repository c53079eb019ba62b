"""Events published by the budget service (stream BUDGET, subjects budget.>)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

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


class FundPoolCreated(BudgetEvent):
    """A fund pool was opened for an owner and fiscal year, with the rule that sized it."""

    subject: ClassVar[str] = "budget.pool.created.v1"
    pool_id: uuid.UUID
    district_id: uuid.UUID
    owner_kind: str
    school_id: uuid.UUID | None
    fiscal_year: int
    source: str
    amount_fen: int
    rule: str
    policy_version: str
    parent_pool_id: uuid.UUID | None = None


class Posting(BaseModel):
    model_config = ConfigDict(frozen=True)

    pool_id: uuid.UUID
    account: str
    ref: str
    amount_fen: int


class JournalPosted(BudgetEvent):
    """A balanced movement of money (allocation, commitment, release, expense, payable,
    payment, reversal); its postings sum to zero."""

    subject: ClassVar[str] = "budget.journal.posted.v1"
    transaction_id: uuid.UUID
    kind: str
    source_ref: str
    reverses_id: uuid.UUID | None = None
    postings: list[Posting]


class ProgramBudgetSet(BudgetEvent):
    """A program's planned budget by category was set or revised (R21, R22)."""

    subject: ClassVar[str] = "budget.program_budget.set.v1"
    program_id: uuid.UUID
    pool_id: uuid.UUID
    version: int
    lines: dict[str, int]
