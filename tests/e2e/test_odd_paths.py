"""Odd paths, through the gateway and straight to each service: a 4xx problem, never a 5xx,
never another endpoint than the one the path names (issue 18)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from shared.paths import decoded_path, encoded_path, path_segments
from tests.harness import Suite

# One public path per service, `{}` standing for the odd segment.
PATHS = {
    "enrolment": ["/v1/teachers/{}", "/v1/programs/{}/enrolments"],
    "ledger": ["/v1/teachers/{}/hours", "/v1/policies/{}"],
    "budget": ["/v1/funds/{}/journal", "/v1/programs/{}/budget"],
    "feedback": ["/v1/follow-ups/{}", "/v1/appraisal-templates/{}"],
}
# class of odd segment -> (the segment as sent, the statuses it may get)
ODD = {
    "control characters": ("a%0Ab%1B%7F", {400}),
    "NUL": ("%00", {400}),
    "overlong UTF-8": ("%C0%AE%C0%AE", {400}),
    "%2f": ("a%2Fhours", {404}),
    "%2e%2e": ("%2e%2e", {404}),
    "%25": ("%2541", {404, 405, 422}),  # forwarded: the service answers it
}
CASES = [
    pytest.param(service, path, odd, statuses, id=f"{service}{path}-{name}")
    for service, paths in PATHS.items()
    for path in paths
    for name, (odd, statuses) in ODD.items()
]


async def send(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    url = client.base_url.copy_with(raw_path=path.encode("ascii"))
    assert url.raw_path == path.encode("ascii")  # sent byte for byte, as an outsider may
    return await client.request(method, url, headers=headers)


@pytest.fixture
def bearer(suite: Suite) -> dict[str, str]:
    return suite.headers()


def assert_refused(response: httpx.Response, statuses: set[int]) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code


@pytest.mark.parametrize(("service", "path", "odd", "statuses"), CASES)
async def test_odd_path_is_a_problem_through_the_gateway_and_direct(
    suite: Suite, bearer: dict[str, str], service: str, path: str, odd: str, statuses: set[int]
) -> None:
    target = path.format(odd)
    for method in ("GET", "POST", "PATCH"):
        assert_refused(await send(suite.gateway, method, target, bearer), statuses)
        assert_refused(await send(suite.direct[service], method, target, bearer), statuses)


@pytest.mark.parametrize("service", list(PATHS))
async def test_dot_segments_never_reach_a_services_own_documents(
    suite: Suite, bearer: dict[str, str], service: str
) -> None:
    for document in ("openapi.json", "docs"):
        for target in (
            f"/v1/teachers/%2e%2e/%2e%2e/{document}",
            f"/v1/funds/%2E%2E/%2e%2E/{document}",
            f"/v1/%2e%2e/{document}",
        ):
            assert_refused(await send(suite.gateway, "GET", target, bearer), {404})
            assert_refused(await send(suite.direct[service], "GET", target, bearer), {404})


async def test_the_gateway_forwards_the_raw_path_decoded_once(
    suite: Suite, bearer: dict[str, str]
) -> None:
    # `%25…` is "%…" to the service, not decoded twice: the service names what it got.
    teacher = uuid.uuid4()
    response = await send(suite.gateway, "GET", f"/v1/teachers/%25{teacher}", bearer)
    assert response.status_code == 422
    assert response.json()["instance"] == f"/v1/teachers/%{teacher}"


def test_segments_are_split_before_they_are_decoded() -> None:
    segments = path_segments(b"/v1/teachers/%2541/%E5%B8%88")
    assert segments == ["v1", "teachers", "%41", "师"]
    assert decoded_path(segments) == "/v1/teachers/%41/师"
    assert encoded_path(segments) == "/v1/teachers/%2541/%E5%B8%88"
    # Encoding once more changes nothing: what is sent is what was meant.
    assert encoded_path(path_segments(encoded_path(segments).encode())) == encoded_path(segments)
