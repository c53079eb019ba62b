"""Who may use the ledger's district-wide endpoints (DOMAIN.md, "Who may see what").

Service clients act with the scopes of the gateway's catalogue (gateway/policy.py):
hours:import for provincial imports, hours:read for reports and exports, bounded to their
school if they have one. Found by the authorization matrix (tests/authz).
"""

from __future__ import annotations

import uuid

from services.ledger.policy import MODES
from shared.auth import Role
from tests.ledger.conftest import District
from tests.ledger.test_imports import csv_file, row


def client(district: District, *scopes: str, school_id: uuid.UUID | None = None) -> dict:
    return district.suite.headers(
        Role.SERVICE, district_id=district.id, school_id=school_id, scopes=frozenset(scopes)
    )


async def test_a_district_client_with_hours_import_imports_and_a_school_client_does_not(
    district: District,
) -> None:
    teacher = await district.register()
    content = csv_file([row(f"A-{uuid.uuid4().hex}", teacher)])
    platform = client(district, "hours:import")
    submitted = await district.client.post(
        "/v1/ledger/imports", content=content, headers=platform | {"Content-Type": "text/csv"}
    )
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()["id"]
    for path in ("/v1/ledger/imports", f"/v1/ledger/imports/{job}"):
        assert (await district.client.get(path, headers=platform)).status_code == 200
    refused = [
        client(district, "hours:read"),
        client(district, "hours:import", school_id=district.school_id),
    ]
    for headers in refused:
        again = await district.client.post(
            "/v1/ledger/imports", content=content, headers=headers | {"Content-Type": "text/csv"}
        )
        assert again.status_code == 403, again.text
        for path in ("/v1/ledger/imports", f"/v1/ledger/imports/{job}"):
            assert (await district.client.get(path, headers=headers)).status_code == 403


async def test_a_client_with_hours_read_reports_and_exports_its_own_school_only(
    district: District,
) -> None:
    await district.register()
    mine = client(district, "hours:read", school_id=district.school_id)
    for path in ("/v1/reports/compliance", "/v1/ledger/export"):
        own = await district.client.get(path, headers=mine)
        assert own.status_code == 200, own.text
        named = await district.client.get(
            path, params={"school_id": str(district.school_id)}, headers=mine
        )
        assert named.status_code == 200, named.text
        other = await district.client.get(
            path, params={"school_id": str(uuid.uuid4())}, headers=mine
        )
        assert other.status_code == 403, other.text
        unscoped = client(district, "hours:import", school_id=district.school_id)
        assert (await district.client.get(path, headers=unscoped)).status_code == 403
    body = (await district.client.get("/v1/reports/compliance", headers=mine)).json()
    assert body["school_id"] == str(district.school_id) and body["teachers"] == 1


async def test_a_school_of_another_district_is_not_found_not_reported_empty(
    district: District,
) -> None:
    await district.register()
    elsewhere = district.suite.headers(Role.BUREAU_ADMIN, district_id=uuid.uuid4())
    for path in ("/v1/reports/compliance", "/v1/ledger/export"):
        response = await district.client.get(
            path, params={"school_id": str(district.school_id)}, headers=elsewhere
        )
        assert response.status_code == 404, response.text
        own = await district.client.get(
            path, params={"school_id": str(district.school_id)}, headers=district.bureau()
        )
        assert own.status_code == 200, own.text


async def test_hours_per_credit_names_exactly_the_modes_in_schema_and_in_fact(
    district: District,
) -> None:
    """Mass assignment: the published schema refuses unknown modes, as the validator does."""
    document = (await district.client.get("/openapi.json")).json()
    schema = document["components"]["schemas"]["PolicyRules"]["properties"]["hours_per_credit"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(MODES) == set(schema["properties"])
    per_mode = dict.fromkeys(MODES, "10.0")
    response = await district.client.post(
        "/v1/policies",
        json={
            "effective_from": "2099-01-01",
            "rules": {"hours_per_credit": per_mode | {"x": "1.0"}},
        },
        headers=district.bureau(),
    )
    assert response.status_code == 422, response.text
