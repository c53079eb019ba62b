"""The gateway application."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from gateway.accounts import ensure_bootstrap_admin
from gateway.clients.services import ServiceClients
from gateway.config import BootstrapSettings, Settings
from gateway.dispatcher import WebhookDispatcher
from gateway.handlers import handlers, login_handlers
from gateway.keys import Signer, signing_key
from gateway.models import infra
from gateway.ratelimit import RateLimiter, RateLimitMiddleware, TokenBuckets
from gateway.routes import auth, dashboard, docs, logins, proxy, webhooks
from gateway.routes.proxy import ForwardMiddleware
from gateway.webhooks import TargetPolicy
from shared.auth import TokenVerifier, audience_of
from shared.config import common
from shared.edge import EdgeMiddleware
from shared.errors import install_problem_handlers, problem_response
from shared.logging import RequestIdMiddleware
from shared.operations import operations_router
from shared.paths import RefuseOddPathMiddleware
from shared.runtime import Consuming, JobFactory, Part, Resource, lifespan_of
from shared.service_app import operation_id


def gateway_part(settings: Settings) -> Part:
    # Read once a start: checked before anything is touched, then signed with.
    key = functools.cache(lambda: _signing_key(settings))
    return Part(
        name="gateway",
        migrations=Path(__file__).parent / "migrations",
        tables=infra,
        database_url=settings.database_url,
        # It looks logins up by keyed hashes of identity and phone numbers.
        uses_pii=True,
        # A replica without its signing key does not start, before it touches anything.
        checks=[key],
        consuming=Consuming(registries=(handlers, login_handlers)),
        resources=[_gateway_state(settings, key), _bootstrap_admin],
        jobs=[_webhook_dispatcher(settings)],
    )


def _signing_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    env = common()
    return signing_key(
        settings.jwt_key_file,
        data_dir=env.shixun_data_dir,
        production=env.shixun_env == "production",
    )


def _gateway_state(settings: Settings, key: Callable[[], ec.EllipticCurvePrivateKey]) -> Resource:
    @asynccontextmanager
    async def state(app: FastAPI) -> AsyncIterator[None]:
        env = common()
        app.state.settings = settings
        app.state.rate_limiter = RateLimiter(settings.rate_limits(), TokenBuckets())
        app.state.signer = Signer(
            key(), issuer=env.shixun_jwt_issuer, audience=env.shixun_jwt_audience
        )
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
        app.state.webhook_http = httpx.AsyncClient(follow_redirects=False)
        app.state.webhook_targets = TargetPolicy(allow_hosts=settings.webhook_hosts())
        try:
            yield
        finally:
            await app.state.webhook_http.aclose()
            await app.state.clients.aclose()

    return state


@asynccontextmanager
async def _bootstrap_admin(app: FastAPI) -> AsyncIterator[None]:
    bootstrap = BootstrapSettings()
    if bootstrap.bootstrap_admin_password:
        async with app.state.database.sessions() as session:
            try:
                await ensure_bootstrap_admin(
                    session,
                    username=bootstrap.bootstrap_admin_username,
                    password=bootstrap.bootstrap_admin_password,
                )
                await session.commit()
            except IntegrityError:
                await session.rollback()  # another replica or worker made it just now
    yield


def _webhook_dispatcher(settings: Settings) -> JobFactory:
    def make(app: FastAPI) -> WebhookDispatcher:
        app.state.webhooks = WebhookDispatcher(
            app.state.database,
            app.state.webhook_http,
            targets=app.state.webhook_targets,
            poll_seconds=settings.webhook_poll_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
        )
        return app.state.webhooks

    return make


def create_app() -> FastAPI:
    settings = Settings()

    app = FastAPI(
        title="shixun (师训) API",
        description="In-service teacher training management: programs, enrolment, hours, "
        "funds and evaluations, for education bureaus, schools, institutions and teachers.",
        version="0.1.0",
        lifespan=lifespan_of(gateway_part(settings)),
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        separate_input_output_schemas=False,
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
        """Liveness: the gateway process answers (no dependency is checked)."""
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
