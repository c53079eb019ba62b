"""The feedback service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.feedback.config import Settings
from services.feedback.handlers import handlers
from services.feedback.models import FeedbackModel, infra
from services.feedback.policy import policy_with
from services.feedback.routers.appraisal import router as appraisal_router
from services.feedback.routers.evaluations import router as evaluations_router
from services.feedback.routers.scorecards import router as scorecards_router
from services.feedback.scheduler import Clock, DeadlineScheduler
from shared.db import utcnow
from shared.service_app import ServiceSpec, create_service_app


def create_app(*, clock: Clock = utcnow) -> FastAPI:
    """The service; `clock` is the time the rules and the deadline scheduler see."""
    settings = Settings()

    def scheduler(app: FastAPI) -> DeadlineScheduler:
        # It keeps no state, so stopping it anywhere loses nothing.
        return DeadlineScheduler(
            app.state.database, clock=clock, interval=settings.scheduler_interval_seconds
        )

    app = create_service_app(
        ServiceSpec(
            name="feedback",
            title="shixun feedback",
            description="Ratings, assessments, deadlines, follow-ups, institution scorecards.",
            metadata=FeedbackModel.metadata,
            tables=infra,
            routers=[evaluations_router, scorecards_router, appraisal_router],
            migrations=Path(__file__).parent / "migrations",
            settings=settings,
            handlers=handlers,
            jobs=[scheduler],
        )
    )
    app.state.clock = clock
    app.state.policy = policy_with(
        ratings_named_to_institution=settings.ratings_named_to_institution
    )
    return app
