"""The one way a service is assembled: routers, database, migrations, NATS, relay, consumers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData

from shared import pii
from shared.auth import TokenVerifier, audience_of
from shared.config import ServiceSettings, common, database_url_for
from shared.db import Database, ensure_database
from shared.edge import EdgeMiddleware
from shared.errors import install_problem_handlers
from shared.health import router as health_router
from shared.logging import RequestIdMiddleware, configure_logging
from shared.messaging.inbox import ConsumerGroup, HandlerRegistry
from shared.messaging.nats import NatsLink
from shared.messaging.relay import OutboxRelay
from shared.messaging.tables import InfraTables
from shared.migrate import upgrade
from shared.operations import operations_router
from shared.paths import RefuseOddPathMiddleware

DEFAULT_NATS_URL = "nats://127.0.0.1:4223"


def settle_garbage_collector() -> None:
    """Once started: keep what start-up made out of every collection, and collect less often.

    A request allocates thousands of short-lived objects; with the default thresholds the
    collector ran several times a request and walked every module, class and compiled
    query each full pass (a tenth of a rush's CPU, py-spy).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


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
    on_startup: list[Callable[[FastAPI], Awaitable[None]]] = field(default_factory=list)
    # It stores personal data: without a valid PII key (in production, from the environment)
    # it does not start.
    uses_pii: bool = False


def create_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    env = common()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, json=env.shixun_log_json)
        if spec.uses_pii:
            pii.check_key()
        url = database_url_for(spec.name, settings.database_url)
        await ensure_database(url)
        database = Database(url, pool_size=settings.db_pool_size)
        await upgrade(database, spec.migrations)
        link = NatsLink(
            env.nats_url or DEFAULT_NATS_URL,
            name=spec.name,
            replicas=env.shixun_stream_replicas,
            namespace=env.shixun_nats_namespace,
        )
        link.start()
        relay = OutboxRelay(
            database,
            spec.tables,
            link,
            interval=settings.relay_interval_seconds,
            batch_size=settings.relay_batch_size,
            retention=timedelta(hours=settings.outbox_retention_hours),
        )
        relay.start()
        consumers = None
        if spec.handlers is not None:
            consumers = ConsumerGroup(
                spec.handlers,
                database,
                spec.tables,
                link,
                max_deliver=settings.consumer_max_deliver,
                ack_wait=settings.consumer_ack_wait_seconds,
            )
            consumers.start()
        app.state.database = database
        app.state.tables = spec.tables
        app.state.idempotency_table = spec.tables.idempotency
        app.state.nats = link
        app.state.relay = relay
        app.state.consumers = consumers
        app.state.verifier = TokenVerifier(
            jwks_url=env.shixun_jwks_url,
            issuer=env.shixun_jwt_issuer,
            audience=audience_of(spec.name, env.shixun_jwt_audience),
        )
        for hook in spec.on_startup:
            await hook(app)
        settle_garbage_collector()
        try:
            yield
        finally:
            if consumers is not None:
                await consumers.stop()
            await relay.stop()
            await link.close()
            await database.dispose()

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version="0.1.0",
        lifespan=lifespan,
    )
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
