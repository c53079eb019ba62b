"""HTTP of program budgets (R21), expenses (R23) and final accounts (R22)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.budget import programs
from services.budget.models import Expense
from services.budget.schemas import (
    BudgetApprove,
    BudgetPut,
    BudgetRead,
    ExpenseCreate,
    ExpenseRead,
    FinalAccounts,
)
from shared.deps import Caller, Idem, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1/programs/{program_id}", tags=["program budgets"])


@router.put("/budget", response_model=BudgetRead)
async def put_budget(
    program_id: uuid.UUID, body: BudgetPut, session: Session, caller: Caller
) -> BudgetRead:
    """Set the program's budget lines in fen, by category; the bureau then approves them."""
    program = await programs.authorize_program(session, caller, program_id, write=True)
    await programs.set_budget(session, principal=caller, program=program, data=body)
    return await programs.read_budget(session, program)


@router.post("/budget/approval", response_model=BudgetRead)
async def approve_budget(
    program_id: uuid.UUID, body: BudgetApprove, session: Session, caller: Caller
) -> BudgetRead:
    """The bureau approves a version of the budget; expenses need the current one approved."""
    program = await programs.authorize_program(session, caller, program_id, write=True)
    await programs.approve_budget(session, principal=caller, program=program, data=body)
    return await programs.read_budget(session, program)


@router.get("/budget", response_model=BudgetRead)
async def get_budget(program_id: uuid.UUID, session: Session, caller: Caller) -> BudgetRead:
    """The program's budget lines and approval, in fen."""
    program = await programs.authorize_program(session, caller, program_id, write=False)
    return await programs.read_budget(session, program)


@router.post("/expenses", status_code=201, response_model=ExpenseRead)
async def create_expense(
    program_id: uuid.UUID, body: ExpenseCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Record an expense of the program in fen by its category, or correct one (reverses_id)."""
    if replay := await idem.replay():
        return replay
    program = await programs.authorize_program(session, caller, program_id, write=True)
    expense, created = await programs.record_expense(
        session, principal=caller, program=program, data=body
    )
    return await idem.respond(201 if created else 200, ExpenseRead.model_validate(expense))


@router.get("/expenses", response_model=Page[ExpenseRead])
async def list_expenses(
    program_id: uuid.UUID, session: Session, caller: Caller, paging: Paging
) -> dict:
    """The program's expenses and their corrections."""
    await programs.authorize_program(session, caller, program_id, write=False)
    query = paginate(select(Expense).where(Expense.program_id == program_id), Expense, paging)
    return page_of(list((await session.scalars(query)).all()), paging, ExpenseRead)


@router.get("/final-accounts", response_model=FinalAccounts)
async def get_final_accounts(
    program_id: uuid.UUID, session: Session, caller: Caller
) -> FinalAccounts:
    """The program's final accounts (决算): budget against spending per line, in fen."""
    program = await programs.authorize_program(session, caller, program_id, write=False)
    return await programs.final_accounts(session, program)
