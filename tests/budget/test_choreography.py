"""Money follows enrolment: enrolment's events applied to budget's handlers (and one over
NATS). A pool is never overspent and a duplicate event never moves money twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select

from services.budget.models import Commitment
from shared.auth import Role
from shared.config import DEFAULT_DISTRICT_ID
from shared.events.enrolment import (
    EnrolmentCompleted,
    EnrolmentFundingRequested,
    EnrolmentWithdrawn,
)
from tests.budget.conftest import (
    YEAR,
    apply,
    database,
    fund,
    new_program,
    new_school,
    outbox_events,
    school_pool,
)
from tests.harness import Suite, wait_for

COST = 1_200_00


def requested(school: uuid.UUID, program: uuid.UUID, **extra: object) -> EnrolmentFundingRequested:
    values: dict = {
        "enrolment_id": uuid.uuid4(),
        "program_id": program,
        "teacher_id": uuid.uuid4(),
        "school_id": school,
        "district_id": DEFAULT_DISTRICT_ID,
        "amount_fen": COST,
        "fiscal_year": YEAR,
    }
    return EnrolmentFundingRequested(**(values | extra))


def completed(request: EnrolmentFundingRequested, attendance: str = "0.9") -> EnrolmentCompleted:
    return EnrolmentCompleted(
        enrolment_id=request.enrolment_id,
        program_id=request.program_id,
        teacher_id=request.teacher_id,
        school_id=request.school_id,
        district_id=request.district_id,
        passed=True,
        attendance_rate=Decimal(attendance),
        hours=Decimal("24.0"),
        mode="centralized",
        level="district",
        category="self_selected",
        program_title="培训",
        completed_on=dt.date(YEAR, 9, 3),
    )


def withdrawn(request: EnrolmentFundingRequested) -> EnrolmentWithdrawn:
    return EnrolmentWithdrawn(
        enrolment_id=request.enrolment_id,
        program_id=request.program_id,
        teacher_id=request.teacher_id,
        school_id=request.school_id,
        district_id=request.district_id,
        reason="leave approved",
    )


async def answers(suite: Suite, enrolment_id: uuid.UUID) -> list[str]:
    found = []
    for subject in ("budget.funding.reserved.v1", "budget.funding.refused.v1"):
        for event in await outbox_events(suite, subject):
            if event["enrolment_id"] == str(enrolment_id):
                found.append(subject.split(".")[2])
    return found


async def setup(suite: Suite, seats: int) -> tuple[uuid.UUID, uuid.UUID, dict, uuid.UUID]:
    institution = uuid.uuid4()
    school = await new_school(suite)
    program = await new_program(
        suite, institution_id=institution, cost_per_participant_fen=COST, funded_by="school"
    )
    pool = await school_pool(suite, school, COST * seats)
    return school, program, pool, institution


async def test_r22_enrolment_commits_withdrawal_releases_completion_owes_institution(
    suite: Suite,
) -> None:
    school, program, pool, institution = await setup(suite, seats=2)
    first, second, third = (requested(school, program) for _ in range(3))
    for request in (first, second, third):
        assert await apply(suite, request)
    assert [await answers(suite, r.enrolment_id) for r in (first, second, third)] == [
        ["reserved"],
        ["reserved"],
        ["refused"],
    ]
    (refusal,) = [
        e
        for e in await outbox_events(suite, "budget.funding.refused.v1")
        if e["enrolment_id"] == str(third.enrolment_id)
    ]
    assert refusal["available_fen"] == 0 and "needs 120000 fen" in refusal["reason"]
    state = await fund(suite, pool["id"])
    assert (state["available_fen"], state["committed_fen"]) == (0, 2 * COST)

    await apply(suite, withdrawn(first))
    state = await fund(suite, pool["id"])
    assert (state["available_fen"], state["committed_fen"]) == (COST, COST)

    await apply(suite, completed(second))
    state = await fund(suite, pool["id"])
    assert (state["committed_fen"], state["payable_fen"], state["spent_fen"]) == (0, COST, COST)
    accounts = (
        await suite.direct["budget"].get(
            f"/v1/programs/{program}/final-accounts", headers=suite.headers(Role.BUREAU_ADMIN)
        )
    ).json()
    assert (accounts["participants_paid_for"], accounts["payable_to_institution_fen"]) == (1, COST)

    payment = {"id": str(uuid.uuid4()), "institution_id": str(institution), "amount_fen": COST}
    url = f"/v1/funds/{pool['id']}/payments"
    headers = suite.headers(Role.SCHOOL_ADMIN, school_id=school)
    too_much = await suite.direct["budget"].post(
        url, headers=headers, json=payment | {"id": str(uuid.uuid4()), "amount_fen": COST + 1}
    )
    assert too_much.status_code == 422 and too_much.json()["payable_fen"] == COST
    paid = await suite.direct["budget"].post(url, headers=headers, json=payment)
    assert paid.status_code == 201 and paid.json()["payable_left_fen"] == 0
    again = await suite.direct["budget"].post(url, headers=headers, json=payment)
    assert again.status_code == 200
    state = await fund(suite, pool["id"])
    assert (state["payable_fen"], state["paid_fen"], state["available_fen"]) == (0, COST, COST)

    entries = (
        await suite.direct["budget"].get(f"/v1/funds/{pool['id']}/journal", headers=headers)
    ).json()["items"]
    assert [t["kind"] for t in entries] == [
        "fund",
        "commitment",
        "commitment",
        "release",
        "payable",
        "payment",
    ]
    assert all(sum(p["amount_fen"] for p in t["postings"]) == 0 for t in entries)
    assert entries[3]["reverses_id"] == entries[1]["id"]
    other = suite.headers(Role.SCHOOL_ADMIN, school_id=uuid.uuid4())
    hidden = await suite.direct["budget"].get(f"/v1/funds/{pool['id']}/journal", headers=other)
    assert hidden.status_code == 403


async def test_no_show_completion_releases_instead_of_owing(suite: Suite) -> None:
    school, program, pool, _ = await setup(suite, seats=1)
    request = requested(school, program)
    await apply(suite, request)
    await apply(suite, completed(request, attendance="0"))
    state = await fund(suite, pool["id"])
    assert (state["available_fen"], state["payable_fen"]) == (COST, 0)


async def test_school_without_pool_or_with_a_negative_cost_is_refused(suite: Suite) -> None:
    school = await new_school(suite)
    request = requested(school, uuid.uuid4())
    await apply(suite, request)
    (refusal,) = [
        e
        for e in await outbox_events(suite, "budget.funding.refused.v1")
        if e["enrolment_id"] == str(request.enrolment_id)
    ]
    assert "no training fund pool for 2026" in refusal["reason"]
    school, program, pool, _ = await setup(suite, seats=1)
    negative = requested(school, program, amount_fen=-COST)
    await apply(suite, negative)
    assert await answers(suite, negative.enrolment_id) == ["refused"]
    assert (await fund(suite, pool["id"]))["available_fen"] == COST


async def test_duplicate_event_never_moves_money_twice(suite: Suite) -> None:
    school, program, pool, _ = await setup(suite, seats=3)
    request = requested(school, program)
    assert await apply(suite, request) is True
    assert await apply(suite, request) is False  # the inbox knows this event
    # The same request again under a new event id gets the same answer and moves nothing.
    assert await apply(suite, request.model_copy(update={"event_id": uuid.uuid4()}))
    assert await answers(suite, request.enrolment_id) == ["reserved", "reserved"]
    assert (await fund(suite, pool["id"]))["committed_fen"] == COST
    for _ in range(2):
        await apply(suite, withdrawn(request).model_copy(update={"event_id": uuid.uuid4()}))
        await apply(suite, completed(request).model_copy(update={"event_id": uuid.uuid4()}))
    state = await fund(suite, pool["id"])
    assert (state["available_fen"], state["committed_fen"], state["payable_fen"]) == (
        3 * COST,
        0,
        0,
    )


async def test_concurrent_requests_never_overspend_a_pool(suite: Suite) -> None:
    school, program, pool, _ = await setup(suite, seats=5)
    requests = [requested(school, program) for _ in range(20)]
    await asyncio.gather(*(apply(suite, r) for r in requests))
    outcomes = [await answers(suite, r.enrolment_id) for r in requests]
    assert sorted(o[0] for o in outcomes) == ["refused"] * 15 + ["reserved"] * 5
    state = await fund(suite, pool["id"])
    assert (state["available_fen"], state["committed_fen"]) == (0, 5 * COST)


async def test_funding_request_over_nats_is_answered(suite: Suite) -> None:
    school, program, pool, _ = await setup(suite, seats=1)
    request = requested(school, program)
    link = suite.apps["budget"].state.nats
    await link.js.publish(
        link.namespace.subject(request.subject),
        request.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(request.event_id)},
    )

    async def committed() -> Commitment | None:
        async with database(suite).sessions() as session:
            return await session.scalar(
                select(Commitment).where(Commitment.enrolment_id == request.enrolment_id)
            )

    commitment = await wait_for(committed)
    assert commitment.amount_fen == COST and commitment.pool_id == uuid.UUID(pool["id"])
    assert await answers(suite, request.enrolment_id) == ["reserved"]


async def test_withdrawal_before_its_request_leaves_no_money_held(suite: Suite) -> None:
    # A failed delivery is retried later, so a withdrawal may overtake its funding request.
    school, program, pool, _ = await setup(suite, seats=2)
    request = requested(school, program)
    await apply(suite, withdrawn(request))
    await apply(suite, request)
    assert await answers(suite, request.enrolment_id) == ["refused"]
    state = await fund(suite, pool["id"])
    assert (state["available_fen"], state["committed_fen"]) == (2 * COST, 0)
