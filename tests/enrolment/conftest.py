"""Helpers to build a district's directory and programs through the enrolment API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from shared.auth import Role
from tests.harness import Suite

TODAY = dt.date.today()
_day_offset = iter(range(3, 10_000, 3))


def fresh_dates() -> tuple[dt.date, dt.date]:
    """Run dates no other program of the test run uses (teachers may not hold overlaps)."""
    start = TODAY + dt.timedelta(days=10 + next(_day_offset) % 48)
    return start, start + dt.timedelta(days=1)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


class World:
    """A bureau acting on the enrolment service directly, plus tokens for other roles."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.api = suite.direct["enrolment"]
        self.bureau = suite.headers(Role.BUREAU_ADMIN)

    def school_admin(self, school: dict) -> dict[str, str]:
        return self.suite.headers(Role.SCHOOL_ADMIN, school_id=school["id"])

    def institution_admin(self, institution: dict) -> dict[str, str]:
        return self.suite.headers(Role.INSTITUTION_ADMIN, institution_id=institution["id"])

    def teacher_token(self, teacher: dict) -> dict[str, str]:
        return self.suite.headers(
            Role.TEACHER, school_id=teacher["school_id"], teacher_id=teacher["id"]
        )

    async def school(self, **fields: Any) -> dict:
        body = {"name": f"学校{uuid.uuid4().hex[:6]}", "stage": "primary"} | fields
        return ok(await self.api.post("/v1/schools", headers=self.bureau, json=body), 201)

    async def institution(self) -> dict:
        body = {"name": f"进修学校{uuid.uuid4().hex[:6]}"}
        return ok(await self.api.post("/v1/institutions", headers=self.bureau, json=body), 201)

    async def teacher(self, school: dict, **fields: Any) -> dict:
        body = {
            "name": f"老师{uuid.uuid4().hex[:4]}",
            "school_id": school["id"],
            "stage": "primary",
            "subject": "数学",
            "hired_on": "2010-09-01",
        } | fields
        return ok(await self.api.post("/v1/teachers", headers=self.bureau, json=body), 201)

    async def program(self, institution: dict, *, publish: bool = True, **fields: Any) -> dict:
        now = dt.datetime.now(dt.UTC)
        starts, ends = fresh_dates()
        body = {
            "title": f"项目{uuid.uuid4().hex[:6]}",
            "hours": "12.0",
            "capacity": 10,
            "mode": "centralized",
            "level": "district",
            "category": "self_selected",
            "selection": "first_come",
            "institution_id": institution["id"],
            "enrol_opens_at": (now - dt.timedelta(hours=1)).isoformat(),
            "enrol_closes_at": (now + dt.timedelta(days=7)).isoformat(),
            "starts_on": starts.isoformat(),
            "ends_on": ends.isoformat(),
        } | fields
        program = ok(await self.api.post("/v1/programs", headers=self.bureau, json=body), 201)
        if publish:
            for action in ("submit", "approve", "publish"):
                program = await self.move(program, action)
        return program

    async def move(self, program: dict, action: str, headers: dict | None = None) -> dict:
        return ok(
            await self.api.post(
                f"/v1/programs/{program['id']}/{action}", headers=headers or self.bureau
            )
        )

    async def enrol(
        self, program: dict, teacher: dict, headers: dict | None = None
    ) -> httpx.Response:
        return await self.api.post(
            f"/v1/programs/{program['id']}/enrolments",
            headers=headers or self.bureau,
            json={"teacher_id": teacher["id"]},
        )

    async def act(
        self, enrolment: dict, action: str, headers: dict | None = None, **body: Any
    ) -> httpx.Response:
        return await self.api.post(
            f"/v1/enrolments/{enrolment['id']}/{action}",
            headers=headers or self.bureau,
            json=body or None,
        )

    async def enrolment(self, enrolment_id: str) -> dict:
        return ok(await self.api.get(f"/v1/enrolments/{enrolment_id}", headers=self.bureau))

    async def program_now(self, program_id: str) -> dict:
        return ok(await self.api.get(f"/v1/programs/{program_id}", headers=self.bureau))


@pytest.fixture
def world(suite: Suite) -> World:
    return World(suite)
