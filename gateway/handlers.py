"""The gateway's consumer: turns events into webhook deliveries, and keeps the projections of
schools and teachers that tell which scope an event belongs to."""

from __future__ import annotations

import uuid

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import logins, webhooks
from gateway.models import KnownSchool, KnownTeacher, WebhookDelivery
from shared.db import utcnow
from shared.events import EVENT_TYPES, Event
from shared.events.enrolment import (
    SchoolRegistered,
    TeacherLoginsRequested,
    TeacherMobileChanged,
    TeacherRegistered,
    TeacherUpdated,
)
from shared.messaging.inbox import HandlerRegistry
from shared.telemetry import current_traceparent

handlers = HandlerRegistry(service="gateway")


async def _project(session: AsyncSession, event: Event) -> None:
    if isinstance(event, SchoolRegistered):
        await session.merge(KnownSchool(school_id=event.school_id, district_id=event.district_id))
    elif isinstance(event, TeacherRegistered | TeacherUpdated):
        await session.merge(
            KnownTeacher(
                teacher_id=event.teacher_id,
                school_id=event.school_id,
                district_id=event.district_id,
            )
        )


async def on_event(session: AsyncSession, event: Event) -> None:
    """Every event: project it, then queue one delivery per subscription whose scope it is in."""
    await _project(session, event)
    subscriptions = await webhooks.subscribers(session, event.subject)
    if not subscriptions:
        return
    scope = await webhooks.event_scope(session, event)
    if scope is None:
        return
    due = [s for s in subscriptions if webhooks.covers(s, scope)]
    if not due:
        return
    body = webhooks.delivery_body(event)
    now = utcnow()
    await session.execute(
        insert(WebhookDelivery),
        [
            {
                "id": uuid.uuid4(),
                "subscription_id": s.id,
                "event_id": event.event_id,
                "subject": event.subject,
                "payload": body,
                "traceparent": current_traceparent(),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for s in due
        ],
    )


for event_type in EVENT_TYPES.values():
    handlers.on(event_type)(on_event)

# Events with login identifiers are not offered to webhooks: they only make and keep logins,
# in a consumer of their own. A roster import puts 10,000 TeacherRegistered events before
# its last logins event on the stream; apart, the logins need not wait for the webhook
# projection to work through them.
for event_type in (TeacherLoginsRequested, TeacherMobileChanged):
    del handlers.handlers[event_type.subject]
login_handlers = HandlerRegistry(service="gateway-logins")
login_handlers.on(TeacherLoginsRequested)(logins.on_logins_requested)
login_handlers.on(TeacherMobileChanged)(logins.on_mobile_changed)
# In the same consumer, so a teacher renamed or moved right after asking for a login is
# applied after the login exists, never lost before it.
login_handlers.on(TeacherUpdated)(logins.on_teacher_updated)
