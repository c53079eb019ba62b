"""Helpers of the ledger tests: teachers and ratings arrive as events, applied once."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.ledger.handlers import handlers
from shared.auth import Role
from shared.events import Event
from shared.events.enrolment import TeacherRegistered
from shared.events.feedback import RatingSubmitted
from shared.messaging.inbox import apply_once
from tests.harness import Suite


@dataclass
class District:
    """A district of its own per test, so policies and reports do not meet other tests."""

    suite: Suite
    id: uuid.UUID
    school_id: uuid.UUID

    @property
    def client(self) -> httpx.AsyncClient:
        return self.suite.direct["ledger"]

    def bureau(self) -> dict[str, str]:
        return self.suite.headers(Role.BUREAU_ADMIN, district_id=self.id)

    def school(self, school_id: uuid.UUID | None = None) -> dict[str, str]:
        return self.suite.headers(
            Role.SCHOOL_ADMIN, district_id=self.id, school_id=school_id or self.school_id
        )

    def teacher(self, teacher_id: uuid.UUID) -> dict[str, str]:
        return self.suite.headers(Role.TEACHER, district_id=self.id, teacher_id=teacher_id)

    async def apply(self, event: Event) -> None:
        app = self.suite.apps["ledger"]
        handler = handlers.handlers[event.subject]
        await apply_once(app.state.database, app.state.tables, "ledger", handler, event)

    async def register(
        self,
        *,
        school_id: uuid.UUID | None = None,
        stage: str = "primary",
        hired_on: dt.date | None = None,
        name: str = "李老师",
    ) -> uuid.UUID:
        teacher_id = uuid.uuid4()
        await self.apply(
            TeacherRegistered(
                teacher_id=teacher_id,
                school_id=school_id or self.school_id,
                district_id=self.id,
                name=name,
                stage=stage,
                subject_taught="语文",
                hired_on=hired_on,
            )
        )
        return teacher_id

    async def rate(self, teacher_id: uuid.UUID, program_id: uuid.UUID) -> None:
        await self.apply(
            RatingSubmitted(rating_id=uuid.uuid4(), program_id=program_id, teacher_id=teacher_id)
        )

    async def recognise(self, teacher_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
        body = {
            "teacher_id": str(teacher_id),
            "source": "manual_recognition",
            "reference": uuid.uuid4().hex,
            "hours": "10.0",
            "mode": "centralized",
            "level": "district",
            "category": "self_selected",
            "occurred_on": "2027-03-01",
            "description": "区级培训",
        } | fields
        response = await self.client.post("/v1/ledger/entries", json=body, headers=self.bureau())
        assert response.status_code == 201, response.text
        return response.json()

    async def hours(self, teacher_id: uuid.UUID, year: int = 2027, **kw: Any) -> dict[str, Any]:
        headers = kw.pop("headers", None) or self.bureau()
        response = await self.client.get(
            f"/v1/teachers/{teacher_id}/hours", params={"year": year}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def district(suite: Suite) -> District:
    return District(suite=suite, id=uuid.uuid4(), school_id=uuid.uuid4())


def requirement(summary: dict[str, Any], rule: str) -> dict[str, Any] | None:
    return next((r for r in summary["requirements"] if r["rule"] == rule), None)
