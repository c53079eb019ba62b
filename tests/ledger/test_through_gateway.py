"""The ledger's files travel through the gateway unchanged (body, type, disposition)."""

from __future__ import annotations

import uuid

from tests.harness import Suite, wait_for
from tests.ledger.conftest import District
from tests.ledger.test_imports import csv_file, row


async def test_import_report_and_transcript_through_the_gateway(
    district: District, suite: Suite
) -> None:
    teacher = await district.register(name="诸葛亮")
    gw = suite.gateway
    submitted = await gw.post(
        "/v1/ledger/imports",
        content=csv_file([row("G-1", teacher, hours="18.0")]),
        headers=district.bureau() | {"Content-Type": "text/csv", "Idempotency-Key": "g-1"},
    )
    assert submitted.status_code == 202, submitted.text
    location = submitted.headers["location"]

    async def done() -> bool:
        job = (await gw.get(location, headers=district.bureau())).json()
        return job["status"] == "done" and job["posted"] == 1

    await wait_for(done)
    report = await gw.get(
        "/v1/reports/compliance",
        params={"year": 2026, "format": "csv"},
        headers=district.bureau(),
    )
    assert report.status_code == 200
    assert "compliance-2026.csv" in report.headers["content-disposition"]
    assert "诸葛亮" in report.content.decode("utf-8-sig")
    pdf = await gw.get(
        f"/v1/teachers/{teacher}/transcript",
        params={"year": 2026},
        headers=district.teacher(teacher),
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    stranger = await gw.get(
        f"/v1/teachers/{teacher}/transcript", headers=district.teacher(uuid.uuid4())
    )
    assert stranger.status_code == 403
