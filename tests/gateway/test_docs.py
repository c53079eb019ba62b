"""The merged OpenAPI document, /docs without a CDN, and the events document."""

from __future__ import annotations

from shared.events import EVENT_TYPES
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


async def test_docs_are_served_without_a_cdn(suite: Suite) -> None:
    page = await suite.gateway.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "/docs/assets/swagger-ui-bundle.js" in page.text
    asset = await suite.gateway.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200


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
