"""Tables of the budget service."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from shared.messaging.tables import infrastructure_tables


class BudgetModel(SQLModel, registry=registry()):
    pass


infra = infrastructure_tables(BudgetModel.metadata)
