"""Outbound webhooks: subscribe to event types, read the delivery log, unsubscribe."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from gateway import webhooks
from gateway.models import WebhookDelivery, WebhookSubscription
from gateway.schemas import DeliveryRead, WebhookCreate, WebhookCreated, WebhookRead
from shared.db import utcnow
from shared.deps import Caller, Idem, Paging, Session
from shared.errors import NotFound
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    request: Request, body: WebhookCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Deliveries are limited to the caller's scope: its district, or its school."""
    if replay := await idem.replay():
        return replay
    subscription = await webhooks.create_subscription(
        session,
        principal=caller,
        url=str(body.url),
        event_types=body.event_types,
        targets=request.app.state.webhook_targets,
    )
    return await idem.respond(201, WebhookCreated.model_validate(subscription))


@router.get("", response_model=Page[WebhookRead])
async def list_webhooks(session: Session, caller: Caller, paging: Paging) -> dict:
    """The caller's webhook subscriptions."""
    webhooks.may_subscribe(caller)
    query = select(WebhookSubscription).where(
        WebhookSubscription.owner == caller.subject, WebhookSubscription.active.is_(True)
    )
    rows = (await session.scalars(paginate(query, WebhookSubscription, paging))).all()
    return page_of(list(rows), paging, WebhookRead)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryRead])
async def list_deliveries(
    webhook_id: uuid.UUID, session: Session, caller: Caller, paging: Paging
) -> dict:
    """The delivery log, oldest first: status, attempts and the last error of each."""
    await webhooks.own_subscription(session, principal=caller, subscription_id=webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == webhook_id)
    rows = (await session.scalars(paginate(query, WebhookDelivery, paging))).all()
    return page_of(list(rows), paging, DeliveryRead)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryRead)
async def redeliver_webhook_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Queue a delivery again now, e.g. one that failed for good while the receiver was away."""
    if replay := await idem.replay():
        return replay
    await webhooks.own_subscription(session, principal=caller, subscription_id=webhook_id)
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != webhook_id:
        raise NotFound("No such delivery.", message="not-found.delivery")
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    await session.flush()
    return await idem.respond(200, DeliveryRead.model_validate(delivery))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: uuid.UUID, session: Session, caller: Caller) -> Response:
    """Stops deliveries; the log is kept."""
    subscription = await webhooks.own_subscription(
        session, principal=caller, subscription_id=webhook_id
    )
    subscription.active = False
    return Response(status_code=204)
