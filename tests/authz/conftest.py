"""A small world with two sides for the matrix: what is "own" to a role and what is "foreign".

Side A: school A, teacher tA, institution I running program PI with tA enrolled.
Side B: school B, teacher tB, institution J running program PJ with tB enrolled.
Every role's token is of side A; its foreign cases use side B, except the bureau's, which
looks at side A from another district.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.policy import SCOPES
from shared.auth import Role
from shared.config import DEFAULT_DISTRICT_ID
from tests.authz.matrix import Binding, Scope
from tests.authz.rules.enrolment import program_body
from tests.harness import ADMIN_PASSWORD, Suite


@dataclass
class World:
    suite: Suite
    a: Binding
    b: Binding

    def case(self, role: Role, scope: Scope) -> tuple[dict[str, str], Binding]:
        a = self.a
        district = a.district_id
        if role is Role.BUREAU_ADMIN and scope is Scope.FOREIGN:
            district = uuid.uuid4()
        claims: dict[str, Any] = {
            Role.TEACHER: {"teacher_id": a.teacher_id, "school_id": a.school_id},
            Role.SCHOOL_ADMIN: {"school_id": a.school_id},
            Role.INSTITUTION_ADMIN: {"institution_id": a.institution_id},
            Role.BUREAU_ADMIN: {},
            Role.SERVICE: {"school_id": a.school_id, "scopes": frozenset(SCOPES.scopes)},
        }[role]
        headers = self.suite.headers(role, district_id=district, **claims)
        binding = self.b if scope is Scope.FOREIGN and role is not Role.BUREAU_ADMIN else a
        return headers, binding


async def _created(suite: Suite, path: str, headers: dict[str, str], body: dict) -> dict:
    response = await suite.gateway.post(path, headers=headers, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _side(suite: Suite, admin: dict[str, str], tag: str) -> Binding:
    school = await _created(
        suite, "/v1/schools", admin, {"name": f"矩阵{tag}小学", "stage": "primary"}
    )
    institution = await _created(suite, "/v1/institutions", admin, {"name": f"矩阵{tag}机构"})
    teacher = await _created(
        suite,
        "/v1/teachers",
        admin,
        {
            "name": f"教师{tag}",
            "school_id": school["id"],
            "stage": "primary",
            "subject": "数学",
            "hired_on": (dt.date.today() - dt.timedelta(days=3000)).isoformat(),
        },
    )
    provisional = Binding(
        district_id=DEFAULT_DISTRICT_ID,
        school_id=uuid.UUID(school["id"]),
        teacher_id=uuid.UUID(teacher["id"]),
        institution_id=uuid.UUID(institution["id"]),
        program_id=uuid.uuid4(),
        enrolment_id=uuid.uuid4(),
    )
    program = await _created(suite, "/v1/programs", admin, program_body(provisional))
    for action in ("submit", "approve", "publish"):
        await _created(suite, f"/v1/programs/{program['id']}/{action}", admin, {})
    enrolment = await _created(
        suite, f"/v1/programs/{program['id']}/enrolments", admin, {"teacher_id": teacher["id"]}
    )
    return Binding(
        district_id=DEFAULT_DISTRICT_ID,
        school_id=provisional.school_id,
        teacher_id=provisional.teacher_id,
        institution_id=provisional.institution_id,
        program_id=uuid.UUID(program["id"]),
        enrolment_id=uuid.UUID(enrolment["id"]),
    )


@pytest.fixture(scope="session")
async def world(suite: Suite) -> World:
    admin = await suite.login("admin", ADMIN_PASSWORD)
    a = await _side(suite, admin, "A")
    b = await _side(suite, admin, "B")
    return World(suite, a, b)
