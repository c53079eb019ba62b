"""OpenTelemetry traces through HTTP (gateway → service) and NATS headers (outbox → consumer).

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: then
every part makes spans (a request, its forwarding, each event a consumer applies) and sends
them over OTLP/HTTP. Off, no span is made; a caller's W3C trace context (`traceparent`,
`tracestate`) is still carried on to the services, the events and the webhooks it causes,
which costs one header lookup per request without one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# W3C trace context only: the global default would add baggage, which we neither use nor pass.
PROPAGATOR = TraceContextTextMapPropagator()
HEADERS = ("traceparent", "tracestate")

_tracer: trace.Tracer | None = None  # None: tracing is off


def configure_tracing(part: str) -> None:
    """Once per process: an SDK tracer exporting over OTLP/HTTP, if an endpoint is set."""
    if _tracer is not None or not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"shixun-{part}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use_tracer_provider(provider)


def use_tracer_provider(provider: trace.TracerProvider | None) -> None:
    """Trace with this provider from now on (None: off). Tests use one with a memory exporter."""
    global _tracer
    _tracer = provider.get_tracer("shixun") if provider is not None else None


@contextmanager
def span(
    name: str, *, carrier: Mapping[str, str] | None = None, kind: SpanKind = SpanKind.INTERNAL
) -> Iterator[trace.Span | None]:
    """A span of ours, the current one inside the block, continuing the trace context in
    `carrier` (the headers of a request or a message), else the current one. Tracing off:
    only the carrier's context is made current, so it is carried on; no span is made."""
    if _tracer is None:
        with continued(carrier):
            yield None
        return
    parent = PROPAGATOR.extract(carrier) if carrier else None
    with _tracer.start_as_current_span(name, context=parent, kind=kind) as current:
        yield current


@contextmanager
def continued(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """The trace context in `carrier` made the current one, without a span of ours."""
    parent = PROPAGATOR.extract(carrier) if carrier else None
    if parent is None:
        yield
        return
    token = context.attach(parent)
    try:
        yield
    finally:
        context.detach(token)


def carrier_of(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """The trace context headers among `headers`, or None when there are none."""
    if not headers:
        return None
    found = {name: headers[name] for name in HEADERS if name in headers}
    return found or None


def inject(headers: dict[str, str]) -> dict[str, str]:
    """The current trace context added to `headers` (nothing when there is none)."""
    PROPAGATOR.inject(headers)
    return headers


def current_traceparent() -> str | None:
    return inject({}).get("traceparent")


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
