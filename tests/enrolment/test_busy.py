"""Under a rush the database pool can stay busy past its timeout: that is a 503, not a 500."""

from __future__ import annotations

import httpx
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.enrolment.app import create_app


async def test_pool_timeout_answers_503_with_retry_after(environment: dict[str, str]) -> None:
    app = create_app()

    @app.get("/pool-exhausted")
    async def pool_exhausted() -> None:
        raise PoolTimeout("QueuePool limit reached")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://enrolment") as client:
        response = await client.get("/pool-exhausted")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/busy")
