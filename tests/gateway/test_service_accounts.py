"""Service accounts: client credentials, explicit scopes, limited to a district or a school."""

from __future__ import annotations

import base64
import uuid

from sqlalchemy import select

from shared.auth import Role
from tests.gateway.helpers import admin, client_token, school, service_account
from tests.harness import Suite


async def test_client_credentials_token_carries_scopes_and_school(suite: Suite) -> None:
    own = await school(suite, await admin(suite))
    client = await service_account(suite, ["hours:read", "roster:read"], school_id=own["id"])
    assert client["client_secret"] and client["scopes"] == ["hours:read", "roster:read"]

    response = await client_token(suite, client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body  # machines use their secret again
    me = await suite.gateway.get(
        "/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["role"] == "service"
    assert me.json()["school_id"] == own["id"]
    assert me.json()["scopes"] == ["hours:read", "roster:read"]


async def test_client_credentials_accepts_http_basic(suite: Suite) -> None:
    client = await service_account(suite, ["hours:import"])
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    response = await suite.gateway.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "hours:import"


async def test_requested_scope_narrows_and_cannot_widen(suite: Suite) -> None:
    client = await service_account(suite, ["hours:read", "roster:write"])
    narrowed = await client_token(suite, client, scope="hours:read")
    assert narrowed.json()["scope"] == "hours:read"
    widened = await client_token(suite, client, scope="hours:read hours:import")
    assert widened.status_code == 400
    assert widened.json()["type"].endswith("invalid-scope")


async def test_wrong_secret_and_person_password_grant_are_refused(suite: Suite) -> None:
    client = await service_account(suite, ["hours:read"])
    wrong = await client_token(suite, {**client, "client_secret": "nope"})
    assert wrong.status_code == 400 and wrong.json()["type"].endswith("invalid-grant")
    # A machine's secret is not a password: the password grant does not take it.
    as_person = await suite.gateway.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": client["client_id"],
            "password": client["client_secret"],
        },
    )
    assert as_person.status_code == 400


async def test_unknown_scope_and_unknown_fields_are_refused(suite: Suite) -> None:
    headers = await admin(suite)
    unknown = await suite.gateway.post(
        "/v1/service-accounts", headers=headers, json={"name": "x", "scopes": ["root:all"]}
    )
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("invalid-scope")
    # Mass assignment: a caller cannot choose the district or the role of the client.
    extra = await suite.gateway.post(
        "/v1/service-accounts",
        headers=headers,
        json={"name": "x", "scopes": ["hours:read"], "district_id": str(uuid.uuid4())},
    )
    assert extra.status_code == 422


async def test_only_the_bureau_creates_service_accounts(suite: Suite) -> None:
    own = await school(suite, await admin(suite))
    response = await suite.gateway.post(
        "/v1/service-accounts",
        headers=suite.headers(Role.SCHOOL_ADMIN, school_id=own["id"]),
        json={"name": "x", "scopes": ["hours:read"]},
    )
    assert response.status_code == 403


async def test_service_account_for_a_school_outside_the_district_is_refused(suite: Suite) -> None:
    response = await suite.gateway.post(
        "/v1/service-accounts",
        headers=await admin(suite),
        json={"name": "x", "scopes": ["hours:read"], "school_id": str(uuid.uuid4())},
    )
    assert response.status_code == 422


async def test_a_disabled_client_gets_no_token(suite: Suite) -> None:
    client = await service_account(suite, ["hours:read"])
    bureau = await admin(suite)
    listed = (await suite.gateway.get("/v1/service-accounts?limit=500", headers=bureau)).json()
    row = next(r for r in listed["items"] if r["client_id"] == client["client_id"])
    assert "client_secret" not in row and row["scopes"] == ["hours:read"]
    assert (
        await suite.gateway.delete(f"/v1/service-accounts/{row['id']}", headers=bureau)
    ).status_code == 204
    refused = await client_token(suite, client)
    assert refused.status_code == 400 and refused.json()["type"].endswith("invalid-grant")


async def test_another_district_cannot_disable_a_client(suite: Suite) -> None:
    client = await service_account(suite, ["hours:read"])
    other_bureau = suite.headers(Role.BUREAU_ADMIN, district_id=uuid.uuid4())
    response = await suite.gateway.delete(
        f"/v1/service-accounts/{client['id']}", headers=other_bureau
    )
    assert response.status_code == 404
    assert (await client_token(suite, client)).status_code == 200


async def test_an_idempotent_replay_does_not_keep_the_secret_in_clear(suite: Suite) -> None:
    headers = {**(await admin(suite)), "Idempotency-Key": uuid.uuid4().hex}
    body = {"name": "省平台", "scopes": ["hours:import"]}
    first = await suite.gateway.post("/v1/service-accounts", headers=headers, json=body)
    replay = await suite.gateway.post("/v1/service-accounts", headers=headers, json=body)
    assert first.status_code == replay.status_code == 201
    assert first.json()["client_secret"] and replay.json()["client_secret"] is None
    assert replay.json()["client_id"] == first.json()["client_id"]
    table = suite.gateway_app.state.idempotency_table
    async with suite.gateway_app.state.database.sessions() as session:
        stored = (await session.execute(select(table.c.body))).scalars().all()
    assert not any(first.json()["client_secret"] in row for row in stored)
