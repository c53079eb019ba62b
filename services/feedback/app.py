"""The feedback service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.feedback.config import Settings
from services.feedback.models import FeedbackModel, infra
from shared.service_app import ServiceSpec, create_service_app


def create_app() -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="feedback",
            title="shixun feedback",
            description="Ratings, assessments, deadlines, follow-ups, institution scorecards.",
            metadata=FeedbackModel.metadata,
            tables=infra,
            routers=[],
            migrations=Path(__file__).parent / "migrations",
            settings=Settings(),
        )
    )
