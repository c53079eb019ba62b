"""Tables of the feedback service."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from shared.messaging.tables import infrastructure_tables


class FeedbackModel(SQLModel, registry=registry()):
    pass


infra = infrastructure_tables(FeedbackModel.metadata)
