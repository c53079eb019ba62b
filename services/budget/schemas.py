"""Request and response bodies of the budget service. Money is integer fen throughout."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from shared.errors import LocalizedError

Fen = Annotated[int, Field(ge=0, le=10**15)]
PositiveFen = Annotated[int, Field(gt=0, le=10**15)]
Rate = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.4f}", return_type=str, when_used="json")]


class Strict(BaseModel):
    """Unknown fields are refused, so a client never sets what it may not."""

    model_config = ConfigDict(extra="forbid")


class Source(StrEnum):
    PAYROLL = "payroll"  # R19: the bureau's share of total payroll
    BUREAU_ALLOCATION = "bureau_allocation"  # R19: the part passed on to a school
    PUBLIC_FUNDS = "public_funds"  # R20: a school's share of its public-funds budget


class FundCreate(Strict):
    id: uuid.UUID | None = Field(None, description="client-chosen id; a retry returns the pool")
    fiscal_year: int = Field(ge=2000, le=2100)
    source: Source
    school_id: uuid.UUID | None = None
    basis_fen: Fen | None = Field(None, description="payroll (R19) or public-funds budget (R20)")
    amount_fen: PositiveFen | None = Field(
        None, description="allocation to a school; for public funds, more than the minimum"
    )
    parent_pool_id: uuid.UUID | None = Field(None, description="the bureau pool allocated from")
    policy_version: str | None = Field(None, max_length=40)

    @model_validator(mode="after")
    def _fields_of_source(self) -> FundCreate:
        needs = {
            Source.PAYROLL: ("basis_fen",),
            Source.PUBLIC_FUNDS: ("school_id", "basis_fen"),
            Source.BUREAU_ALLOCATION: ("school_id", "amount_fen", "parent_pool_id"),
        }[self.source]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise LocalizedError(
                f"该类经费池须填写：{'、'.join(missing)}",
                f"a {self.source.value} pool needs {', '.join(missing)}",
            )
        if self.source is Source.PAYROLL and self.school_id is not None:
            raise LocalizedError(
                "工资总额提取的经费池属于教育局，不属于学校",
                "a payroll pool belongs to the bureau, not a school",
            )
        if self.source is not Source.BUREAU_ALLOCATION and self.parent_pool_id is not None:
            raise LocalizedError(
                "只有教育局下拨的经费池才有上级经费池",
                "only a bureau_allocation pool has a parent_pool_id",
            )
        return self


class FundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    district_id: uuid.UUID
    owner_kind: str
    school_id: uuid.UUID | None
    fiscal_year: int
    source: str
    basis_fen: int | None
    amount_fen: int
    school_share_fen: int
    parent_pool_id: uuid.UUID | None
    rule: str
    policy_version: str
    created_at: dt.datetime
    available_fen: int = 0
    committed_fen: int = 0
    payable_fen: int = 0
    spent_fen: int = 0
    paid_fen: int = 0
    allocated_to_schools_fen: int = 0


class PostingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    pool_id: uuid.UUID
    account: str
    ref: str
    amount_fen: int


class TransactionRead(BaseModel):
    """One balanced movement; its postings (debit +, credit −) sum to zero."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    source_ref: str
    reverses_id: uuid.UUID | None
    memo: str
    created_at: dt.datetime
    postings: list[PostingRead] = []


class PaymentCreate(Strict):
    id: uuid.UUID = Field(description="client-chosen id; a retry never pays twice")
    institution_id: uuid.UUID
    amount_fen: PositiveFen


class PaymentRead(BaseModel):
    id: uuid.UUID
    pool_id: uuid.UUID
    institution_id: uuid.UUID
    amount_fen: int
    payable_left_fen: int


class BudgetLines(Strict):
    """Planned fen by R21 category (policy.R21_CATEGORIES); any other key is refused."""

    preliminary_research: Fen | None = None  # 前期调研费
    transport: Fen | None = None  # 交通费
    expert_fees: Fen | None = None  # 专家劳务费
    teaching_resources: Fen | None = None  # 教学资源费
    board_and_lodging: Fen | None = None  # 学员食宿费
    publicity: Fen | None = None  # 宣传费

    def planned(self) -> dict[str, int]:
        """The lines given, by category."""
        return self.model_dump(exclude_none=True)


class BudgetPut(Strict):
    pool_id: uuid.UUID = Field(description="the pool that pays this program's lines")
    lines: BudgetLines = Field(description="planned fen by R21 category")


class LineRead(BaseModel):
    category: str
    planned_fen: int
    spent_fen: int
    remaining_fen: int


class BudgetApprove(Strict):
    version: int = Field(ge=1, description="the budget version the bureau read and approves")


class BudgetRead(BaseModel):
    program_id: uuid.UUID
    pool_id: uuid.UUID
    version: int
    approved_version: int | None = Field(
        description="the version the bureau approved; expenses need it to be `version`"
    )
    lines: list[LineRead]
    planned_fen: int
    spent_fen: int


class ExpenseCreate(Strict):
    """An expense, or with reverses_id the correction of one (a reversing transaction)."""

    id: uuid.UUID = Field(description="client-chosen id; a retry never spends twice")
    category: str | None = Field(None, min_length=1, max_length=40)
    amount_fen: PositiveFen | None = None
    reverses_id: uuid.UUID | None = Field(None, description="the expense this one corrects")
    spent_on: dt.date
    description: str = Field("", max_length=300)

    @model_validator(mode="after")
    def _expense_or_reversal(self) -> ExpenseCreate:
        if self.reverses_id is None and (self.category is None or self.amount_fen is None):
            raise LocalizedError(
                "支出须填写支出科目和金额", "an expense needs category and amount_fen"
            )
        if self.reverses_id is not None and (self.category or self.amount_fen):
            raise LocalizedError(
                "冲销记录的科目和金额取自被冲销的支出，请勿填写",
                "a reversal takes category and amount from the expense it reverses",
            )
        return self


class ExpenseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    program_id: uuid.UUID
    pool_id: uuid.UUID
    category: str
    amount_fen: int
    reverses_id: uuid.UUID | None
    spent_on: dt.date
    description: str
    transaction_id: uuid.UUID
    created_at: dt.datetime


class CategoryAccount(BaseModel):
    category: str
    planned_fen: int
    actual_fen: int
    variance_fen: int
    variance_rate: Rate | None


class FinalAccounts(BaseModel):
    program_id: uuid.UUID
    title: str
    status: str
    categories: list[CategoryAccount]
    planned_fen: int
    actual_fen: int
    variance_fen: int
    variance_rate: Rate | None
    participants_paid_for: int
    per_participant_fen: int
    payable_to_institution_fen: int


class ExecutionRow(BaseModel):
    id: uuid.UUID
    name: str
    allocated_fen: int
    committed_fen: int
    spent_fen: int
    paid_fen: int
    balance_fen: int
    execution_rate: Rate


class SpotCheckRow(BaseModel):
    program_id: uuid.UUID
    title: str
    planned_fen: int
    actual_fen: int
    deviation: Rate
    categories: dict[str, Rate]


class BudgetExecution(BaseModel):
    year: int
    threshold: Rate
    schools: list[ExecutionRow]
    districts: list[ExecutionRow]
    spot_checks: list[SpotCheckRow]
