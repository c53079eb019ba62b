"""Helpers for budget tests: feed enrolment's events to budget's handlers, read its outbox."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import select

from services.budget.handlers import handlers
from services.budget.models import infra
from shared.auth import Role
from shared.config import DEFAULT_DISTRICT_ID
from shared.db import Database
from shared.events import Event
from shared.events.enrolment import ProgramTransitioned, SchoolRegistered
from shared.messaging.inbox import apply_once
from tests.harness import Suite

YEAR = 2026


def database(suite: Suite) -> Database:
    return suite.apps["budget"].state.database


async def apply(suite: Suite, event: Event) -> bool:
    """Apply an event to budget's handler for it, once, as the consumer would."""
    handler = handlers.handlers[event.subject]
    return await apply_once(database(suite), infra, "budget", handler, event)


async def new_school(suite: Suite, district_id: uuid.UUID = DEFAULT_DISTRICT_ID) -> uuid.UUID:
    school_id = uuid.uuid4()
    await apply(
        suite,
        SchoolRegistered(
            school_id=school_id, district_id=district_id, name="实验小学", stage="primary"
        ),
    )
    return school_id


async def new_program(suite: Suite, **fields: Any) -> uuid.UUID:
    values: dict[str, Any] = {
        "program_id": uuid.uuid4(),
        "district_id": DEFAULT_DISTRICT_ID,
        "institution_id": uuid.uuid4(),
        "school_id": None,
        "action": "publish",
        "from_status": "approved",
        "to_status": "published",
        "title": "小学数学骨干教师培训",
        "hours": "24.0",
        "mode": "centralized",
        "level": "district",
        "category": "self_selected",
        "starts_on": dt.date(YEAR, 9, 1),
        "ends_on": dt.date(YEAR, 9, 3),
        "cost_per_participant_fen": 0,
        "funded_by": None,
    }
    values.update(fields)
    await apply(suite, ProgramTransitioned(**values))
    return values["program_id"]


def bureau(suite: Suite) -> dict[str, str]:
    return suite.headers(Role.BUREAU_ADMIN)


async def create_fund(suite: Suite, body: dict, headers: dict | None = None) -> dict:
    response = await suite.direct["budget"].post(
        "/v1/funds", json=body, headers=headers or bureau(suite)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def school_pool(suite: Suite, school_id: uuid.UUID, amount_fen: int) -> dict:
    """A school pool of public funds holding exactly amount_fen (10 % of ten times it)."""
    return await create_fund(
        suite,
        {
            "fiscal_year": YEAR,
            "source": "public_funds",
            "school_id": str(school_id),
            "basis_fen": amount_fen * 10,
        },
    )


async def outbox_events(suite: Suite, subject: str) -> list[dict]:
    async with database(suite).sessions() as session:
        rows = await session.execute(
            select(infra.outbox.c.payload).where(infra.outbox.c.subject == subject)
        )
        return [json.loads(payload) for (payload,) in rows]


async def fund(suite: Suite, pool_id: str) -> dict:
    response = await suite.direct["budget"].get(f"/v1/funds/{pool_id}", headers=bureau(suite))
    assert response.status_code == 200, response.text
    return response.json()
