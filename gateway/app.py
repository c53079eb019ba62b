"""The gateway application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from gateway.accounts import ensure_bootstrap_admin
from gateway.clients.services import ServiceClients
from gateway.config import BootstrapSettings, Settings
from gateway.dispatcher import WebhookDispatcher
from gateway.handlers import handlers, login_handlers
from gateway.keys import Signer, load_or_create_key
from gateway.models import idempotency, infra
from gateway.ratelimit import RateLimiter, RateLimitMiddleware, TokenBuckets
from gateway.routes import auth, dashboard, docs, logins, proxy, webhooks
from gateway.routes.proxy import ForwardMiddleware
from gateway.webhooks import TargetPolicy
from shared.auth import TokenVerifier, audience_of
from shared.config import common, database_url_for
from shared.db import Database, ensure_database
from shared.edge import EdgeMiddleware
from shared.errors import install_problem_handlers, problem_response
from shared.logging import RequestIdMiddleware, configure_logging
from shared.messaging.inbox import ConsumerGroup
from shared.messaging.nats import NatsLink
from shared.migrate import upgrade
from shared.operations import operations_router
from shared.paths import RefuseOddPathMiddleware
from shared.service_app import DEFAULT_NATS_URL, settle_garbage_collector


def create_app() -> FastAPI:
    settings = Settings()
    env = common()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("gateway", json=env.shixun_log_json)
        url = database_url_for("gateway", settings.database_url)
        await ensure_database(url)
        database = Database(url)
        await upgrade(database, Path(__file__).parent / "migrations")
        key_file = settings.jwt_key_file or env.shixun_data_dir / "jwt-signing-key.pem"
        signer = Signer(
            load_or_create_key(key_file),
            issuer=env.shixun_jwt_issuer,
            audience=env.shixun_jwt_audience,
        )
        app.state.settings = settings
        app.state.rate_limiter = RateLimiter(settings.rate_limits(), TokenBuckets())
        app.state.database = database
        app.state.idempotency_table = idempotency
        app.state.signer = signer
        app.state.clients = ServiceClients.from_urls(
            settings.service_urls(),
            timeout=settings.upstream_timeout_seconds,
            limits=settings.upstream_limits(),
        )
        # The gateway verifies its own tokens with the same code the services use.
        app.state.verifier = TokenVerifier(
            jwks_url="/.well-known/jwks.json",
            issuer=env.shixun_jwt_issuer,
            audience=audience_of("gateway", env.shixun_jwt_audience),
            http=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw"),
        )
        link = NatsLink(
            env.nats_url or DEFAULT_NATS_URL,
            name="gateway",
            replicas=env.shixun_stream_replicas,
            namespace=env.shixun_nats_namespace,
        )
        link.start()
        consumers = ConsumerGroup(handlers, database, infra, link)
        consumers.start()
        login_consumers = ConsumerGroup(login_handlers, database, infra, link)
        login_consumers.start()
        app.state.nats = link
        app.state.consumers = consumers
        app.state.webhook_http = httpx.AsyncClient(follow_redirects=False)
        app.state.webhook_targets = TargetPolicy(allow_hosts=settings.webhook_hosts())
        dispatcher = WebhookDispatcher(
            database,
            app.state.webhook_http,
            targets=app.state.webhook_targets,
            poll_seconds=settings.webhook_poll_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
        )
        dispatcher.start()
        app.state.webhooks = dispatcher
        bootstrap = BootstrapSettings()
        if bootstrap.bootstrap_admin_password:
            async with database.sessions() as session:
                try:
                    await ensure_bootstrap_admin(
                        session,
                        username=bootstrap.bootstrap_admin_username,
                        password=bootstrap.bootstrap_admin_password,
                    )
                    await session.commit()
                except IntegrityError:
                    await session.rollback()  # another replica or worker made it just now
        settle_garbage_collector()
        try:
            yield
        finally:
            await dispatcher.stop()
            await login_consumers.stop()
            await consumers.stop()
            await link.close()
            await app.state.webhook_http.aclose()
            await app.state.clients.aclose()
            await database.dispose()

    app = FastAPI(
        title="shixun (师训) API",
        description="In-service teacher training management: programs, enrolment, hours, "
        "funds and evaluations, for education bureaus, schools, institutions and teachers.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(ForwardMiddleware)
    # Outside the forwarding, so a body beyond the limit or holding NUL is never forwarded.
    app.add_middleware(EdgeMiddleware, max_body=common().shixun_max_body_bytes)
    app.add_middleware(RefuseOddPathMiddleware)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(RequestIdMiddleware, service="gateway")
    # Outermost, so preflights and every answer (a 429 too) carry the CORS headers.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "If-None-Match",
            "If-Match",
            "traceparent",
            "tracestate",
            "X-Request-ID",
        ],
        expose_headers=["ETag", "Retry-After", "X-Request-ID", "Idempotent-Replayed", "Location"],
        max_age=600,
    )
    install_problem_handlers(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        """Ready when the gateway's own database answers; the services' state is reported."""
        checks: dict[str, str] = {}
        try:
            await request.app.state.database.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc.__class__.__name__}"

        async def probe(name: str) -> None:
            try:
                response = await request.app.state.clients[name].get("/readyz", timeout=2)
                checks[name] = "ok" if response.status_code == 200 else "not-ready"
            except httpx.HTTPError:
                checks[name] = "unreachable"

        await asyncio.gather(*(probe(n) for n in request.app.state.clients.clients))
        # Reported, not required: without NATS only webhooks wait; the API still answers.
        checks["nats"] = "ok" if request.app.state.nats.connected else "connecting"
        if checks["database"] == "ok":
            return JSONResponse({"status": "ready", "checks": checks})
        return problem_response(
            503,
            "Not ready",
            "The gateway database is not reachable.",
            code="not-ready",
            checks=checks,
        )

    app.include_router(auth.router)
    app.include_router(logins.router)
    app.include_router(dashboard.router)
    app.include_router(webhooks.router)
    app.include_router(docs.router)
    app.include_router(operations_router("gateway", infra, [handlers, login_handlers]))
    docs.mount_assets(app)
    app.include_router(proxy.router)
    return app
