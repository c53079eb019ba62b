"""HTTP clients of the four services, one pooled client each."""

from __future__ import annotations

import asyncio

import httpx

SERVICES = ("enrolment", "ledger", "budget", "feedback")
# Requests in flight to one service. The rest wait in a FIFO semaphore: httpx's own pool
# slows down badly with thousands of queued requests (seen in a 2,000-request rush).
IN_FLIGHT = 100


class ServiceClients:
    def __init__(self, clients: dict[str, httpx.AsyncClient], in_flight: int = IN_FLIGHT) -> None:
        self.clients = clients
        self.slots = {name: asyncio.Semaphore(in_flight) for name in clients}

    @classmethod
    def from_urls(cls, urls: dict[str, str], *, timeout: float) -> ServiceClients:
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends: reusing one the
        # server is closing fails a request ("server disconnected") under a rush.
        limits = httpx.Limits(
            max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT, keepalive_expiry=2.0
        )
        return cls(
            {
                name: httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits)
                for name, url in urls.items()
            }
        )

    def __getitem__(self, name: str) -> httpx.AsyncClient:
        return self.clients[name]

    def slot(self, name: str) -> asyncio.Semaphore:
        return self.slots[name]

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
