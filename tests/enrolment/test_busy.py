"""Under a rush the database can be out of connections: that is a 503 to retry, not a 500."""

from __future__ import annotations

import asyncpg
import httpx
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.enrolment.app import create_app


async def _answers(environment: dict[str, str], error: Exception) -> httpx.Response:
    app = create_app()

    @app.get("/failing")
    async def failing() -> None:
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://enrolment") as client:
        return await client.get("/failing")


async def test_pool_timeout_answers_503_with_retry_after(environment: dict[str, str]) -> None:
    response = await _answers(environment, PoolTimeout("QueuePool limit reached"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/busy")


async def test_a_server_out_of_connections_answers_503(environment: dict[str, str]) -> None:
    refused = asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
    response = await _answers(environment, DBAPIError("connect", {}, refused))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["type"].endswith("/database-unavailable")


async def test_a_failing_statement_is_still_an_internal_error(environment: dict[str, str]) -> None:
    response = await _answers(environment, DBAPIError("select 1", {}, ValueError("bad")))
    assert response.status_code == 500
    assert response.json()["type"].endswith("/internal")
