"""Events published by the ledger service (stream LEDGER, subjects ledger.>)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import ClassVar

from shared.events.base import Event


class LedgerEvent(Event):
    stream: ClassVar[str] = "LEDGER"


class EntryPosted(LedgerEvent):
    subject: ClassVar[str] = "ledger.entry.posted.v1"
    entry_id: uuid.UUID
    teacher_id: uuid.UUID
    hours: Decimal
    source: str
    source_ref: str
    mode: str
    level: str
    category: str
    year: int
    occurred_on: dt.date
    program_id: uuid.UUID | None = None
