"""Tables of the gateway: accounts and refresh tokens."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import idempotency_table


class GatewayModel(SQLModel, registry=registry()):
    pass


idempotency = idempotency_table(GatewayModel.metadata)


class Account(GatewayModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=30)
    district_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    teacher_id: uuid.UUID | None = Field(default=None, index=True)
    scopes: str = Field(default="", max_length=500)
    disabled: bool = False
    failed_logins: int = 0
    locked_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False, default=utcnow)
    )


class RefreshToken(GatewayModel, table=True):
    __tablename__ = "refresh_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
