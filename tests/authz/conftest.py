"""A small world with two sides for the matrix: what is "own" to a role and what is "foreign".

Side A: school A, teacher tA, institution I running program PI with tA enrolled.
Side B: school B, teacher tB, institution J running program PJ with tB enrolled.
Every role's token is of side A; its foreign cases use side B, except the bureau's, which
looks at side A from another district.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select

from gateway.policy import SCOPES
from services.feedback.models import (
    Attendee,
    EvaluationTask,
    InstitutionProjection,
    ProgramProjection,
    TeacherProjection,
)
from shared.auth import OPS_SCOPE, Principal, Role
from shared.config import DEFAULT_DISTRICT_ID
from shared.db import utcnow
from shared.events.enrolment import EnrolmentCompleted
from shared.events.ledger import EntryPosted
from tests.authz.matrix import Binding, Scope
from tests.authz.rules.enrolment import program_body
from tests.authz.rules.feedback import template_body
from tests.feedback.support import feed
from tests.harness import ADMIN_PASSWORD, Suite, wait_for

# Callers of another district, with ids of their own there.
FAR_SIDE = Binding(*(uuid.uuid4() for _ in range(6)))


@dataclass
class World:
    suite: Suite
    a: Binding
    b: Binding

    def principal(self, role: Role, side: Binding, *, district_id: uuid.UUID) -> Principal:
        """The same subject for the same role and side, so it owns what it created before."""
        claims: dict[str, Any] = {
            Role.TEACHER: {"teacher_id": side.teacher_id, "school_id": side.school_id},
            Role.SCHOOL_ADMIN: {"school_id": side.school_id},
            Role.INSTITUTION_ADMIN: {"institution_id": side.institution_id},
            Role.BUREAU_ADMIN: {"scopes": frozenset({OPS_SCOPE})},  # an operator too
            Role.SERVICE: {"school_id": side.school_id, "scopes": frozenset(SCOPES.scopes)},
        }[role]
        subject = f"matrix-{role}-{side.school_id}-{district_id}"
        return Principal(subject=subject, role=role, district_id=district_id, **claims)

    def headers(self, principal: Principal) -> dict[str, str]:
        token = self.suite.gateway_app.state.signer.access_token(principal, ttl_seconds=3600)
        return {"Authorization": f"Bearer {token}"}

    def case(self, role: Role, scope: Scope) -> tuple[dict[str, str], Binding]:
        a = self.a
        if scope is Scope.OTHER_DISTRICT:
            principal = self.principal(role, FAR_SIDE, district_id=FAR_SIDE.district_id)
        elif role is Role.BUREAU_ADMIN and scope is Scope.FOREIGN:
            principal = self.principal(role, a, district_id=FAR_SIDE.district_id)
        else:
            principal = self.principal(role, a, district_id=a.district_id)
        if scope is Scope.WITHOUT_GRANT:
            principal = replace(principal, scopes=frozenset())
        binding = self.b if scope is Scope.FOREIGN and role is not Role.BUREAU_ADMIN else a
        # Records owned by a caller rather than a scope: for the foreign side, side B's.
        owned = self.owned.get((role, self.b.school_id if binding is self.b else a.school_id), {})
        return self.headers(principal), replace(binding, extra={**binding.extra, **owned})

    owned: dict[tuple[Role, uuid.UUID], dict[str, Any]] = field(default_factory=dict)

    async def make_owned(self) -> None:
        """A webhook for each role that may have one, on both sides."""
        for side in (self.a, self.b):
            for role in Role:
                principal = self.principal(role, side, district_id=side.district_id)
                response = await self.suite.gateway.post(
                    "/v1/webhooks",
                    headers=self.headers(principal),
                    json={"url": "https://example.org/h", "event_types": [EntryPosted.subject]},
                )
                webhook_id = response.json()["id"] if response.status_code == 201 else uuid.uuid4()
                self.owned[(role, side.school_id)] = {"webhook_id": webhook_id}


async def _created(suite: Suite, path: str, headers: dict[str, str], body: dict | None) -> dict:
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
            "login": True,
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
    client = await _created(
        suite,
        "/v1/service-accounts",
        admin,
        {"name": f"矩阵{tag}系统", "scopes": ["hours:read"], "school_id": school["id"]},
    )
    return Binding(
        extra={"account_id": client["id"]},
        district_id=DEFAULT_DISTRICT_ID,
        school_id=provisional.school_id,
        teacher_id=provisional.teacher_id,
        institution_id=provisional.institution_id,
        program_id=uuid.UUID(program["id"]),
        enrolment_id=uuid.UUID(enrolment["id"]),
    )


async def _feedback_side(suite: Suite, side: Binding) -> Binding:
    """What feedback needs of a side: its projections, a follow-up, a school's template.

    Feedback learns of the side through enrolment's events. The trainee's completion is fed
    to it directly (enrolment completes only after the program's end), which gives the
    trainee follow-ups, not yet open, as R27 does after a completed training.
    """
    app = suite.apps["feedback"]

    async def projected() -> bool:
        async with app.state.database.sessions() as session:
            found = [
                await session.get(ProgramProjection, side.program_id),
                await session.get(Attendee, side.enrolment_id),
                await session.get(TeacherProjection, side.teacher_id),
                await session.get(InstitutionProjection, side.institution_id),
            ]
            return all(found)

    await wait_for(projected, timeout=30)
    async with app.state.database.sessions() as session:
        program = await session.get(ProgramProjection, side.program_id)
        assert program is not None
        ends_on, hours = program.ends_on, program.hours
    completed = EnrolmentCompleted(
        enrolment_id=side.enrolment_id,
        program_id=side.program_id,
        teacher_id=side.teacher_id,
        school_id=side.school_id,
        district_id=side.district_id,
        passed=True,
        attendance_rate=Decimal("1.0"),
        hours=hours,
        mode="centralized",
        level="district",
        category="self_selected",
        program_title="矩阵测试培训",
        completed_on=ends_on,
    )
    await feed(app, completed)
    async with app.state.database.sessions() as session:
        task_id = await session.scalar(
            select(EvaluationTask.id).where(
                EvaluationTask.enrolment_id == side.enrolment_id,
                EvaluationTask.kind == "follow_up_1m",
            )
        )
    assert task_id is not None
    school = Principal(
        subject=f"matrix-template-{side.school_id}",
        role=Role.SCHOOL_ADMIN,
        district_id=side.district_id,
        school_id=side.school_id,
    )
    token = suite.gateway_app.state.signer.access_token(school, ttl_seconds=3600)
    template = await _created(
        suite,
        "/v1/appraisal-templates",
        {"Authorization": f"Bearer {token}"},
        template_body(side),
    )
    return replace(side, extra={**side.extra, "task_id": task_id, "template_id": template["id"]})


@pytest.fixture(scope="session")
async def world(suite: Suite) -> World:
    admin = await suite.login("admin", ADMIN_PASSWORD)
    a = await _feedback_side(suite, await _side(suite, admin, "A"))
    b = await _feedback_side(suite, await _side(suite, admin, "B"))
    world = World(suite, a, b)
    await world.make_owned()
    await add_budget(world, admin)
    await ledger_world(world, admin)
    await add_enrolment_requests(world)
    await add_lottery_draws(world, admin)
    await add_id_number_conflict(world, admin)
    await add_logins(world)
    await add_dead_letters(world)
    return world


async def add_dead_letters(world: World) -> None:
    """An unreadable event dead-lettered in each part, its id as `dead_letter_<part>`."""
    from gateway.models import infra as gateway_infra

    suite = world.suite
    extra = {}
    for part in ("gateway", *suite.apps):
        app = suite.gateway_app if part == "gateway" else suite.apps[part]
        table = (gateway_infra if part == "gateway" else app.state.tables).dead_letter
        async with app.state.database.sessions() as session:
            result = await session.execute(
                insert(table).values(
                    consumer=part,
                    subject="enrolment.school.registered.v1",
                    payload="{not json",
                    error="unreadable event",
                    deliveries=1,
                    recorded_at=utcnow(),
                )
            )
            await session.commit()
        extra[f"dead_letter_{part}"] = result.inserted_primary_key[0]
    for name in ("a", "b"):
        side: Binding = getattr(world, name)
        setattr(world, name, replace(side, extra={**side.extra, **extra}))


async def add_logins(world: World) -> None:
    """The id of each side's teacher's login (made by the gateway from enrolment's event), as
    `login_id` in `extra`."""
    from gateway.models import Account

    database = world.suite.gateway_app.state.database
    for name in ("a", "b"):
        side: Binding = getattr(world, name)

        async def made(side: Binding = side) -> uuid.UUID | None:
            async with database.sessions() as session:
                return await session.scalar(
                    select(Account.id).where(Account.teacher_id == side.teacher_id)
                )

        login_id = await wait_for(made, timeout=30)
        setattr(world, name, replace(side, extra={**side.extra, "login_id": login_id}))


# --- enrolment: a leave request and a roster import per side ---


async def add_enrolment_requests(world: World) -> None:
    """A pending leave request of each side's trainee, filed by the trainee, and a roster
    import of each side's school, by its admin; their ids go into `extra` as `leave_id` and
    `roster_import_id`. The import's file has a header only: its job writes no teacher."""
    for name in ("a", "b"):
        side: Binding = getattr(world, name)
        teacher = world.headers(world.principal(Role.TEACHER, side, district_id=side.district_id))
        leave = await _created(
            world.suite,
            f"/v1/enrolments/{side.enrolment_id}/leave-requests",
            teacher,
            {"kind": "leave", "reason": "矩阵测试请假"},
        )
        school = world.headers(
            world.principal(Role.SCHOOL_ADMIN, side, district_id=side.district_id)
        )
        response = await world.suite.gateway.post(
            "/v1/teachers/imports",
            headers=school,
            files={"file": ("roster.csv", b"name,stage,subject\n", "text/csv")},
        )
        assert response.status_code in (200, 202), response.text
        extra = {"leave_id": leave["id"], "roster_import_id": response.json()["id"]}
        setattr(world, name, replace(side, extra={**side.extra, **extra}))


async def add_lottery_draws(world: World, admin: dict[str, str]) -> None:
    """A lottery program of each side's institution, published before its window and closed
    at once (a draw of nobody), its id as `lottery_program_id`; and a session of each side's
    program, as `session_id`."""
    for name in ("a", "b"):
        side: Binding = getattr(world, name)
        body = program_body(side) | {
            "selection": "lottery",
            "enrol_opens_at": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(),
        }
        program = await _created(world.suite, "/v1/programs", admin, body)
        for action in ("submit", "approve", "publish", "close-enrolment"):
            await _created(world.suite, f"/v1/programs/{program['id']}/{action}", admin, {})
        day = (dt.date.today() + dt.timedelta(days=10)).isoformat()
        held = await _created(
            world.suite,
            f"/v1/programs/{side.program_id}/sessions",
            admin,
            {
                "starts_at": f"{day}T09:00:00+08:00",
                "ends_at": f"{day}T11:00:00+08:00",
                "place": "报告厅",
            },
        )
        extra = {"lottery_program_id": program["id"], "session_id": held["id"]}
        setattr(world, name, replace(side, extra={**side.extra, **extra}))


async def add_id_number_conflict(world: World, admin: dict[str, str]) -> None:
    """School A's admin registers the identity number of a teacher of school B: a conflict
    held for the bureau; the held teacher's id goes into `extra` as `held_teacher_id`."""
    number = f"3202{uuid.uuid4().int % 10**13:013d}X"
    body = {"name": "矩阵同号", "stage": "primary", "subject": "数学", "id_number": number}
    await _created(
        world.suite, "/v1/teachers", admin, {**body, "school_id": str(world.b.school_id)}
    )
    school = world.headers(
        world.principal(Role.SCHOOL_ADMIN, world.a, district_id=world.a.district_id)
    )
    held = await _created(
        world.suite, "/v1/teachers", school, {**body, "school_id": str(world.a.school_id)}
    )
    for name in ("a", "b"):
        side: Binding = getattr(world, name)
        setattr(world, name, replace(side, extra={**side.extra, "held_teacher_id": held["id"]}))


# --- budget: pools and a program budget (the budget service's records) ---

BUDGET_YEAR = 2090  # far from the years other tests open pools for


async def add_budget(world: World, admin: dict[str, str]) -> None:
    """The bureau's payroll pool, a public-funds pool per school and a budget for each side's
    program, paid from the bureau's pool; their ids go into `extra` as `bureau_pool_id` and
    `pool_id` (the side's school pool)."""
    from services.budget.models import ProgramProjection, SchoolProjection
    from tests.harness import wait_for

    suite = world.suite
    database = suite.apps["budget"].state.database

    async def projected(side: Binding) -> bool:
        async with database.sessions() as session:
            school = await session.get(SchoolProjection, side.school_id)
            program = await session.get(ProgramProjection, side.program_id)
            return school is not None and program is not None

    for side in (world.a, world.b):
        await wait_for(lambda side=side: projected(side))
    bureau = await _created(
        suite,
        "/v1/funds",
        admin,
        {"fiscal_year": BUDGET_YEAR, "source": "payroll", "basis_fen": 100_000_000_00},
    )
    for name in ("a", "b"):
        side: Binding = getattr(world, name)
        pool = await _created(
            suite,
            "/v1/funds",
            admin,
            {
                "fiscal_year": BUDGET_YEAR,
                "source": "public_funds",
                "school_id": str(side.school_id),
                "basis_fen": 1_000_000_00,
            },
        )
        response = await suite.gateway.put(
            f"/v1/programs/{side.program_id}/budget",
            headers=admin,
            json={"pool_id": bureau["id"], "lines": {"transport": 1000_00}},
        )
        assert response.status_code == 200, response.text
        extra = {"bureau_pool_id": bureau["id"], "pool_id": pool["id"]}
        setattr(world, name, replace(side, extra={**side.extra, **extra}))


async def ledger_world(world: World, admin: dict[str, str]) -> None:
    """Ledger records: a school-based entry per side, a policy and an import of the district."""
    suite, extra = world.suite, {}
    for side in (world.a, world.b):
        hours = f"/v1/teachers/{side.teacher_id}/hours"

        async def projected(hours: str = hours) -> bool:
            return (await suite.gateway.get(hours, headers=admin)).status_code == 200

        await wait_for(projected)  # the ledger learns of teachers from enrolment's events
        body = {
            "teacher_id": str(side.teacher_id),
            "source": "school_based",
            "reference": f"matrix-world-{uuid.uuid4().hex}",
            "hours": "4.0",
            "mode": "school_based",
            "level": "school",
            "category": "mandatory",
            "occurred_on": dt.date.today().isoformat(),
            "description": "矩阵校本研修",
        }
        entry = await _created(suite, "/v1/ledger/entries", admin, body)
        extra[side.school_id] = {"entry_id": entry["id"]}
    policy = await _created(
        suite, "/v1/policies", admin, {"effective_from": "2099-01-01", "note": "矩阵", "rules": {}}
    )
    csv = (
        "record_id,teacher_id,hours,mode,level,category,occurred_on,description\n"
        f"matrix-{uuid.uuid4().hex},{world.a.teacher_id},1.0,online,district,self_selected,"
        f"{dt.date.today().isoformat()},矩阵导入\n"
    )
    response = await suite.gateway.post(
        "/v1/ledger/imports",
        headers={**admin, "Content-Type": "text/csv"},
        content=csv.encode(),
    )
    assert response.status_code == 202, response.text
    batch = await _created(suite, "/v1/ledger/province/batches", admin, None)
    shared = {
        "policy_id": policy["id"],
        "import_id": response.json()["id"],
        "batch_id": batch["id"],
    }
    world.a = replace(world.a, extra={**world.a.extra, **extra[world.a.school_id], **shared})
    world.b = replace(world.b, extra={**world.b.extra, **extra[world.b.school_id], **shared})
