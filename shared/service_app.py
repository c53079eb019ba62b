"""The one way a service is assembled: its routers and middleware on the runtime's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import MetaData

from shared.auth import TokenVerifier, audience_of
from shared.config import ServiceSettings, common
from shared.edge import EdgeMiddleware
from shared.errors import install_problem_handlers
from shared.health import router as health_router
from shared.logging import RequestIdMiddleware
from shared.messaging.inbox import HandlerRegistry
from shared.messaging.tables import InfraTables
from shared.operations import operations_router
from shared.paths import RefuseOddPathMiddleware
from shared.runtime import Consuming, JobFactory, Part, Relaying, Resource, lifespan_of


@dataclass
class ServiceSpec:
    name: str
    title: str
    description: str
    metadata: MetaData
    tables: InfraTables
    routers: list[APIRouter]
    migrations: Path
    settings: ServiceSettings
    handlers: HandlerRegistry | None = None
    # Held while the service runs (entered after the database and NATS are up).
    resources: list[Resource] = field(default_factory=list)
    # Its background jobs (shared.worker), run where SHIXUN_<NAME>_ROLE is worker or all.
    jobs: list[JobFactory] = field(default_factory=list)
    # It stores personal data: without a valid PII key (in production, from the environment)
    # it does not start.
    uses_pii: bool = False
    # Pure ASGI middlewares inside the request log and the edge checks, next to the routes
    # (a hot endpoint's lane below FastAPI's routing).
    inner_middleware: list[type] = field(default_factory=list)


def _verifier(name: str) -> Resource:
    @asynccontextmanager
    async def verifier(app: FastAPI) -> AsyncIterator[None]:
        env = common()
        app.state.verifier = TokenVerifier(
            jwks_url=env.shixun_jwks_url,
            issuer=env.shixun_jwt_issuer,
            audience=audience_of(name, env.shixun_jwt_audience),
        )
        yield

    return verifier


def part_of(spec: ServiceSpec) -> Part:
    settings = spec.settings
    return Part(
        name=spec.name,
        migrations=spec.migrations,
        tables=spec.tables,
        database_url=settings.database_url,
        pool_size=settings.db_pool_size,
        uses_pii=spec.uses_pii,
        relaying=Relaying(
            interval=settings.relay_interval_seconds,
            batch_size=settings.relay_batch_size,
            retention=timedelta(hours=settings.outbox_retention_hours),
        ),
        consuming=Consuming(
            registries=(spec.handlers,) if spec.handlers is not None else (),
            max_deliver=settings.consumer_max_deliver,
            ack_wait=settings.consumer_ack_wait_seconds,
        ),
        resources=[_verifier(spec.name), *spec.resources],
        jobs=spec.jobs,
    )


def operation_id(route: APIRoute) -> str:
    """The endpoint function's name (`create_program`): what a generated client calls its
    method. tests/gateway/test_generated_client.py keeps them unique across the API."""
    return route.name


def create_service_app(spec: ServiceSpec) -> FastAPI:
    env = common()
    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version="0.1.0",
        lifespan=lifespan_of(part_of(spec)),
        generate_unique_id_function=operation_id,
        # One schema per model, as clients read and send it (no Foo-Input / Foo-Output pairs).
        separate_input_output_schemas=False,
    )
    for middleware in spec.inner_middleware:
        app.add_middleware(middleware)
    app.add_middleware(EdgeMiddleware, max_body=env.shixun_max_body_bytes)
    app.add_middleware(RefuseOddPathMiddleware)
    app.add_middleware(RequestIdMiddleware, service=spec.name)
    install_problem_handlers(app)
    app.include_router(health_router)
    app.include_router(
        operations_router(spec.name, spec.tables, [spec.handlers] if spec.handlers else [])
    )
    for router in spec.routers:
        app.include_router(router)
    return app
