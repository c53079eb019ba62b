"""The ledger service."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from services.ledger.config import Settings
from services.ledger.handlers import handlers
from services.ledger.imports import LedgerImports
from services.ledger.models import LedgerModel, infra
from services.ledger.province_sync import ProvinceSync, exchanges
from services.ledger.routers import (
    discrepancies,
    entries,
    hours,
    imports,
    policies,
    province,
    reports,
)
from shared.service_app import ServiceSpec, create_service_app


def create_app() -> FastAPI:
    settings = Settings()

    def imports_job(app: FastAPI) -> LedgerImports:
        return LedgerImports(
            app.state.database, owner=app.state.owner, interval=settings.import_interval_seconds
        )

    def province_job(app: FastAPI) -> ProvinceSync:
        client = httpx.AsyncClient(timeout=30.0, follow_redirects=False)
        return ProvinceSync(
            app.state.database,
            exchanges(settings.province_sync, client),
            interval=settings.province_sync_interval_seconds,
        )

    return create_service_app(
        ServiceSpec(
            name="ledger",
            title="shixun ledger",
            description="Hours and credits: append-only entries, requirements, compliance.",
            metadata=LedgerModel.metadata,
            tables=infra,
            routers=[
                hours.router,
                entries.router,
                imports.router,
                policies.router,
                province.router,
                discrepancies.router,
                reports.router,
            ],
            migrations=Path(__file__).parent / "migrations",
            settings=settings,
            handlers=handlers,
            jobs=[imports_job, *([province_job] if settings.province_sync else [])],
            # Import files are sealed with the PII key while they wait.
            uses_pii=True,
        )
    )
