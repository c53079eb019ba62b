"""Refresh tokens rotate and can be revoked; repeated failures lock an account."""

from __future__ import annotations

import asyncio

from tests.gateway.helpers import admin, client_token, person, service_account
from tests.harness import Suite


async def _password_grant(suite: Suite, username: str, password: str):
    return await suite.gateway.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


async def _refresh(suite: Suite, token: str):
    return await suite.gateway.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


async def test_revoked_refresh_token_is_refused(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    tokens = (await _password_grant(suite, username, password)).json()
    revoked = await suite.gateway.post("/v1/auth/revoke", data={"token": tokens["refresh_token"]})
    assert revoked.status_code == 200
    assert (await _refresh(suite, tokens["refresh_token"])).status_code == 400


async def test_reuse_of_a_rotated_refresh_token_revokes_the_whole_session(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    first = (await _password_grant(suite, username, password)).json()["refresh_token"]
    second = (await _refresh(suite, first)).json()["refresh_token"]
    # The first token shown again (stolen copy): both it and its successor stop working.
    assert (await _refresh(suite, first)).status_code == 400
    assert (await _refresh(suite, second)).status_code == 400


async def test_logout_revokes_every_refresh_token_of_the_caller(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    one = (await _password_grant(suite, username, password)).json()
    two = (await _password_grant(suite, username, password)).json()
    response = await suite.gateway.post(
        "/v1/auth/logout", headers={"Authorization": f"Bearer {one['access_token']}"}
    )
    assert response.status_code == 204
    assert (await _refresh(suite, one["refresh_token"])).status_code == 400
    assert (await _refresh(suite, two["refresh_token"])).status_code == 400


async def test_lockout_after_repeated_failures_even_with_the_right_password(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    failures = suite.gateway_app.state.settings.lockout().failures
    for _ in range(failures):
        assert (await _password_grant(suite, username, "wrong-password")).status_code == 400
    locked = await _password_grant(suite, username, password)
    assert locked.status_code == 400
    assert locked.json()["type"].endswith("invalid-grant")


async def test_failures_below_the_threshold_reset_on_success(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    failures = suite.gateway_app.state.settings.lockout().failures
    for _ in range(failures - 1):
        await _password_grant(suite, username, "wrong-password")
    assert (await _password_grant(suite, username, password)).status_code == 200
    for _ in range(failures - 1):
        await _password_grant(suite, username, "wrong-password")
    assert (await _password_grant(suite, username, password)).status_code == 200


async def test_client_secret_failures_lock_the_client(suite: Suite) -> None:
    client = await service_account(suite, ["hours:read"])
    failures = suite.gateway_app.state.settings.lockout().failures
    for _ in range(failures):
        await client_token(suite, {**client, "client_secret": "wrong"})
    locked = await client_token(suite, client)
    assert locked.status_code == 400 and locked.json()["type"].endswith("invalid-grant")
    assert await admin(suite)  # the bureau is unaffected


async def test_concurrent_exchanges_of_one_refresh_token_yield_one_session(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    token = (await _password_grant(suite, username, password)).json()["refresh_token"]
    answers = await asyncio.gather(*(_refresh(suite, token) for _ in range(3)))
    assert sorted(a.status_code for a in answers)[0] == 200
    assert sum(a.status_code == 200 for a in answers) == 1


async def test_each_service_accepts_only_tokens_naming_it(suite: Suite) -> None:
    """Every part verifies its own audience: a token for the whole suite under the old shared
    audience is refused everywhere, and a client's token opens only the services its scopes
    concern (hours:read: the ledger), while a person's token opens every service."""
    import time

    import jwt

    from shared.auth import Principal, Role
    from shared.config import DEFAULT_DISTRICT_ID

    signer = suite.gateway_app.state.signer
    bureau = Principal(subject="aud-test", role=Role.BUREAU_ADMIN, district_id=DEFAULT_DISTRICT_ID)
    now = int(time.time())
    shared_aud = jwt.encode(
        {**bureau.claims(), "iss": signer.issuer, "aud": "shixun", "iat": now, "exp": now + 60},
        signer.key,
        algorithm="ES256",
        headers={"kid": signer.kid},
    )
    person = signer.access_token(bureau, ttl_seconds=60)
    reader = signer.access_token(
        Principal(
            subject="aud-client",
            role=Role.SERVICE,
            district_id=DEFAULT_DISTRICT_ID,
            scopes=frozenset({"hours:read"}),
        ),
        ttl_seconds=60,
    )
    reads = {
        "enrolment": "/v1/schools",
        "ledger": "/v1/reports/compliance",
        "budget": "/v1/funds",
        "feedback": "/v1/appraisal-templates",
    }
    for name, path in reads.items():
        client = suite.direct[name]

        async def status(token: str, client=client, path=path) -> int:
            response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
            return response.status_code

        assert await status(shared_aud) == 401, name
        assert await status(person) == 200, name
        assert await status(reader) == (200 if name == "ledger" else 401), name
    me = await suite.gateway.get("/v1/me", headers={"Authorization": f"Bearer {shared_aud}"})
    assert me.status_code == 401
