"""Outbound webhooks: subscribe to event types, read the delivery log, unsubscribe."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from gateway import webhooks
from gateway.models import WebhookDelivery, WebhookSubscription
from gateway.schemas import DeliveryRead, WebhookCreate, WebhookCreated, WebhookRead
from shared.deps import Caller, Idem, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    body: WebhookCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Deliveries are limited to the caller's scope: its district, or its school."""
    if replay := await idem.replay():
        return replay
    subscription = await webhooks.create_subscription(
        session, principal=caller, url=str(body.url), event_types=body.event_types
    )
    return await idem.respond(201, WebhookCreated.model_validate(subscription))


@router.get("", response_model=Page[WebhookRead])
async def list_webhooks(session: Session, caller: Caller, paging: Paging) -> dict:
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


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: uuid.UUID, session: Session, caller: Caller) -> Response:
    """Stops deliveries; the log is kept."""
    subscription = await webhooks.own_subscription(
        session, principal=caller, subscription_id=webhook_id
    )
    subscription.active = False
    return Response(status_code=204)
