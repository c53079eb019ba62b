"""The budget service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.budget.config import Settings
from services.budget.handlers import handlers
from services.budget.models import BudgetModel, infra
from services.budget.routers import funds, programs, reports
from shared.service_app import ServiceSpec, create_service_app


def create_app() -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="budget",
            title="shixun budget",
            description="Training funds in integer fen: pools, journal, budgets, expenses.",
            metadata=BudgetModel.metadata,
            tables=infra,
            routers=[funds.router, programs.router, reports.router],
            migrations=Path(__file__).parent / "migrations",
            settings=Settings(),
            handlers=handlers,
        )
    )
