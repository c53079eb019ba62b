"""Webhook subscriptions: who may subscribe to what, which events reach whom, and signatures.

A subscription inherits its owner's scope (district, and school if the owner is bound to
one); an event reaches it only if the event belongs to that scope, so an integrator never
receives another school's facts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import KnownSchool, KnownTeacher, WebhookSubscription
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.events import EVENT_TYPES, Event

SIGNATURE_HEADER = "Shixun-Signature"


@dataclass(frozen=True)
class EventScope:
    district_id: uuid.UUID
    school_id: uuid.UUID | None


class ScopeNotYetKnown(Exception):
    """The event names a teacher or school the gateway has not heard of yet; retried later."""


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (A and AAAA), by the system's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address on the public internet: not loopback, private, link-local (cloud metadata),
    shared, reserved, multicast or unspecified, also when an IPv4 one hides in IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_link_local
        or address.is_loopback
        or address.is_private
        or address.is_unspecified
    )


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the URL to request, and the Host / TLS name to present."""

    url: str
    host_header: str | None = None
    sni_hostname: str | None = None


@dataclass
class TargetPolicy:
    """Which webhook URLs the gateway may call (SSRF): public https endpoints, checked by
    the addresses their names resolve to at subscription and again at every delivery, and
    the checked address pinned for the connection, so a name cannot be re-pointed at the
    gateway's own network in between (DNS rebinding).

    `allow_hosts` (SHIXUN_GATEWAY_WEBHOOK_ALLOW_HOSTS, empty by default) names hosts the
    operator trusts, such as a school system on the bureau's network: they may use http and
    private addresses and are called by name."""

    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = system_resolver

    async def check(self, url: str) -> Target:
        """The target of a URL, or Unprocessable `webhook-url` if it may not be called."""
        parsed = urlsplit(url)
        host = (parsed.hostname or "").lower().rstrip(".")
        if host in self.allow_hosts:
            return Target(url)
        if parsed.scheme != "https":
            raise Unprocessable("A webhook URL must use https.", code="webhook-url")
        refused = Unprocessable(
            "A webhook URL must name a public internet host.", code="webhook-url"
        )
        if not host:
            raise refused
        try:
            addresses = [
                ipaddress.ip_address(a.split("%", 1)[0])
                for a in await self._resolve(host, parsed.port or 443)
            ]
        except (OSError, UnicodeError, ValueError) as exc:
            raise refused from exc
        # Every address must be public: a resolver may hand out any of them.
        if not addresses or not all(is_public(a) for a in addresses):
            raise refused
        pinned = addresses[0]
        netloc = f"[{pinned}]" if pinned.version == 6 else str(pinned)
        if parsed.port:
            netloc += f":{parsed.port}"
        return Target(
            urlunsplit(parsed._replace(netloc=netloc)),
            host_header=parsed.netloc.rsplit("@", 1)[-1],
            sni_hostname=host,
        )

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]  # a literal address resolves to itself
        except ValueError:
            return await self.resolver(host, port)


# Events that carry login identifiers (keyed hashes) never leave the suite.
WEBHOOK_EVENT_TYPES = frozenset(s for s, e in EVENT_TYPES.items() if e.webhook)


def may_subscribe(principal: Principal) -> None:
    if principal.role is Role.SERVICE:
        principal.require_scope("events:subscribe")
    elif principal.role not in (Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN):
        raise Forbidden("Webhooks are for the bureau, schools and their systems.")
    if principal.district_id is None:
        raise Forbidden("A webhook needs a district in scope.")


async def create_subscription(
    session: AsyncSession,
    *,
    principal: Principal,
    url: str,
    event_types: list[str],
    targets: TargetPolicy,
) -> WebhookSubscription:
    may_subscribe(principal)
    await targets.check(url)
    unknown = sorted(set(event_types) - WEBHOOK_EVENT_TYPES)
    if unknown:
        raise Unprocessable(
            f"Unknown event types: {', '.join(unknown)}.",
            code="unknown-event-type",
            known=sorted(WEBHOOK_EVENT_TYPES),
        )
    assert principal.district_id is not None
    subscription = WebhookSubscription(
        owner=principal.subject,
        district_id=principal.district_id,
        school_id=principal.school_id,
        url=url,
        secret=secrets.token_urlsafe(32),
        event_types=" ".join(sorted(set(event_types))),
    )
    session.add(subscription)
    await session.flush()
    return subscription


async def own_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID
) -> WebhookSubscription:
    may_subscribe(principal)  # a client whose events:subscribe was taken away loses its hooks
    subscription = await session.get(WebhookSubscription, subscription_id)
    if subscription is None or subscription.owner != principal.subject:
        raise NotFound("No such webhook.", message="not-found.webhook")
    return subscription


def covers(subscription: WebhookSubscription, scope: EventScope) -> bool:
    if scope.district_id != subscription.district_id:
        return False
    return subscription.school_id is None or subscription.school_id == scope.school_id


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


async def event_scope(session: AsyncSession, event: Event) -> EventScope | None:
    """Where an event belongs, from its own fields or the teacher/school it names.

    None: the event names no owner (it reaches no subscription rather than every one).
    """
    district = _uuid(getattr(event, "district_id", None))
    school = _uuid(getattr(event, "school_id", None))
    teacher = _uuid(getattr(event, "teacher_id", None))
    if district is not None:
        return EventScope(district, school)
    if teacher is not None:
        known = await session.get(KnownTeacher, teacher)
        if known is None:
            raise ScopeNotYetKnown(f"teacher {teacher}")
        return EventScope(known.district_id, known.school_id)
    if school is not None:
        known_school = await session.get(KnownSchool, school)
        if known_school is None:
            raise ScopeNotYetKnown(f"school {school}")
        return EventScope(known_school.district_id, school)
    return None


async def subscribers(session: AsyncSession, subject: str) -> list[WebhookSubscription]:
    """Active subscriptions to a subject, read once per transaction (a consumer's batch)."""
    known = session.info.setdefault("webhook_subscribers", {})
    if subject not in known:
        rows = await session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.active.is_(True),
                WebhookSubscription.event_types.contains(subject),
            )
        )
        # contains() is a substring match; the exact check keeps a.b.v1 from matching xa.b.v1.
        known[subject] = [s for s in rows if subject in s.event_types.split()]
    return known[subject]


def delivery_body(event: Event) -> str:
    return json.dumps(
        {
            "event_id": str(event.event_id),
            "type": event.subject,
            "occurred_at": event.occurred_at.isoformat(),
            "data": json.loads(event.model_dump_json()),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def signature(secret: str, timestamp: int, body: str) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is signed too,
    so a receiver can refuse replays older than a few minutes."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: str, *, tolerance: int = 300) -> bool:
    """What a receiver does (documented in docs/gateway.md; used by the tests' receiver)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(utcnow().timestamp() - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, header)
