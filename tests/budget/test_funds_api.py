"""Fund pools through HTTP: R19 and R20 sizing, the schools' share, scope, idempotency."""

from __future__ import annotations

import asyncio
import uuid

from shared.auth import Role
from tests.budget.conftest import YEAR, bureau, create_fund, fund, new_school, school_pool
from tests.harness import Suite


async def test_r19_payroll_pool_is_computed_and_records_its_rule(suite: Suite) -> None:
    client = suite.direct["budget"]
    year = YEAR + 10
    pool = await create_fund(
        suite, {"fiscal_year": year, "source": "payroll", "basis_fen": 200_000_000_00}
    )
    assert pool["amount_fen"] == 6_000_000_00  # 3 % of payroll
    assert pool["school_share_fen"] == 4_200_000_00  # 70 % of it for schools
    assert (pool["rule"], pool["policy_version"]) == ("R19.bureau_payroll", "seed-000/1")
    assert pool["available_fen"] == 6_000_000_00
    again = await client.post(
        "/v1/funds",
        headers=bureau(suite),
        json={"fiscal_year": year, "source": "payroll", "basis_fen": 1},
    )
    assert again.status_code == 409, again.text
    other = await create_fund(
        suite,
        {
            "fiscal_year": year + 1,
            "source": "payroll",
            "basis_fen": 200_000_000_00,
            "policy_version": "seed-004/1",
        },
    )
    assert other["amount_fen"] == 3_000_000_00 and other["policy_version"] == "seed-004/1"


async def test_r19_bureau_passes_on_no_more_than_the_schools_share(suite: Suite) -> None:
    client = suite.direct["budget"]
    year = YEAR + 20
    parent = await create_fund(
        suite, {"fiscal_year": year, "source": "payroll", "basis_fen": 1_000_000_00}
    )
    assert parent["amount_fen"] == 30_000_00 and parent["school_share_fen"] == 21_000_00
    first, second = await new_school(suite), await new_school(suite)

    def allocation(school: uuid.UUID, amount: int) -> dict:
        return {
            "fiscal_year": year,
            "source": "bureau_allocation",
            "school_id": str(school),
            "parent_pool_id": parent["id"],
            "amount_fen": amount,
        }

    child = await create_fund(suite, allocation(first, 15_000_00))
    assert child["rule"] == "R19.school_share" and child["available_fen"] == 15_000_00
    refused = await client.post(
        "/v1/funds", headers=bureau(suite), json=allocation(second, 6_000_01)
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["available_fen"] == 6_000_00
    after = await fund(suite, parent["id"])
    assert after["available_fen"] == 15_000_00 and after["allocated_to_schools_fen"] == 15_000_00
    await create_fund(suite, allocation(second, 6_000_00))
    assert (await fund(suite, parent["id"]))["available_fen"] == 9_000_00


async def test_r20_school_pool_at_least_the_minimum_share_of_public_funds(suite: Suite) -> None:
    client = suite.direct["budget"]
    school = await new_school(suite)
    headers = suite.headers(Role.SCHOOL_ADMIN, school_id=school)
    body = {
        "fiscal_year": YEAR,
        "source": "public_funds",
        "school_id": str(school),
        "basis_fen": 500_000_00,
        "amount_fen": 49_999_99,
    }
    refused = await client.post("/v1/funds", headers=headers, json=body)
    assert refused.status_code == 422 and refused.json()["minimum_fen"] == 50_000_00
    stray = await client.post(
        "/v1/funds", headers=headers, json=body | {"parent_pool_id": str(uuid.uuid4())}
    )
    assert stray.status_code == 422 and "上级经费池" in stray.json()["detail"]
    assert (await client.get("/v1/funds", headers=headers)).json()["items"] == []
    body["amount_fen"] = 60_000_00
    pool = await create_fund(suite, body, headers=headers)
    assert pool["amount_fen"] == 60_000_00 and pool["rule"] == "R20.school_public_funds"
    del body["amount_fen"]
    body["fiscal_year"] = YEAR + 1
    assert (await create_fund(suite, body, headers=headers))["amount_fen"] == 50_000_00


async def test_funds_are_seen_only_in_scope(suite: Suite) -> None:
    client = suite.direct["budget"]
    mine, theirs = await new_school(suite), await new_school(suite)
    pool = await school_pool(suite, theirs, 1_000_00)
    as_mine = suite.headers(Role.SCHOOL_ADMIN, school_id=mine)
    denied = await client.get(f"/v1/funds/{pool['id']}", headers=as_mine)
    assert denied.status_code == 403
    listed = (await client.get("/v1/funds", headers=as_mine)).json()["items"]
    assert all(p["school_id"] == str(mine) for p in listed)
    create_for_other = await client.post(
        "/v1/funds",
        headers=as_mine,
        json={
            "fiscal_year": YEAR + 5,
            "source": "public_funds",
            "school_id": str(theirs),
            "basis_fen": 100,
        },
    )
    assert create_for_other.status_code == 403
    other_district = suite.headers(Role.BUREAU_ADMIN, district_id=uuid.uuid4())
    assert (await client.get(f"/v1/funds/{pool['id']}", headers=other_district)).status_code == 403
    teacher = suite.headers(Role.TEACHER, teacher_id=uuid.uuid4())
    assert (await client.get("/v1/funds", headers=teacher)).status_code == 403


async def test_fund_creation_is_idempotent_on_key_and_client_id(suite: Suite) -> None:
    client = suite.direct["budget"]
    school = await new_school(suite)
    pool_id = str(uuid.uuid4())
    body = {
        "id": pool_id,
        "fiscal_year": YEAR,
        "source": "public_funds",
        "school_id": str(school),
        "basis_fen": 100_000,
    }
    headers = bureau(suite) | {"Idempotency-Key": "fund-1"}
    first = await client.post("/v1/funds", headers=headers, json=body)
    replay = await client.post("/v1/funds", headers=headers, json=body)
    assert first.status_code == replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    retried = await client.post("/v1/funds", headers=bureau(suite), json=body)
    assert retried.status_code == 200 and retried.json()["id"] == pool_id
    assert (await fund(suite, pool_id))["available_fen"] == 10_000
    reused = await client.post("/v1/funds", headers=headers, json=body | {"basis_fen": 5})
    assert reused.status_code == 409


async def test_concurrent_openings_of_the_same_pool_make_one(suite: Suite) -> None:
    school = await new_school(suite)
    body = {
        "fiscal_year": YEAR,
        "source": "public_funds",
        "school_id": str(school),
        "basis_fen": 10,
    }
    responses = await asyncio.gather(
        *(
            suite.direct["budget"].post("/v1/funds", headers=bureau(suite), json=body)
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
