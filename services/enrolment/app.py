"""The enrolment service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.enrolment.config import Settings
from services.enrolment.directory import ensure_default_district
from services.enrolment.models import EnrolmentModel, infra
from services.enrolment.routers import directory, enrolments, programs
from shared.service_app import ServiceSpec, create_service_app


def create_app() -> FastAPI:
    settings = Settings()

    async def bootstrap(app: FastAPI) -> None:
        async with app.state.database.sessions() as session:
            await ensure_default_district(session, name=settings.default_district_name)
            await session.commit()

    return create_service_app(
        ServiceSpec(
            name="enrolment",
            title="shixun enrolment",
            description="Directory, programs and their lifecycle, quotas, enrolments.",
            metadata=EnrolmentModel.metadata,
            tables=infra,
            # enrolments first: /programs/{id}/enrolments must not fall into /programs/{id}/{action}
            routers=[directory.router, enrolments.router, programs.router],
            migrations=Path(__file__).parent / "migrations",
            settings=settings,
            on_startup=[bootstrap],
        )
    )
