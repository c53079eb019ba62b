"""Waitlist policy as data, and property tests for the classic bugs of other systems:
raising capacity offers seats (never confirms them silently), the last seat goes to the next
in line, a capacity of 0 means none."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from services.enrolment.models import Enrolment, Program
from services.enrolment.policy import POLICY, local_midnight, offers_to_make
from tests.enrolment.conftest import World, ok

NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
FAR = dt.date(2027, 3, 1)
SLOW = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(
    free=st.integers(min_value=-3, max_value=50),
    outstanding=st.integers(min_value=0, max_value=10),
    cap=st.one_of(st.none(), st.integers(min_value=0, max_value=10)),
)
def test_offers_never_exceed_free_seats_nor_the_cap_and_none_without_seats(
    free: int, outstanding: int, cap: int | None
) -> None:
    policy = dataclasses.replace(
        POLICY, waitlist=dataclasses.replace(POLICY.waitlist, offers_at_once=cap)
    )
    n = offers_to_make(
        free_seats=free, outstanding_offers=outstanding, now=NOW, starts_on=FAR, policy=policy
    )
    assert 0 <= n <= max(free, 0)
    if cap is not None:
        assert n + outstanding <= max(cap, outstanding)
    if free <= 0:
        assert n == 0  # a capacity of 0 (or full) offers nobody anything


@given(hours_before=st.integers(min_value=0, max_value=23))
def test_no_offers_after_the_cutoff_before_the_start(hours_before: int) -> None:
    starts = local_midnight(FAR)
    late = starts - POLICY.waitlist.no_offers_before_start + dt.timedelta(hours=hours_before)
    assert offers_to_make(free_seats=5, outstanding_offers=0, now=late, starts_on=FAR) == 0
    early = starts - POLICY.waitlist.no_offers_before_start - dt.timedelta(seconds=1)
    assert offers_to_make(free_seats=5, outstanding_offers=0, now=early, starts_on=FAR) == 5


@SLOW
@given(waiting=st.integers(min_value=1, max_value=4), raised=st.integers(min_value=1, max_value=4))
async def test_raising_capacity_offers_seats_in_line_and_confirms_nobody_silently(
    world: World, waiting: int, raised: int
) -> None:
    school = await world.school()
    program = await world.program(await world.institution(), capacity=1)
    ok(await world.enrol(program, await world.teacher(school)), 201)
    queue = [
        ok(await world.enrol(program, await world.teacher(school)), 201) for _ in range(waiting)
    ]
    assert {e["status"] for e in queue} == {"waitlisted"}
    ok(
        await world.api.patch(
            f"/v1/programs/{program['id']}", headers=world.bureau, json={"capacity": 1 + raised}
        )
    )
    statuses = [(await world.enrolment(e["id"]))["status"] for e in queue]
    offered = min(waiting, raised)
    assert statuses == ["offered"] * offered + ["waitlisted"] * (waiting - offered)
    assert (await world.program_now(program["id"]))["seats_taken"] == 1 + offered


@SLOW
@given(waiting=st.integers(min_value=2, max_value=4), seats=st.integers(min_value=1, max_value=3))
async def test_the_last_seat_goes_to_the_next_in_line(
    world: World, waiting: int, seats: int
) -> None:
    school = await world.school()
    program = await world.program(await world.institution(), capacity=seats)
    holders = [
        ok(await world.enrol(program, await world.teacher(school)), 201) for _ in range(seats)
    ]
    queue = [
        ok(await world.enrol(program, await world.teacher(school)), 201) for _ in range(waiting)
    ]
    ok(await world.act(holders[-1], "withdraw"))  # the last seat comes free
    statuses = [(await world.enrolment(e["id"]))["status"] for e in queue]
    assert statuses == ["offered"] + ["waitlisted"] * (waiting - 1)


async def test_an_unclaimed_offer_goes_back_in_line_when_the_policy_says_requeue(
    world: World, monkeypatch
) -> None:
    from services.enrolment import waitlist

    requeue = dataclasses.replace(
        POLICY, waitlist=dataclasses.replace(POLICY.waitlist, unclaimed="requeue")
    )
    monkeypatch.setattr(waitlist, "POLICY", requeue)
    school = await world.school()
    program = await world.program(await world.institution(), capacity=1)
    holder = ok(await world.enrol(program, await world.teacher(school)), 201)
    first, second = [ok(await world.enrol(program, await world.teacher(school)), 201) for _ in "ab"]
    ok(await world.act(holder, "withdraw"))
    assert (await world.enrolment(first["id"]))["status"] == "offered"
    database = world.suite.apps["enrolment"].state.database
    async with database.sessions() as session:
        await session.execute(
            update(Enrolment)
            .where(Enrolment.id == uuid.UUID(first["id"]))
            .values(offer_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        assert await waitlist.expire_offers(session) == 1
        await session.commit()
    back = await world.enrolment(first["id"])
    assert (back["status"], back["waitlist_position"]) == ("waitlisted", 3)
    assert (await world.enrolment(second["id"]))["status"] == "offered"


async def test_a_capacity_of_0_draws_nobody_a_seat(world: World) -> None:
    from tests.enrolment.test_lottery import close, lottery_program, many_teachers

    school = await world.school()
    program = await lottery_program(world, capacity=1)
    for teacher in await many_teachers(world, school, 3):
        ok(await world.enrol(program, {"id": teacher}), 201)
    async with world.suite.apps["enrolment"].state.database.sessions() as session:
        await session.execute(
            update(Program).where(Program.id == uuid.UUID(program["id"])).values(capacity=0)
        )
        await session.commit()
    await close(world, program)
    draw = ok(await world.api.get(f"/v1/programs/{program['id']}/draw", headers=world.bureau))
    assert draw["confirmed"] == 0
    assert [e["outcome"] for e in draw["entries"]] == ["waitlisted"] * 3
    assert (await world.program_now(program["id"]))["seats_taken"] == 0
