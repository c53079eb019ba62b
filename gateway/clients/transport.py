"""httpx's client API over aiohttp's connection pool, for the gateway's calls to services.

The gateway forwards every request of the API. httpx's own pool (httpcore) checks every
pooled connection for every request it places; in a 2,000-teacher rush that cost more CPU
than the rest of the gateway (py-spy, docs/performance.md). aiohttp's pool hands out a free
connection in constant time. Callers keep httpx's types and exceptions, so the in-process
test suite can put httpx's ASGI transport in the same place.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx

# Set by aiohttp itself from the body and the URL.
_HOP_BY_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection"})


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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        headers = [(k, v) for k, v in request.headers.multi_items() if k not in _HOP_BY_HOP]
        # httpx's timeouts of the client or of this request (connect, read, write, pool).
        limits = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=limits.get("connect"), sock_read=limits.get("read")
        )
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=await request.aread() or None,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                content = await response.read()
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout("The service did not answer in time.", request=request) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.ReadError(str(exc), request=request) from exc
        return httpx.Response(
            response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            content=content,
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)  # lets aiohttp close its sockets before the loop ends
