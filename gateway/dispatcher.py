"""Sends queued webhook deliveries: signed, retried with backoff, each attempt logged.

A delivery is claimed before it is sent (shared.worker.claim; its next attempt moved past
the send timeout), so several gateway replicas never send the same one at once; a crash
mid-send only delays it. The gateway's runtime runs it as a worker.
Delivery is at least once: receivers dedupe by `Shixun-Event-Id`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import structlog
from sqlalchemy import select, update

from gateway import webhooks
from gateway.models import WebhookDelivery, WebhookSubscription
from gateway.policy import DEFAULT_RETRY, RetryPolicy
from shared.db import Database, utcnow
from shared.errors import Unprocessable
from shared.worker import claim

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

    name = "webhook-deliveries"

    @property
    def interval(self) -> float:
        return self.poll_seconds

    async def run_once(self) -> bool:
        return await self.deliver_due() >= self.batch

    async def _claim(self) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
        now = utcnow()
        async with self.database.sessions() as session:
            ids = await claim(
                session,
                WebhookDelivery.id,
                where=[
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    WebhookDelivery.subscription_id.in_(
                        select(WebhookSubscription.id).where(WebhookSubscription.active.is_(True))
                    ),
                ],
                order_by=[WebhookDelivery.next_attempt_at, WebhookDelivery.created_at],
                limit=self.batch,
                # Leased past the send timeout: a crash mid-send only delays the delivery.
                values={"next_attempt_at": now + timedelta(seconds=self.timeout * 2)},
            )
            claimed = (
                (
                    await session.execute(
                        select(WebhookDelivery, WebhookSubscription)
                        .join(WebhookSubscription)
                        .where(WebhookDelivery.id.in_(ids))
                        .order_by(WebhookDelivery.created_at)
                    )
                ).all()
                if ids
                else []
            )
            await session.commit()
        return [(delivery, subscription) for delivery, subscription in claimed]

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
