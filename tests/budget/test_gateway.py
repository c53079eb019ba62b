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
    rows = list(load_workbook(io.BytesIO(xlsx.content))["schools"].values)
    assert rows[0][:3] == ("id", "name", "allocated_fen")
    assert (school_id, "育才中学", 80_000_00) in [r[:3] for r in rows[1:]]
