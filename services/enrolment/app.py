"""The enrolment service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.enrolment import sweep
from services.enrolment.calendar import Clock
from services.enrolment.config import Settings
from services.enrolment.directory import ensure_default_district
from services.enrolment.fast_lane import EnrolFastLane
from services.enrolment.handlers import handlers
from services.enrolment.models import EnrolmentModel, infra
from services.enrolment.routers import (
    attendance,
    catalogue,
    directory,
    enrolments,
    imports,
    leave,
    lottery,
    programs,
    reports,
    sessions,
)
from shared.db import utcnow
from shared.service_app import ServiceSpec, create_service_app


def create_app(*, clock: Clock = utcnow) -> FastAPI:
    """The service; `clock` is the time the program calendar sees (tests control it)."""
    settings = Settings()

    @asynccontextmanager
    async def bootstrap(app: FastAPI) -> AsyncIterator[None]:
        async with app.state.database.sessions() as session:
            await ensure_default_district(session, name=settings.default_district_name)
            await session.commit()
        yield

    return create_service_app(
        ServiceSpec(
            name="enrolment",
            title="shixun enrolment",
            description="Directory, programs and their lifecycle, quotas, enrolments.",
            metadata=EnrolmentModel.metadata,
            tables=infra,
            # Fixed paths before the {id} and {action} ones they would otherwise fall into.
            routers=[
                reports.router,
                imports.router,
                sessions.router,
                directory.router,
                leave.router,
                attendance.router,
                enrolments.router,
                lottery.router,
                programs.router,
                catalogue.router,
            ],
            migrations=Path(__file__).parent / "migrations",
            settings=settings,
            handlers=handlers,
            resources=[bootstrap],
            jobs=sweep.jobs(
                settings.sweep_interval_seconds,
                calendar_interval=settings.calendar_interval_seconds,
                clock=clock,
            ),
            uses_pii=True,
            inner_middleware=[EnrolFastLane],
        )
    )
