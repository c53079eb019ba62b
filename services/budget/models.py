"""Tables of the budget service.

Money lives only in the journal (journal_transaction + journal_posting, integer fen, never
updated or deleted); every other table describes what the money is for.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import infrastructure_tables


class BudgetModel(SQLModel, registry=registry()):
    pass


infra = infrastructure_tables(BudgetModel.metadata)


def created_column() -> Column:
    return Column(UtcDateTime, nullable=False, default=utcnow)


def fen_column(nullable: bool = False) -> Column:
    return Column(BigInteger, nullable=nullable)


class SchoolProjection(BudgetModel, table=True):
    """What budget knows of a school, kept from enrolment's events."""

    __tablename__ = "school"

    id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=200)


class ProgramProjection(BudgetModel, table=True):
    """What budget knows of a program, kept from enrolment's events."""

    __tablename__ = "program"

    id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    institution_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    title: str = Field(max_length=300)
    status: str = Field(max_length=30)
    starts_on: dt.date
    ends_on: dt.date
    cost_per_participant_fen: int = Field(default=0, sa_column=fen_column())
    funded_by: str | None = Field(default=None, max_length=20)


class FundPool(BudgetModel, table=True):
    """Training money of one owner for one fiscal year, from one source (R19, R20).

    The amount is what the pool was created with; what is left derives from the journal.
    """

    __tablename__ = "fund_pool"
    __table_args__ = (
        UniqueConstraint("owner_id", "fiscal_year", "source", name="uq_fund_pool_owner_year"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district_id: uuid.UUID = Field(index=True)
    owner_kind: str = Field(max_length=10)  # bureau | school
    owner_id: uuid.UUID  # the district for the bureau, else the school
    school_id: uuid.UUID | None = Field(default=None, index=True)
    fiscal_year: int = Field(index=True)
    source: str = Field(max_length=30)  # payroll | bureau_allocation | public_funds
    basis_fen: int | None = Field(default=None, sa_column=fen_column(nullable=True))
    amount_fen: int = Field(sa_column=fen_column())
    school_share_fen: int = Field(default=0, sa_column=fen_column())
    parent_pool_id: uuid.UUID | None = Field(default=None, index=True)
    rule: str = Field(max_length=40)
    policy_version: str = Field(max_length=40)
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class JournalTransaction(BudgetModel, table=True):
    """One balanced movement of money; its postings sum to zero. Never changed."""

    __tablename__ = "journal_transaction"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=20)
    # What caused it, unique: a retry or a redelivered event finds the first transaction.
    source_ref: str = Field(max_length=120, unique=True)
    reverses_id: uuid.UUID | None = Field(default=None, unique=True)
    memo: str = Field(default="", max_length=300)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class JournalPosting(BudgetModel, table=True):
    """One leg of a transaction: a signed amount (debit +, credit −) on one pool account."""

    __tablename__ = "journal_posting"
    __table_args__ = (Index("ix_journal_posting_pool_account", "pool_id", "account"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    transaction_id: uuid.UUID = Field(foreign_key="journal_transaction.id", index=True)
    pool_id: uuid.UUID = Field(foreign_key="fund_pool.id")
    account: str = Field(max_length=20)
    ref: str = Field(default="", max_length=120)
    amount_fen: int = Field(sa_column=fen_column())


class ProgramBudget(BudgetModel, table=True):
    """A program's plan (R22): which pool pays, and the lines by category (R21).

    Only the bureau chooses the pool; the institution may revise the lines, and money moves
    only while `approved_version` (the version the bureau approved) is the current one."""

    __tablename__ = "program_budget"

    program_id: uuid.UUID = Field(primary_key=True)
    pool_id: uuid.UUID = Field(foreign_key="fund_pool.id")
    version: int = 1
    approved_version: int | None = None
    approved_by: str | None = Field(default=None, max_length=200)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class BudgetLine(BudgetModel, table=True):
    __tablename__ = "budget_line"

    program_id: uuid.UUID = Field(foreign_key="program_budget.program_id", primary_key=True)
    category: str = Field(max_length=40, primary_key=True)
    planned_fen: int = Field(sa_column=fen_column())


class Expense(BudgetModel, table=True):
    """Money spent on a program line; its id is the client's, so a retry never spends twice.
    A correction is another expense with the opposite amount that names the one it reverses."""

    __tablename__ = "expense"

    id: uuid.UUID = Field(primary_key=True)
    program_id: uuid.UUID = Field(index=True)
    pool_id: uuid.UUID = Field(foreign_key="fund_pool.id")
    category: str = Field(max_length=40)
    amount_fen: int = Field(sa_column=fen_column())
    reverses_id: uuid.UUID | None = Field(default=None, unique=True)
    spent_on: dt.date
    description: str = Field(default="", max_length=300)
    transaction_id: uuid.UUID = Field(foreign_key="journal_transaction.id")
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())


class Commitment(BudgetModel, table=True):
    """An enrolment's cost held in a school pool, until released or owed to the institution.

    A withdrawal that arrives before its funding request leaves a released row without a
    pool, so the late request is refused instead of holding money for nobody."""

    __tablename__ = "commitment"

    enrolment_id: uuid.UUID = Field(primary_key=True)
    pool_id: uuid.UUID | None = Field(default=None, foreign_key="fund_pool.id", index=True)
    program_id: uuid.UUID = Field(index=True)
    school_id: uuid.UUID
    amount_fen: int = Field(sa_column=fen_column())
    status: str = Field(max_length=20)  # committed | released | payable
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=created_column())
