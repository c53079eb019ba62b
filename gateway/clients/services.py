"""HTTP clients of the four services: one pooled client each, a bound on requests in flight,
a quick 503 when a service is saturated, and one retry of a request that never reached it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from gateway.clients.transport import AiohttpTransport, Answer, Headers
from shared.errors import Problem

SERVICES = ("enrolment", "ledger", "budget", "feedback")
# Idle connections are dropped long before the services' own keep-alive ends
# (shared/serve.py, SERVER_KEEP_ALIVE), so a request is never sent on a connection the
# server is closing.
KEEPALIVE_EXPIRY = 30.0
# Methods that may be sent twice; other requests only with an Idempotency-Key.
SAFE_TO_REPEAT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class UpstreamLimits:
    """Requests in flight to one service; beyond them, requests wait in FIFO order at most
    `queue_seconds` (and at most `queue` of them) before the gateway answers 503."""

    # Enough for a service to fill its statement batches (shared/statement_batch.py): at 64
    # the gateway's rush waited on its own queue with both cores a third idle.
    in_flight: int = 256
    queue: int = 2000
    queue_seconds: float = 5.0


class Overloaded(Problem):
    status, code, title = 503, "overloaded", "Service busy"

    def __init__(self, service: str, retry_after: int) -> None:
        super().__init__(
            f"The {service} service is busy; retry in {retry_after} s with the same "
            "Idempotency-Key.",
            service=service,
        )
        self.headers = {"Retry-After": str(retry_after)}


class _Slots:
    """A FIFO semaphore that refuses rather than queueing without bound."""

    def __init__(self, name: str, limits: UpstreamLimits) -> None:
        self.name = name
        self.limits = limits
        self.semaphore = asyncio.Semaphore(limits.in_flight)
        self.waiting = 0

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        retry_after = max(1, round(self.limits.queue_seconds))
        if self.semaphore.locked() and self.waiting >= self.limits.queue:
            raise Overloaded(self.name, retry_after)
        self.waiting += 1
        try:
            async with asyncio.timeout(self.limits.queue_seconds):
                await self.semaphore.acquire()
        except TimeoutError:
            raise Overloaded(self.name, retry_after) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self.semaphore.release()


class ServiceClients:
    def __init__(
        self,
        clients: dict[str, httpx.AsyncClient],
        limits: UpstreamLimits | None = None,
        *,
        transports: dict[str, AiohttpTransport] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.clients = clients
        self.limits = limits or UpstreamLimits()
        self.slots = {name: _Slots(name, self.limits) for name in clients}
        # Forwarding goes straight to aiohttp where there is a pool of sockets; the
        # in-process test suite has only httpx clients over ASGI.
        self.transports = transports or {}
        self.base_urls = {name: str(c.base_url).rstrip("/") for name, c in clients.items()}
        self.timeout = timeout

    @classmethod
    def from_urls(
        cls, urls: dict[str, str], *, timeout: float, limits: UpstreamLimits | None = None
    ) -> ServiceClients:
        limits = limits or UpstreamLimits()
        transports = {
            name: AiohttpTransport(connections=limits.in_flight, keepalive_seconds=KEEPALIVE_EXPIRY)
            for name in urls
        }
        clients = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout, transport=transports[name])
            for name, url in urls.items()
        }
        return cls(clients, limits, transports=transports, timeout=timeout)

    def __getitem__(self, name: str) -> httpx.AsyncClient:
        return self.clients[name]

    async def exchange(
        self, service: str, method: str, target: str, headers: Headers, body: bytes
    ) -> Answer:
        """Forward a request (`target`: the encoded path and query) within the service's
        slots; once more if the first try never reached it."""
        async with self.slots[service].hold():
            try:
                return await self._exchange(service, method, target, headers, body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                if not _may_repeat(method, headers, exc):
                    raise
                return await self._exchange(service, method, target, headers, body)

    async def _exchange(
        self, service: str, method: str, target: str, headers: Headers, body: bytes
    ) -> Answer:
        transport = self.transports.get(service)
        if transport is None:
            response = await self.clients[service].request(
                method, target, headers=headers, content=body
            )
            return Answer(response.status_code, response.headers.multi_items(), response.content)
        return await transport.exchange(
            method,
            self.base_urls[service] + target,
            headers,
            body,
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
        )

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def _may_repeat(method: str, headers: Headers, exc: httpx.HTTPError) -> bool:
    """A connection that failed to open carried nothing. A pooled connection closed under us
    ("server disconnected") may have carried the request, so only a request that is safe
    to send twice goes again."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return True
    return method in SAFE_TO_REPEAT or any(k == "idempotency-key" for k, _ in headers)
