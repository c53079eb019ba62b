"""Every part refuses an oversized body (413) and NUL characters (400) before an endpoint
reads them, whether called through the gateway or directly; file uploads get more room."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from tests.e2e.test_bad_input import assert_problem, counts
from tests.harness import Suite

DEFAULT_MAX_BODY = 1024 * 1024  # shared.edge.DEFAULT_MAX_BODY, the documented default

# One POST endpoint of each service that takes JSON (the ids need not exist: the edge
# answers first).
ENDPOINTS = {
    "enrolment": "/v1/schools",
    "ledger": "/v1/ledger/entries",
    "budget": "/v1/funds",
    "feedback": "/v1/appraisal-templates",
}


def big_json(size: int) -> bytes:
    return json.dumps({"name": "x" * size, "stage": "primary"}).encode()


async def test_oversized_bodies_are_413_at_the_gateway_and_every_service(suite: Suite) -> None:
    admin = suite.headers()
    before = await counts(suite)
    huge = big_json(25 * 1024 * 1024)  # the reported 25 MB
    response = await suite.gateway.post(
        "/v1/schools", headers=admin | {"Content-Type": "application/json"}, content=huge
    )
    assert_problem(response, 413, mentions="上限")
    assert response.json()["max_bytes"] == DEFAULT_MAX_BODY
    just_over = big_json(DEFAULT_MAX_BODY)
    for name, path in ENDPOINTS.items():
        direct = await suite.direct[name].post(
            path, headers=admin | {"Content-Type": "application/json"}, content=just_over
        )
        assert_problem(direct, 413, mentions="上限")

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(40):
            yield b" " * 64 * 1024

    chunked = await suite.direct["enrolment"].post(
        "/v1/schools", headers=admin | {"Content-Type": "application/json"}, content=streamed()
    )
    assert_problem(chunked, 413, mentions="上限")
    assert await counts(suite) == before


async def test_file_uploads_have_their_own_larger_limit(suite: Suite) -> None:
    """A 2 MB roster is read by its endpoint (and refused there for what it holds, not for
    its size); the same bytes as JSON are a 413."""
    bureau = suite.headers()
    roster = "姓名,学段,学科\n" + f"{'张' * 20},primary,数学\n" * 30_000  # 2.2 MB
    upload = await suite.gateway.post(
        "/v1/teachers/imports",
        headers=bureau,
        files={"file": ("roster.csv", roster.encode(), "text/csv")},
        data={"mode": "all_or_nothing"},
    )
    assert upload.status_code != 413, upload.text


async def test_nul_characters_are_refused_by_every_service_called_directly(suite: Suite) -> None:
    admin = suite.headers()
    before = await counts(suite)
    body = json.dumps({"name": "实验\u0000中学", "stage": "primary"})
    for name, path in ENDPOINTS.items():
        response = await suite.direct[name].post(
            path, headers=admin | {"Content-Type": "application/json"}, content=body
        )
        assert_problem(response, 400, mentions="NUL")
        listed = await suite.direct[name].get(f"{path}?x=%00", headers=admin)
        assert_problem(listed, 400, mentions="NUL")
    assert await counts(suite) == before


async def test_a_forged_cursor_is_a_400_on_every_service(suite: Suite) -> None:
    import base64
    import uuid

    def forged(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    cursors = [
        forged(["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
        forged(["2026-01-01T00:00:00", str(uuid.uuid4())]),  # no zone
        forged([1, 2]),
        forged(["2026-01-01T00:00:00+00:00", 7]),
        forged({"a": 1}),
        forged(["x", "y", "z"]),
        "!!!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ]
    admin = suite.headers()
    lists = {
        "enrolment": "/v1/schools",
        "ledger": "/v1/ledger/imports",
        "budget": "/v1/funds",
        "feedback": "/v1/appraisal-templates",
    }
    for name, path in lists.items():
        for cursor in cursors:
            response = await suite.direct[name].get(path, headers=admin, params={"cursor": cursor})
            assert_problem(response, 400, mentions="翻页标记")
    for cursor in cursors:
        response = await suite.gateway.get("/v1/webhooks", headers=admin, params={"cursor": cursor})
        assert_problem(response, 400, mentions="翻页标记")
