"""Tables of the gateway: accounts, refresh tokens, webhook subscriptions and deliveries."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import infrastructure_tables


class GatewayModel(SQLModel, registry=registry()):
    pass


# The gateway publishes nothing, but it consumes events for webhooks: inbox and dead letters.
infra = infrastructure_tables(GatewayModel.metadata)
idempotency = infra.idempotency


class Account(GatewayModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    # Empty until the first password is set: such a login opens only with its activation code.
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=30)
    district_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    teacher_id: uuid.UUID | None = Field(default=None, index=True)
    scopes: str = Field(default="", max_length=500)
    label: str | None = Field(default=None, max_length=200)
    disabled: bool = False
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False, default=utcnow)
    )
    # A teacher's login: the name to show, and the keyed hashes (shared.pii.lookup_hash) of the
    # identity and mobile numbers the teacher logs in with, from enrolment's events.
    name: str | None = Field(default=None, max_length=100)
    id_number_hash: str | None = Field(default=None, max_length=64, unique=True)
    id_number_masked: str | None = Field(default=None, max_length=32)
    mobile_hash: str | None = Field(default=None, max_length=64, unique=True)
    mobile_masked: str | None = Field(default=None, max_length=32)
    # The one-time activation code, only as its keyed hash; issued_at is when it was handed out
    # (null: never, so the next code sheet includes the account), used_at when it set a password.
    activation_hash: str | None = Field(default=None, max_length=64)
    activation_issued_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    activation_expires_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    activation_used_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class LoginLock(GatewayModel, table=True):
    """Failed logins of one account from one source address, and the lock they earned
    (gateway/lockout.py): a lock holds for that address only."""

    __tablename__ = "login_lock"

    account_id: uuid.UUID = Field(foreign_key="account.id", primary_key=True)
    source: str = Field(max_length=64, primary_key=True)
    failures: int = 0
    last_failure_at: dt.datetime = Field(sa_type=UtcDateTime)
    locked_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class RefreshToken(GatewayModel, table=True):
    __tablename__ = "refresh_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class WebhookSubscription(GatewayModel, table=True):
    """An integrator's endpoint for some event types, bounded by its owner's scope."""

    __tablename__ = "webhook_subscription"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner: str = Field(max_length=200, index=True)
    district_id: uuid.UUID
    school_id: uuid.UUID | None = None
    url: str = Field(max_length=2000)
    # Kept readable: every delivery is signed with it (HMAC-SHA256).
    secret: str = Field(max_length=100)
    event_types: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = True
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False, default=utcnow)
    )


class WebhookDelivery(GatewayModel, table=True):
    """One event for one subscription: the delivery log, and the queue of what is still due."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id", index=True)
    event_id: uuid.UUID
    subject: str = Field(max_length=200)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    traceparent: str | None = Field(default=None, max_length=100)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_type=UtcDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False, default=utcnow)
    )


class KnownSchool(GatewayModel, table=True):
    """Projection of enrolment's schools: which district an event naming a school belongs to."""

    __tablename__ = "known_school"

    school_id: uuid.UUID = Field(primary_key=True)
    district_id: uuid.UUID


class KnownTeacher(GatewayModel, table=True):
    """Projection of enrolment's teachers: the scope of events that name only a teacher."""

    __tablename__ = "known_teacher"

    teacher_id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID
    district_id: uuid.UUID


class OidcLogin(GatewayModel, table=True):
    """A federated login under way: what the callback needs, kept here and never in the
    browser (the PKCE verifier must stay with the relying party). Used once."""

    __tablename__ = "oidc_login"

    state: str = Field(primary_key=True, max_length=64)
    nonce: str = Field(max_length=64)
    code_verifier: str = Field(max_length=128)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)
