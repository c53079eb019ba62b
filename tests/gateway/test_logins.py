"""Logins under a storm: every one answered with a valid token, the event loop kept free while
passwords are checked, outdated hashes upgraded, and failures counted even when concurrent."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select

from gateway import passwords
from gateway.models import Account, LoginLock
from shared.auth import Principal, Role
from shared.errors import Unauthorized
from tests.gateway.helpers import admin, person
from tests.harness import ADMIN_PASSWORD, Suite


async def _login(suite: Suite, username: str, password: str):
    return await suite.gateway.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


async def _stored_hash(suite: Suite, username: str) -> str:
    async with suite.gateway_app.state.database.sessions() as session:
        return await session.scalar(
            select(Account.password_hash).where(Account.username == username)
        )


async def test_login_storm_gives_every_person_a_valid_token_of_their_own(suite: Suite) -> None:
    people = await asyncio.gather(*(person(suite, "bureau_admin") for _ in range(40)))
    answers = await asyncio.gather(*(_login(suite, u, p) for u, p in people for _ in range(2)))
    assert [a.status_code for a in answers] == [200] * len(answers)
    tokens = [a.json() for a in answers]
    assert len({t["access_token"] for t in tokens}) == len(tokens)
    assert len({t["refresh_token"] for t in tokens}) == len(tokens)
    mes = await asyncio.gather(
        *(
            suite.gateway.get("/v1/me", headers={"Authorization": f"Bearer {t['access_token']}"})
            for t in tokens
        )
    )
    assert [m.json()["username"] for m in mes] == [u for u, _ in people for _ in range(2)]
    # Every refresh token of the storm works once.
    refreshed = await asyncio.gather(
        *(
            suite.gateway.post(
                "/v1/auth/token",
                data={"grant_type": "refresh_token", "refresh_token": t["refresh_token"]},
            )
            for t in tokens
        )
    )
    assert [r.status_code for r in refreshed] == [200] * len(tokens)


class _SlowHasher(Argon2Hasher):
    """Sleeps like argon2 computes: without holding the GIL, 0.3 s per verification."""

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        time.sleep(0.3)
        return super().verify(password, hash)


@pytest.fixture
def slow_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        passwords,
        "HASHER",
        PasswordHash((_SlowHasher(memory_cost=19 * 1024, time_cost=2, parallelism=1),)),
    )
    yield


async def test_checking_passwords_leaves_the_event_loop_free(
    suite: Suite, slow_hashing: None
) -> None:
    username, password = await person(suite, "bureau_admin")
    lags: list[float] = []

    async def tick() -> None:
        for _ in range(40):
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - started - 0.01)

    ticking = asyncio.create_task(tick())
    answers = await asyncio.gather(*(_login(suite, username, password) for _ in range(4)))
    await ticking
    assert [a.status_code for a in answers] == [200] * 4
    # Four 0.3 s verifications on the loop would stall it for 0.3 s at a time.
    assert max(lags) < 0.15, max(lags)


async def test_an_outdated_hash_is_upgraded_at_the_next_login(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    old = PasswordHash((Argon2Hasher(memory_cost=64 * 1024, time_cost=3, parallelism=4),))
    async with suite.gateway_app.state.database.sessions() as session:
        account = await session.scalar(select(Account).where(Account.username == username))
        account.password_hash = old.hash(password)
        await session.commit()
    assert "m=65536,t=3,p=4" in await _stored_hash(suite, username)

    assert (await _login(suite, username, password)).status_code == 200
    upgraded = await _stored_hash(suite, username)
    assert upgraded.startswith("$argon2id$") and "m=19456,t=2,p=1" in upgraded
    assert (await _login(suite, username, password)).status_code == 200
    assert (await _login(suite, username, "wrong password")).status_code == 400


def _from(suite: Suite, address: str) -> httpx.AsyncClient:
    """A client whose requests come from this address."""
    transport = httpx.ASGITransport(app=suite.gateway_app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=60)


async def _login_from(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


async def test_a_locked_login_answers_like_an_unknown_username(suite: Suite) -> None:
    """The lock must not tell a guesser that the username exists: status and body alike."""
    username, password = await person(suite, "bureau_admin")
    failures = suite.gateway_app.state.settings.lockout().failures
    async with _from(suite, "127.0.0.21") as guesser:
        for _ in range(failures):
            assert (await _login_from(guesser, username, "wrong guess")).status_code == 400
        locked = await _login_from(guesser, username, password)
        unknown = await _login_from(guesser, f"nobody-{uuid.uuid4().hex[:6]}", password)
        wrong = await _login_from(guesser, username, "another wrong guess")
    assert locked.status_code == unknown.status_code == wrong.status_code == 400
    assert locked.json() == unknown.json() == wrong.json()
    assert locked.headers["content-type"] == unknown.headers["content-type"]


async def test_a_guesser_cannot_lock_the_admin_out_of_another_address(suite: Suite) -> None:
    failures = suite.gateway_app.state.settings.lockout().failures
    async with _from(suite, "127.0.0.2") as guesser, _from(suite, "127.0.0.3") as owner:
        for _ in range(failures):
            assert (await _login_from(guesser, "admin", "guess")).status_code == 400
        assert (await _login_from(guesser, "admin", ADMIN_PASSWORD)).status_code == 400
        mine = await _login_from(owner, "admin", ADMIN_PASSWORD)
    assert mine.status_code == 200, mine.text


async def test_an_unlock_lifts_the_locks_of_every_address(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    failures = suite.gateway_app.state.settings.lockout().failures
    headers = await admin(suite)
    found = await suite.gateway.get("/v1/accounts", headers=headers, params={"q": username})
    account_id = found.json()["items"][0]["id"]
    async with _from(suite, "127.0.0.31") as one, _from(suite, "127.0.0.32") as two:
        for client in (one, two):
            for _ in range(failures):
                await _login_from(client, username, "guess")
            assert (await _login_from(client, username, password)).status_code == 400
        listed = await suite.gateway.get(
            "/v1/accounts", headers=headers, params={"q": username, "status": "locked"}
        )
        assert [a["id"] for a in listed.json()["items"]] == [account_id]
        assert listed.json()["items"][0]["locked_until"] is not None
        unlocked = await suite.gateway.post(f"/v1/accounts/{account_id}/unlock", headers=headers)
        assert unlocked.status_code == 200 and unlocked.json()["status"] == "active"
        assert (await _login_from(one, username, password)).status_code == 200
        assert (await _login_from(two, username, password)).status_code == 200


async def test_concurrent_wrong_passwords_are_counted_exactly(suite: Suite) -> None:
    """As many concurrent failures as the threshold lock that address; one fewer do not."""
    username, password = await person(suite, "bureau_admin")
    failures = suite.gateway_app.state.settings.lockout().failures
    async with _from(suite, "127.0.0.41") as full, _from(suite, "127.0.0.42") as short:
        wrong = await asyncio.gather(
            *(_login_from(full, username, "wrong") for _ in range(failures)),
            *(_login_from(short, username, "wrong") for _ in range(failures - 1)),
        )
        assert {w.status_code for w in wrong} == {400}
        assert (await _login_from(full, username, password)).status_code == 400
        assert (await _login_from(short, username, password)).status_code == 200
    async with suite.gateway_app.state.database.sessions() as session:
        counted = await session.scalar(
            select(LoginLock.failures)
            .join(Account, Account.id == LoginLock.account_id)
            .where(Account.username == username, LoginLock.source == "127.0.0.41")
        )
    assert counted == failures


async def test_an_unknown_username_is_refused_like_a_wrong_password(suite: Suite) -> None:
    username, _ = await person(suite, "bureau_admin")
    unknown = await _login(suite, f"nobody-{uuid.uuid4().hex[:6]}", "whatever")
    wrong = await _login(suite, username, "whatever")
    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json()["detail"] == wrong.json()["detail"]


async def test_a_remembered_token_is_refused_once_it_expires(suite: Suite) -> None:
    verifier = suite.gateway_app.state.verifier
    principal = Principal(subject=f"test-{uuid.uuid4().hex[:6]}", role=Role.TEACHER)
    token = suite.gateway_app.state.signer.access_token(principal, ttl_seconds=1)
    assert (await verifier.verify(token)).subject == principal.subject
    await asyncio.sleep(2.1)
    with pytest.raises(Unauthorized):
        await verifier.verify(token)
