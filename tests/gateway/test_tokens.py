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
    assert locked.json()["type"].endswith("account-locked")


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
    assert locked.status_code == 400 and locked.json()["type"].endswith("account-locked")
    assert await admin(suite)  # the bureau is unaffected


async def test_concurrent_exchanges_of_one_refresh_token_yield_one_session(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    token = (await _password_grant(suite, username, password)).json()["refresh_token"]
    answers = await asyncio.gather(*(_refresh(suite, token) for _ in range(3)))
    assert sorted(a.status_code for a in answers)[0] == 200
    assert sum(a.status_code == 200 for a in answers) == 1
