"""Federated login against a real OpenID provider (oidc-provider-mock: Authlib's server on
Werkzeug, over HTTP) started here: authorization code with PKCE, the person mapped to the
teacher's login by identity number."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oidc_provider_mock import run_server_in_thread
from sqlalchemy import select

from gateway.models import OidcLogin
from tests.e2e.test_logins_rollout import id_number
from tests.gateway.helpers import admin, school
from tests.gateway.test_teacher_logins import teacher_login
from tests.harness import Suite


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def federated(suite: Suite, issuer: str, monkeypatch: pytest.MonkeyPatch) -> str:
    settings = suite.gateway_app.state.settings
    monkeypatch.setattr(settings, "oidc_issuer", issuer)
    monkeypatch.setattr(settings, "oidc_client_id", "shixun-gateway")
    monkeypatch.setattr(settings, "oidc_client_secret", "a-client-secret")
    monkeypatch.setattr(settings, "oidc_redirect_uri", "http://gateway/v1/auth/oidc/callback")
    return issuer


async def _provider_says(issuer: str, sub: str, claims: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.put(f"{issuer}/users/{sub}", json=claims)
        assert answer.status_code == 204, answer.text


async def _through_the_provider(suite: Suite, sub: str) -> dict[str, str]:
    """What the browser does: start at the gateway, sign in at the provider as `sub`, and
    come back with the code and state the provider put on the redirect."""
    start = await suite.gateway.get("/v1/auth/oidc/start")
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    async with httpx.AsyncClient() as browser:
        signed_in = await browser.post(authorize, data={"sub": sub})
    assert signed_in.status_code == 302, signed_in.text
    back = urlsplit(signed_in.headers["location"])
    assert back.path == "/v1/auth/oidc/callback"
    return {k: v[0] for k, v in parse_qs(back.query).items()}


async def test_a_federated_login_maps_to_the_right_teacher(suite: Suite, federated: str) -> None:
    headers = await admin(suite)
    place = await school(suite, headers, "统一认证小学")
    teacher = await teacher_login(suite, headers, place["id"])
    await teacher_login(suite, headers, place["id"])  # another teacher, not to be mixed up
    sub = f"province-{uuid.uuid4().hex[:8]}"
    await _provider_says(federated, sub, {"id_number": teacher["id_number"], "name": "某老师"})

    back = await _through_the_provider(suite, sub)
    callback = await suite.gateway.get("/v1/auth/oidc/callback", params=back)
    assert callback.status_code == 200, callback.text
    assert callback.json()["refresh_token"]
    bearer = {"Authorization": f"Bearer {callback.json()['access_token']}"}
    me = (await suite.gateway.get("/v1/me", headers=bearer)).json()
    assert me["teacher_id"] == teacher["id"] and me["role"] == "teacher"
    assert (await suite.gateway.get("/v1/me/dashboard", headers=bearer)).status_code == 200
    # A state is used once.
    again = await suite.gateway.get("/v1/auth/oidc/callback", params=back)
    assert again.status_code == 400 and again.json()["type"].endswith("invalid-grant")


async def test_the_authorization_request_uses_pkce_s256(suite: Suite, federated: str) -> None:
    start = await suite.gateway.get("/v1/auth/oidc/start")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"] and query["nonce"][0]
    async with suite.gateway_app.state.database.sessions() as session:
        login = await session.scalar(select(OidcLogin).where(OidcLogin.state == query["state"][0]))
    assert login is not None
    digest = hashlib.sha256(login.code_verifier.encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).decode().rstrip("=")]


async def test_a_person_without_a_login_here_gets_the_login_error(
    suite: Suite, federated: str
) -> None:
    sub = f"province-{uuid.uuid4().hex[:8]}"
    await _provider_says(federated, sub, {"id_number": id_number()})
    back = await _through_the_provider(suite, sub)
    answer = await suite.gateway.get("/v1/auth/oidc/callback", params=back)
    assert answer.status_code == 400 and answer.json()["type"].endswith("invalid-grant")
    forged = await suite.gateway.get(
        "/v1/auth/oidc/callback", params={"code": "forged", "state": "not-a-state"}
    )
    assert forged.status_code == 400


async def test_without_a_provider_a_district_keeps_passwords(suite: Suite) -> None:
    assert suite.gateway_app.state.settings.oidc_issuer is None
    answer = await suite.gateway.get("/v1/auth/oidc/start")
    assert answer.status_code == 404 and "密码登录" in answer.json()["detail"]
