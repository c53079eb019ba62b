"""Sends queued webhook deliveries: signed, retried with backoff, each attempt logged.

A delivery is claimed before it is sent (its next attempt moved past the send timeout), so
several gateway replicas never send the same one at once; a crash mid-send only delays it.
Delivery is at least once: receivers dedupe by `Shixun-Event-Id`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import httpx
import structlog
from sqlalchemy import select, update

from gateway import webhooks
from gateway.models import WebhookDelivery, WebhookSubscription
from gateway.policy import DEFAULT_RETRY, RetryPolicy
from shared.db import Database, utcnow
from shared.errors import Unprocessable
from shared.metrics import worker_ran

log = structlog.get_logger("webhooks")

NOT_DELIVERED = "not delivered: no answer from the target"
TARGET_REFUSED = "not delivered: the target is not a public internet address"


class WebhookDispatcher:
    def __init__(
        self,
        database: Database,
        http: httpx.AsyncClient,
        *,
        policy: RetryPolicy = DEFAULT_RETRY,
        targets: webhooks.TargetPolicy | None = None,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 10.0,
        batch: int = 50,
    ) -> None:
        self.database = database
        self.http = http
        self.targets = targets or webhooks.TargetPolicy()
        self.policy = policy
        self.poll_seconds = poll_seconds
        self.timeout = timeout_seconds
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.deliver_due()
                worker_ran("gateway", "webhooks", ok=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database hiccup must not end the dispatcher
                log.warning("webhook pass failed", error=repr(exc))
                worker_ran("gateway", "webhooks", ok=False)
                sent = 0
            if sent < self.batch:
                await asyncio.sleep(self.poll_seconds)

    async def _claim(self) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
        now = utcnow()
        lease = now + timedelta(seconds=self.timeout * 2)
        claimed = []
        async with self.database.sessions() as session:
            rows = (
                await session.execute(
                    select(WebhookDelivery, WebhookSubscription)
                    .join(WebhookSubscription)
                    .where(WebhookDelivery.status == "pending")
                    .where(WebhookSubscription.active.is_(True))
                    .where(WebhookDelivery.next_attempt_at <= now)
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
                    .limit(self.batch)
                )
            ).all()
            for delivery, subscription in rows:
                result = await session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery.id,
                        WebhookDelivery.next_attempt_at == delivery.next_attempt_at,
                    )
                    .values(next_attempt_at=lease)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append((delivery, subscription))
            await session.commit()
        return claimed

    async def deliver_due(self) -> int:
        """One pass: send what is due; the number of deliveries attempted."""
        claimed = await self._claim()
        await asyncio.gather(*(self._attempt(d, s) for d, s in claimed))
        return len(claimed)

    async def _attempt(self, delivery: WebhookDelivery, subscription: WebhookSubscription) -> None:
        timestamp = int(utcnow().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "shixun-webhooks/1",
            "Shixun-Event-Id": str(delivery.event_id),
            "Shixun-Event-Type": delivery.subject,
            "Shixun-Delivery-Id": str(delivery.id),
            webhooks.SIGNATURE_HEADER: webhooks.signature(
                subscription.secret, timestamp, delivery.payload
            ),
        }
        if delivery.traceparent:
            headers["traceparent"] = delivery.traceparent
        status_code: int | None = None
        error: str | None = None
        try:
            # Checked again at every delivery, and the checked address is the one connected
            # to: a name re-pointed at the gateway's network since subscription is refused.
            target = await self.targets.check(subscription.url)
            if target.host_header:
                headers["Host"] = target.host_header
            response = await self.http.post(
                target.url,
                content=delivery.payload.encode(),
                headers=headers,
                timeout=self.timeout,
                extensions={"sni_hostname": target.sni_hostname} if target.sni_hostname else {},
            )
            status_code = response.status_code
            if not response.is_success:
                error = f"HTTP {status_code}"
        except Unprocessable:
            error = TARGET_REFUSED
        except httpx.HTTPError as exc:
            # The log is the subscriber's to read: one text for every failure to connect or
            # read, so it never tells an open port from a closed one. Operators get the cause.
            log.info("webhook delivery not sent", delivery=str(delivery.id), error=repr(exc))
            error = NOT_DELIVERED
        attempts = delivery.attempts + 1
        values: dict[str, object] = {"attempts": attempts, "last_status_code": status_code}
        if error is None:
            values |= {"status": "delivered", "delivered_at": utcnow(), "last_error": None}
        elif attempts >= self.policy.max_attempts:
            values |= {"status": "failed", "last_error": error}
            log.warning("webhook delivery failed for good", delivery=str(delivery.id))
        else:
            delay = timedelta(seconds=self.policy.delay(attempts))
            values |= {"last_error": error, "next_attempt_at": utcnow() + delay}
        async with self.database.sessions() as session:
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values)
            )
            await session.commit()
