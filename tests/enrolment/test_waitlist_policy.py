"""Waitlist policy as data, and property tests for the classic bugs of other systems:
raising capacity offers seats (never confirms them silently), the last seat goes to the next
in line, a capacity of 0 means none."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
