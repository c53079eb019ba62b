"""The opening minute of selection: 2,000 concurrent requests for programs of 50 seats."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from sqlalchemy import func, select

from services.enrolment.models import Enrolment, ProgramQuota, Teacher
from shared.config import DEFAULT_DISTRICT_ID
from tests.enrolment.conftest import World, ok

SEATS = 50


async def bulk_teachers(world: World, schools: list[dict], count: int) -> list[dict]:
    """Many teachers at once, written straight to the table (the API is not under test here)."""
    app = world.suite.apps["enrolment"]
    rows = [
        Teacher(
            district_id=DEFAULT_DISTRICT_ID,
            school_id=uuid.UUID(schools[i % len(schools)]["id"]),
            name=f"抢课{i}",
            stage="primary",
            subject="数学",
            roles=[],
        )
        for i in range(count)
    ]
    async with app.state.database.sessions() as session:
        session.add_all(rows)
        await session.commit()
    return [{"id": str(t.id), "school_id": str(t.school_id)} for t in rows]


async def test_rush_gives_exactly_the_seats_no_teacher_twice_no_quota_exceeded(
    world: World,
) -> None:
    institution = await world.institution()
    open_program = await world.program(institution, capacity=SEATS)
    quota_program = await world.program(institution, capacity=SEATS)
    schools = [await world.school() for _ in range(6)]
    # Five schools share the quota program's seats; the sixth has no quota there.
    quotas = {s["id"]: SEATS // 5 for s in schools[:5]}
    ok(
        await world.api.put(
            f"/v1/programs/{quota_program['id']}/quotas",
            headers=world.bureau,
            json={"quotas": [{"school_id": k, "seats": v} for k, v in quotas.items()]},
        )
    )
    open_teachers = await bulk_teachers(world, schools, 1_100)
    quota_teachers = await bulk_teachers(world, schools, 800)
    # Each teacher with its own token, each press with its own Idempotency-Key; 100 teachers
    # press the button twice on the open program.
    requests = (
        [(open_program, t) for t in open_teachers]
        + [(open_program, t) for t in open_teachers[:100]]
        + [(quota_program, t) for t in quota_teachers]
    )
    assert len(requests) == 2_000
    keys = [uuid.uuid4().hex for _ in requests]
    tokens = {t["id"]: world.teacher_token(t) for t in open_teachers + quota_teachers}

    def press(program: dict, teacher: dict, key: str):
        headers = tokens[teacher["id"]] | {"Idempotency-Key": key}
        return world.enrol(program, teacher, headers=headers)

    responses = await asyncio.gather(
        *(press(p, t, k) for (p, t), k in zip(requests, keys, strict=True))
    )

    outcomes = Counter()
    for (program, _), response in zip(requests, responses, strict=True):
        body = response.json()
        if response.status_code == 201:
            outcomes[(program["id"], body["status"])] += 1
        else:
            assert response.status_code == 409, response.text
            assert body["detail"], "a refusal says why"
            outcomes[(program["id"], body["type"].rsplit("/", 1)[-1])] += 1

    assert outcomes[(open_program["id"], "confirmed")] == SEATS
    assert outcomes[(open_program["id"], "waitlisted")] == 1_100 - SEATS
    assert outcomes[(open_program["id"], "already-enrolled")] == 100
    assert outcomes[(quota_program["id"], "confirmed")] == SEATS
    assert outcomes[(quota_program["id"], "r3-quota-full")] == 800 - SEATS

    # The app retries 200 presses that were answered 201 (a timeout on the phone): each gets
    # the first answer again, and nothing changes (the counts below are the rush's).
    placed = [i for i, r in enumerate(responses) if r.status_code == 201][::5][:200]
    assert len(placed) == 200
    retries = await asyncio.gather(*(press(*requests[i], keys[i]) for i in placed))
    for i, again in zip(placed, retries, strict=True):
        assert again.status_code == 201
        assert again.json() == responses[i].json()
        assert again.headers["idempotent-replayed"] == "true"

    app = world.suite.apps["enrolment"]
    async with app.state.database.sessions() as session:
        for program in (open_program, quota_program):
            pid = uuid.UUID(program["id"])
            twice = await session.scalar(
                select(func.count()).select_from(
                    select(Enrolment.teacher_id)
                    .where(Enrolment.program_id == pid)
                    .group_by(Enrolment.teacher_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
            assert twice == 0
            confirmed = await session.scalar(
                select(func.count()).where(
                    Enrolment.program_id == pid, Enrolment.status == "confirmed"
                )
            )
            assert confirmed == SEATS
        per_school = dict(
            (
                await session.execute(
                    select(Enrolment.school_id, func.count())
                    .where(
                        Enrolment.program_id == uuid.UUID(quota_program["id"]),
                        Enrolment.status == "confirmed",
                    )
                    .group_by(Enrolment.school_id)
                )
            ).all()
        )
        assert {str(k): v for k, v in per_school.items()} == quotas
        taken = dict(
            (
                await session.execute(
                    select(ProgramQuota.school_id, ProgramQuota.seats_taken).where(
                        ProgramQuota.program_id == uuid.UUID(quota_program["id"])
                    )
                )
            ).all()
        )
        assert {str(k): v for k, v in taken.items()} == quotas
    for program in (open_program, quota_program):
        assert (await world.program_now(program["id"]))["seats_taken"] == SEATS


async def test_a_teacher_pressing_overlapping_programs_at_once_gets_only_one(
    world: World,
) -> None:
    """The same days offered five times: every teacher presses all five at the same moment,
    and ends up holding one of them, the others refused as overlapping."""
    institution = await world.institution()
    first = await world.program(institution, capacity=100)
    same_days = {"starts_on": first["starts_on"], "ends_on": first["ends_on"]}
    programs = [first] + [
        await world.program(institution, capacity=100, **same_days) for _ in range(4)
    ]
    teachers = await bulk_teachers(world, [await world.school()], 30)
    tokens = {t["id"]: world.teacher_token(t) for t in teachers}
    presses = [(p, t) for t in teachers for p in programs]
    responses = await asyncio.gather(
        *(world.enrol(p, t, headers=tokens[t["id"]]) for p, t in presses)
    )
    held: Counter[str] = Counter()
    for (_, teacher), response in zip(presses, responses, strict=True):
        if response.status_code == 201:
            held[teacher["id"]] += 1
        else:
            assert response.status_code == 409, response.text
            assert response.json()["type"].endswith("overlapping-program")
    assert held == {t["id"]: 1 for t in teachers}


async def test_the_fast_lane_answers_as_the_route_does_without_reaching_it(
    world: World, monkeypatch
) -> None:
    """On PostgreSQL a press with a valid token and a well-formed body is answered below
    FastAPI (services/enrolment/fast_lane.py), with the route's answers, replays and
    problems; the route still takes a refused token, a bad body, and everything on SQLite."""
    import datetime as dt

    app = world.suite.apps["enrolment"]
    lane = not app.state.database.sqlite
    reached: list[str] = []
    routed = app.router.middleware_stack

    async def counting(scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith("/enrolments"):
            reached.append(scope["path"])
        await routed(scope, receive, send)

    monkeypatch.setattr(app.router, "middleware_stack", counting)
    institution = await world.institution()
    # Both run today: a program of next term would go the ORM way for R6 (fresh_dates can
    # reach next term from December on, depending on how many programs ran before).
    today = {"starts_on": dt.date.today().isoformat(), "ends_on": dt.date.today().isoformat()}
    program = await world.program(institution, capacity=1, **today)
    now = dt.datetime.now(dt.UTC)
    closed = await world.program(
        institution,
        enrol_opens_at=(now - dt.timedelta(days=2)).isoformat(),
        enrol_closes_at=(now - dt.timedelta(minutes=1)).isoformat(),
        **today,
    )
    school = await world.school()
    first, second = await world.teacher(school), await world.teacher(school)
    token, other = world.teacher_token(first), world.teacher_token(second)
    keyed = token | {"Idempotency-Key": "press-1"}

    created = await world.enrol(program, first, headers=keyed)
    assert created.status_code == 201 and created.json()["status"] == "confirmed"
    again = await world.enrol(program, first, headers=keyed)
    assert again.status_code == 201 and again.json() == created.json()
    assert again.headers["idempotent-replayed"] == "true"
    reused = await world.api.post(
        f"/v1/programs/{closed['id']}/enrolments", headers=keyed, json={"teacher_id": first["id"]}
    )
    assert reused.status_code == 409
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    shut = await world.enrol(closed, second, headers=other)  # a rule refuses
    assert shut.status_code == 409, shut.text
    assert shut.headers["content-type"].startswith("application/problem+json")
    assert shut.json()["instance"] == f"/v1/programs/{closed['id']}/enrolments"
    waitlisted = await world.enrol(program, second, headers=other)
    assert waitlisted.status_code == 201 and waitlisted.json()["status"] == "waitlisted"
    assert len(reached) == (0 if lane else 5)
    # A body or a token the route would refuse still gets the route's answer.
    bad = await world.api.post(
        f"/v1/programs/{program['id']}/enrolments", headers=token, json={"teacher_id": "x"}
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("/validation")
    forged = await world.enrol(program, first, headers={"Authorization": "Bearer x.y.z"})
    assert forged.status_code == 401 and forged.headers["www-authenticate"] == "Bearer"
    assert len(reached) == (2 if lane else 7)
