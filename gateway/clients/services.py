"""HTTP clients of the four services, one pooled client each."""

from __future__ import annotations

import httpx

SERVICES = ("enrolment", "ledger", "budget", "feedback")


class ServiceClients:
    def __init__(self, clients: dict[str, httpx.AsyncClient]) -> None:
        self.clients = clients

    @classmethod
    def from_urls(cls, urls: dict[str, str], *, timeout: float) -> ServiceClients:
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
        return cls(
            {
                name: httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits)
                for name, url in urls.items()
            }
        )

    def __getitem__(self, name: str) -> httpx.AsyncClient:
        return self.clients[name]

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
