"""The merged OpenAPI document, /docs without a CDN, and the events document."""

from __future__ import annotations

import re
from pathlib import Path

from shared.events import EVENT_TYPES
from tests.browser import rendered_dom, screenshot, served
from tests.harness import Suite, wait_for


async def test_events_document_lists_every_event_with_its_schema(suite: Suite) -> None:
    response = await suite.gateway.get("/asyncapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"]: name for name, c in document["channels"].items()}
    assert addresses.keys() == EVENT_TYPES.keys()
    for subject, event_type in EVENT_TYPES.items():
        name = addresses[subject]
        payload = document["components"]["schemas"][name]
        fields = set(event_type.model_json_schema(mode="serialization")["properties"])
        assert set(payload["properties"]) == fields
        assert f"receive{name}" in document["operations"]
    refs = str(document)
    for ref in {r.split("'")[0] for r in refs.split("#/components/schemas/")[1:]}:
        assert ref in document["components"]["schemas"], f"dangling $ref {ref}"


async def test_docs_render_every_service_in_chromium_with_no_internet(
    suite: Suite, tmp_path: Path
) -> None:
    """What a developer sees at /docs: Swagger UI 5 reads the OpenAPI 3.1 document and lists
    the operations of every service, with every host but this one unreachable."""
    async with served(suite.gateway_app) as base:
        dom = await rendered_dom(f"{base}/docs")
        await screenshot(f"{base}/docs", tmp_path / "docs.png")
        redoc = await rendered_dom(f"{base}/redoc")
    assert "Unable to render this definition" not in dom
    paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    for path in ("/v1/programs", "/v1/teachers/{teacher_id}/hours", "/v1/funds", "/v1/me"):
        assert path in paths, f"{path} not rendered"
    assert len(paths) >= 60
    assert (tmp_path / "docs.png").stat().st_size > 10_000
    # ReDoc lists the same operations in its side menu.
    assert "/v1/programs/{program_id}/enrolments" in redoc
    page = await suite.gateway.get("/docs")
    assert "cdn" not in page.text.lower()


async def test_openapi_merges_every_service(suite: Suite) -> None:
    document = (await suite.gateway.get("/openapi.json")).json()
    assert "x-missing-services" not in document["info"]
    paths = document["paths"]
    for path in (
        "/v1/schools",
        "/v1/teachers/{teacher_id}/hours",
        "/v1/me/dashboard",
        "/v1/webhooks",
    ):
        assert path in paths


async def test_readyz_reports_the_services_and_the_event_link(suite: Suite) -> None:
    await wait_for(lambda: suite.gateway_app.state.nats.connected, timeout=20)
    response = await suite.gateway.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == "ok" and checks["nats"] == "ok"
    assert {checks[name] for name in ("enrolment", "ledger", "budget", "feedback")} == {"ok"}
