"""A NATS connection that keeps trying: a service starts and serves while NATS is down."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from shared.messaging.streams import STREAMS, Namespace, ensure_stream

log = structlog.get_logger("nats")


class NatsLink:
    def __init__(self, url: str, *, name: str, replicas: int = 1, namespace: str = "") -> None:
        self.url = url
        self.namespace = Namespace(namespace)
        self.name = name
        self.replicas = replicas
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected and self.ready.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name=f"nats-connect-{self.name}")

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                self.nc = await nats.connect(
                    # A cluster's nodes, comma-separated: a node down at start is skipped.
                    [server.strip() for server in self.url.split(",")],
                    name=self.name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                self.js = self.nc.jetstream(timeout=5)
                await self._ensure_streams()
                self.ready.set()
                log.info("nats connected", url=self.url)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("nats not reachable yet", url=self.url, error=str(exc))
                if self.nc is not None:
                    with contextlib.suppress(Exception):
                        await self.nc.close()
                    self.nc = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _ensure_streams(self) -> None:
        assert self.js is not None
        for name in STREAMS:
            await ensure_stream(self.js, name, self.replicas, self.namespace)

    async def _on_error(self, exc: Exception) -> None:
        log.debug("nats error", error=str(exc))

    async def _on_disconnected(self) -> None:
        log.warning("nats disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats reconnected")
        # A restarted server without persisted state needs its streams again.
        with contextlib.suppress(Exception):
            await self._ensure_streams()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.nc is not None:
            # close, not drain: publishes are already acked by JetStream and unacked pulls are
            # redelivered; drain waits on pull subscriptions' queues (408 status messages are
            # never marked done) and so hung shutdown once a consumer had idled a few seconds.
            with contextlib.suppress(Exception):
                await self.nc.close()
        self.ready.clear()
