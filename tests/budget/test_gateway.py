"""Through the gateway, as a client would: a school registered in enrolment reaches budget
over NATS, gets a pool, and shows in the execution report (JSON and XLSX)."""

from __future__ import annotations

import io
import uuid

from openpyxl import load_workbook
from sqlalchemy import select

from services.budget.models import SchoolProjection
from tests.budget.conftest import YEAR, database
from tests.harness import ADMIN_PASSWORD, Suite, wait_for


async def test_school_from_enrolment_gets_a_pool_and_a_report_row(suite: Suite) -> None:
    gw = suite.gateway
    admin = await suite.login("admin", ADMIN_PASSWORD)
    school = await gw.post(
        "/v1/schools", headers=admin, json={"name": "育才中学", "stage": "junior"}
    )
    assert school.status_code == 201, school.text
    school_id = school.json()["id"]

    async def projected() -> SchoolProjection | None:
        async with database(suite).sessions() as session:
            return await session.scalar(
                select(SchoolProjection).where(SchoolProjection.id == uuid.UUID(school_id))
            )

    await wait_for(projected)
    year = YEAR + 40
    pool = await gw.post(
        "/v1/funds",
        headers=admin | {"Idempotency-Key": f"pool-{school_id}"},
        json={
            "fiscal_year": year,
            "source": "public_funds",
            "school_id": school_id,
            "basis_fen": 800_000_00,
        },
    )
    assert pool.status_code == 201, pool.text
    assert pool.json()["amount_fen"] == 80_000_00
    listed = await gw.get(f"/v1/funds?fiscal_year={year}&school_id={school_id}", headers=admin)
    assert [p["id"] for p in listed.json()["items"]] == [pool.json()["id"]]
    report = await gw.get(f"/v1/reports/budget-execution?year={year}", headers=admin)
    row = next(r for r in report.json()["schools"] if r["id"] == school_id)
    assert (row["name"], row["allocated_fen"], row["execution_rate"]) == (
        "育才中学",
        80_000_00,
        "0.0000",
    )
    xlsx = await gw.get(f"/v1/reports/budget-execution?year={year}&format=xlsx", headers=admin)
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(xlsx.content))["学校"].values)
    assert rows[0][:2] == ("学校", "已分配（元）") and rows[0][-1] == "ID"
    assert ("育才中学", 80_000, school_id) in [(r[0], r[1], r[-1]) for r in rows[1:]]


async def test_an_institution_cannot_fund_its_draft_from_a_bureau_pool_end_to_end(
    suite: Suite,
) -> None:
    """The reported attack through the gateway, with enrolment's real events: the
    institution reads the bureau pool's id from its funded program and points its own
    submitted program at it; it is refused, nothing is spent, and the bureau rejects."""
    from shared.auth import Role
    from tests.e2e.test_slice import program_body

    gw = suite.gateway
    admin = await suite.login("admin", ADMIN_PASSWORD)
    institution = (await gw.post("/v1/institutions", headers=admin, json={"name": "进修"})).json()
    as_institution = suite.headers(Role.INSTITUTION_ADMIN, institution_id=institution["id"])
    funded = (
        await gw.post("/v1/programs", headers=admin, json=program_body(institution["id"]))
    ).json()
    for action in ("submit", "approve", "publish"):
        moved = await gw.post(f"/v1/programs/{funded['id']}/{action}", headers=admin)
        assert moved.status_code == 200, moved.text
    pool = await gw.post(
        "/v1/funds",
        headers=admin,
        json={"fiscal_year": YEAR + 41, "source": "payroll", "basis_fen": 100_000_000},
    )
    assert pool.status_code == 201, pool.text
    lines = {"expert_fees": 2_000_00}

    async def put_budget(program_id: str, headers: dict) -> object:
        response = await gw.put(
            f"/v1/programs/{program_id}/budget",
            headers=headers,
            json={"pool_id": pool.json()["id"], "lines": lines},
        )
        return response if response.status_code != 404 else None

    await wait_for(lambda: put_budget(funded["id"], admin))
    seen = await gw.get(f"/v1/programs/{funded['id']}/budget", headers=as_institution)
    assert seen.json()["pool_id"] == pool.json()["id"]

    draft = await gw.post(
        "/v1/programs", headers=as_institution, json=program_body(institution["id"])
    )
    assert draft.status_code == 201, draft.text
    draft_id = draft.json()["id"]
    submitted = await gw.post(f"/v1/programs/{draft_id}/submit", headers=as_institution)
    assert submitted.status_code == 200, submitted.text
    pointed = await wait_for(lambda: put_budget(draft_id, as_institution))
    assert pointed.status_code == 403 and pointed.json()["type"].endswith("pool-set-by-bureau")
    spent = await gw.post(
        f"/v1/programs/{draft_id}/expenses",
        headers=as_institution,
        json={
            "id": str(uuid.uuid4()),
            "category": "expert_fees",
            "amount_fen": 2_000_00,
            "spent_on": f"{YEAR}-09-02",
        },
    )
    assert spent.status_code == 422, spent.text
    assert (await gw.post(f"/v1/programs/{draft_id}/reject", headers=admin)).status_code == 200
    state = await gw.get(f"/v1/funds/{pool.json()['id']}", headers=admin)
    assert state.json()["spent_fen"] == 0
