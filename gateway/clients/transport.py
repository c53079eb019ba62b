"""The gateway's calls to services over aiohttp's connection pool.

The gateway forwards every request of the API. httpx's own pool (httpcore) checks every
pooled connection for every request it places; in a 2,000-teacher rush that cost more CPU
than the rest of the gateway (py-spy, docs/performance.md). aiohttp's pool hands out a free
connection in constant time. Forwarding calls `exchange` with the request as it is; the
gateway's own calls (dashboard, docs, readiness) keep httpx's client API on top of it, so
the in-process test suite can put httpx's ASGI transport in the same place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
import httpx
from yarl import URL

# Set by aiohttp itself from the body and the URL.
_HOP_BY_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection"})

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Answer:
    """A service's answer: status, headers (names in lower case) and body."""

    status: int
    headers: Headers
    content: bytes


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, connections: int, keepalive_seconds: float) -> None:
        self._connections = connections
        self._keepalive = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the running event loop.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._connections, keepalive_timeout=self._keepalive
            ),
            auto_decompress=False,  # bodies pass through as the service sent them
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
        return self._session

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        *,
        connect_timeout: float | None,
        read_timeout: float | None,
    ) -> Answer:
        """One request sent as given (`url` already encoded). Failures are httpx's
        exceptions, so callers decide on retries in one way."""
        session = self._session or self._open()
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        try:
            async with session.request(
                method,
                URL(url, encoded=True),
                headers=[(k, v) for k, v in headers if k not in _HOP_BY_HOP],
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                content = await response.read()
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc)) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout("The service did not answer in time.") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.ReadError(str(exc)) from exc
        return Answer(
            response.status,
            [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.raw_headers],
            content,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limits = request.extensions.get("timeout", {})  # the client's or this request's
        try:
            answer = await self.exchange(
                request.method,
                str(request.url),
                list(request.headers.multi_items()),
                await request.aread(),
                connect_timeout=limits.get("connect"),
                read_timeout=limits.get("read"),
            )
        except httpx.RequestError as exc:
            exc.request = request
            raise
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.content, request=request
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)  # lets aiohttp close its sockets before the loop ends
