"""Small helpers of the gateway tests: accounts and tokens made through the public API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.harness import ADMIN_PASSWORD, Suite


async def admin(suite: Suite) -> dict[str, str]:
    return await suite.login("admin", ADMIN_PASSWORD)


async def school(suite: Suite, headers: dict[str, str], name: str = "实验小学") -> dict[str, Any]:
    response = await suite.gateway.post(
        "/v1/schools", headers=headers, json={"name": name, "stage": "primary"}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def service_account(
    suite: Suite, scopes: list[str], school_id: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"system-{uuid.uuid4().hex[:6]}", "scopes": scopes}
    if school_id:
        body["school_id"] = school_id
    response = await suite.gateway.post(
        "/v1/service-accounts", headers=await admin(suite), json=body
    )
    assert response.status_code == 201, response.text
    return response.json()


async def client_token(suite: Suite, client: dict[str, Any], **extra: str) -> httpx.Response:
    return await suite.gateway.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            **extra,
        },
    )


async def person(suite: Suite, role: str, **scope: str) -> tuple[str, str]:
    """A person's account; returns username and password."""
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    password = "correct horse battery"
    response = await suite.gateway.post(
        "/v1/accounts",
        headers=await admin(suite),
        json={"username": username, "password": password, "role": role, **scope},
    )
    assert response.status_code == 201, response.text
    return username, password
