"""The whole suite in one process: four services and the gateway over real NATS and databases.

HTTP between the gateway and the services goes through ASGI transports instead of sockets;
everything else (databases, migrations, NATS, relays, consumers, JWT verification) is real.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from gateway.app import create_app as create_gateway
from gateway.clients.services import ServiceClients
from services.budget.app import create_app as create_budget
from services.enrolment.app import create_app as create_enrolment
from services.feedback.app import create_app as create_feedback
from services.ledger.app import create_app as create_ledger
from shared.auth import Principal, Role
from shared.config import DEFAULT_DISTRICT_ID

SERVICE_FACTORIES: dict[str, Callable[[], FastAPI]] = {
    "enrolment": create_enrolment,
    "ledger": create_ledger,
    "budget": create_budget,
    "feedback": create_feedback,
}
ADMIN_PASSWORD = "admin-password-for-tests"

T = TypeVar("T")


def asgi_client(app: FastAPI, base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base, timeout=60)


class Suite:
    def __init__(self) -> None:
        self.apps: dict[str, FastAPI] = {}
        self.direct: dict[str, httpx.AsyncClient] = {}
        self._stack = AsyncExitStack()

    async def start(self, services: tuple[str, ...] = tuple(SERVICE_FACTORIES)) -> None:
        self.gateway_app = create_gateway()
        await self._stack.enter_async_context(
            LifespanManager(self.gateway_app, startup_timeout=60, shutdown_timeout=30)
        )
        self.gateway = asgi_client(self.gateway_app, "http://gateway")
        for name in services:
            app = SERVICE_FACTORIES[name]()
            await self._stack.enter_async_context(
                LifespanManager(app, startup_timeout=60, shutdown_timeout=30)
            )
            app.state.verifier.use_http(asgi_client(self.gateway_app, "http://gateway"))
            self.apps[name] = app
            self.direct[name] = asgi_client(app, f"http://{name}")
        await self.gateway_app.state.clients.aclose()
        self.gateway_app.state.clients = ServiceClients(
            {name: asgi_client(app, f"http://{name}") for name, app in self.apps.items()}
        )
        for app in self.apps.values():
            await wait_for(lambda app=app: app.state.nats.connected, timeout=20)

    async def stop(self) -> None:
        await self._stack.aclose()

    def token(self, role: Role, **scope: Any) -> str:
        scope.setdefault("district_id", DEFAULT_DISTRICT_ID)
        principal = Principal(subject=f"test-{uuid.uuid4().hex[:8]}", role=role, **scope)
        return self.gateway_app.state.signer.access_token(principal, ttl_seconds=3600)

    def headers(self, role: Role = Role.BUREAU_ADMIN, **scope: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **scope)}"}

    async def login(self, username: str, password: str) -> dict[str, str]:
        response = await self.gateway.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def wait_for(
    check: Callable[[], Any | Awaitable[Any]], *, timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll until check() returns something truthy; the value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
