"""OpenTelemetry: one request through the gateway and the event it causes are one trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.events.enrolment import SchoolRegistered
from shared.telemetry import use_tracer_provider
from tests.harness import ADMIN_PASSWORD, Suite, wait_for


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for one test; off again after it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    yield exporter
    use_tracer_provider(None)
    provider.shutdown()


def one(found: list[ReadableSpan]) -> ReadableSpan:
    assert len(found) == 1, [s.name for s in found]
    return found[0]


async def test_a_request_and_the_event_it_causes_share_one_trace(
    suite: Suite, spans: InMemorySpanExporter
) -> None:
    admin = await suite.login("admin", ADMIN_PASSWORD)
    spans.clear()
    response = await suite.gateway.post(
        "/v1/schools", headers=admin, json={"name": "链路小学", "stage": "primary"}
    )
    assert response.status_code == 201, response.text
    finished = spans.get_finished_spans()
    at_gateway = one([s for s in finished if s.name == "POST forwarded:enrolment"])
    trace_id = at_gateway.context.trace_id
    forwarding = one([s for s in finished if s.name == "forward to enrolment"])
    at_service = one([s for s in finished if s.name == "POST /v1/schools"])
    assert at_gateway.kind is SpanKind.SERVER and at_service.kind is SpanKind.SERVER
    assert forwarding.parent.span_id == at_gateway.context.span_id
    assert at_service.parent.span_id == forwarding.context.span_id
    assert at_service.context.trace_id == trace_id
    assert at_service.attributes["http.response.status_code"] == 201

    def applied() -> list[ReadableSpan]:
        return [
            s
            for s in spans.get_finished_spans()
            if s.name == f"apply {SchoolRegistered.subject}" and s.context.trace_id == trace_id
        ]

    # Through the outbox, NATS headers and a consumer (budget, feedback, the gateway's own).
    consumed = await wait_for(applied, timeout=30)
    assert all(s.kind is SpanKind.CONSUMER for s in consumed)
    assert all(s.parent.span_id == at_service.context.span_id for s in consumed)
