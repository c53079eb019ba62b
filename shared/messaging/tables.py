"""The messaging and idempotency tables every service keeps in its own database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
)

from shared.db import UtcDateTime

# SQLite only autoincrements an INTEGER PRIMARY KEY.
SEQ = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class InfraTables:
    outbox: Table
    relay_lease: Table
    inbox: Table
    dead_letter: Table
    idempotency: Table


def infrastructure_tables(metadata: MetaData) -> InfraTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("seq", SEQ, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        Column("headers", Text, nullable=False, server_default="{}"),
        Column("created_at", UtcDateTime, nullable=False),
        Column("published_at", UtcDateTime, nullable=True),
    )
    Index("ix_outbox_published_at", outbox.c.published_at, outbox.c.seq)
    relay_lease = Table(
        "relay_lease",
        metadata,
        Column("name", String(50), primary_key=True),
        Column("owner", String(100), nullable=False),
        Column("until", UtcDateTime, nullable=False),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("subject", String(200), nullable=False),
        Column("processed_at", UtcDateTime, nullable=False),
        PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )
    dead_letter = Table(
        "dead_letter",
        metadata,
        Column("id", SEQ, primary_key=True, autoincrement=True),
        Column("consumer", String(100), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("event_id", String(64), nullable=True),
        Column("payload", Text, nullable=False),
        Column("error", Text, nullable=False),
        Column("deliveries", Integer, nullable=False),
        Column("recorded_at", UtcDateTime, nullable=False),
    )
    return InfraTables(outbox, relay_lease, inbox, dead_letter, idempotency_table(metadata))


def idempotency_table(metadata: MetaData) -> Table:
    """Stored responses of requests sent with an Idempotency-Key."""
    return Table(
        "idempotency_key",
        metadata,
        Column("principal", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        PrimaryKeyConstraint("principal", "key", name="pk_idempotency_key"),
    )
