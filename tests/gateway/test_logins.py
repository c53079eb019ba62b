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
from gateway.models import Account
from shared.auth import Principal, Role
from shared.errors import Unauthorized
from tests.gateway.helpers import person
from tests.harness import Suite


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


async def test_concurrent_wrong_passwords_all_count_towards_the_lockout(suite: Suite) -> None:
    username, password = await person(suite, "bureau_admin")
    failures = suite.gateway_app.state.settings.lockout().failures
    wrong = await asyncio.gather(*(_login(suite, username, "wrong") for _ in range(failures)))
    assert {w.status_code for w in wrong} == {400}
    locked = await _login(suite, username, password)
    assert locked.status_code == 400
    assert locked.json()["type"].endswith("account-locked")


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


def _from(suite: Suite, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=suite.gateway_app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def test_a_lockout_holds_for_the_guessing_source_only_and_looks_alike(suite: Suite) -> None:
    """Wrong guesses from one address lock that username from that address only, so nobody
    locks the admin out by guessing; and an unknown username locks just the same, so the
    answer tells no one which usernames exist."""
    username, password = await person(suite, "bureau_admin")
    nobody = f"nobody-{uuid.uuid4().hex[:6]}"
    failures = suite.gateway_app.state.settings.lockout().failures
    form = {"grant_type": "password"}
    async with _from(suite, "203.0.113.7") as attacker, _from(suite, "198.51.100.2") as owner:
        for name in (username, nobody):
            for _ in range(failures):
                wrong = await attacker.post(
                    "/v1/auth/token", data=form | {"username": name, "password": "guess"}
                )
                assert wrong.status_code == 400
        locked = await attacker.post(
            "/v1/auth/token", data=form | {"username": username, "password": password}
        )
        also = await attacker.post(
            "/v1/auth/token", data=form | {"username": nobody, "password": password}
        )
        assert locked.status_code == also.status_code == 400
        assert locked.json()["type"].endswith("account-locked")
        assert (locked.json()["type"], locked.json()["detail"]) == (
            also.json()["type"],
            also.json()["detail"],
        )
        mine = await owner.post(
            "/v1/auth/token", data=form | {"username": username, "password": password}
        )
        assert mine.status_code == 200, mine.text
