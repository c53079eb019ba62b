"""Prometheus metrics of every part (docs/operations.md, "Watching it").

What a request costs here is one histogram observation (RequestIdMiddleware calls
`observe_request`). Whatever needs the database or NATS (outbox backlog, consumer lag,
dead letters) is computed when Prometheus scrapes (shared/messaging/gauges.py), never per
request. Every series carries `part`, so the five parts in one test process stay apart.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import Scope

# Set by the gateway's forwarding for what it sends on without routing it itself.
FORWARDED_TO = "shixun.forwarded_to"

REQUEST_SECONDS = Histogram(
    "shixun_http_request_duration_seconds",
    "Time to answer a request, by route template (never the raw path) and status.",
    ["part", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WORKER_RUNS = Counter(
    "shixun_worker_runs_total",
    "Runs of a background worker (relay pass, consumer batch, sweep, dispatcher pass).",
    ["part", "worker", "outcome"],
)
WORKER_LAST_SUCCESS = Gauge(
    "shixun_worker_last_success_timestamp_seconds",
    "When a worker last finished a run without error (Unix time).",
    ["part", "worker"],
)
OUTBOX_BACKLOG = Gauge(
    "shixun_outbox_backlog", "Events committed but not yet published to NATS.", ["part"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "shixun_outbox_oldest_age_seconds",
    "Age of the oldest unpublished event (0 when none waits).",
    ["part"],
)
CONSUMER_PENDING = Gauge(
    "shixun_consumer_pending",
    "Events in the stream the durable consumer has not been delivered yet (its lag).",
    ["consumer", "stream"],
)
CONSUMER_ACK_PENDING = Gauge(
    "shixun_consumer_ack_pending",
    "Events delivered to the consumer and not yet acknowledged.",
    ["consumer", "stream"],
)
DEAD_LETTERS = Gauge(
    "shixun_dead_letters",
    "Dead letters of a consumer not applied since (replay them: docs/operations.md).",
    ["part", "consumer"],
)


def route_of(scope: Scope) -> str:
    """The route template that answered (`/v1/programs/{program_id}`), the service a request
    was forwarded to, or `unmatched`: a label of few values whatever paths clients send."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path", "unmatched")
    forwarded = scope.get(FORWARDED_TO)
    return f"forwarded:{forwarded}" if forwarded else "unmatched"


def observe_request(part: str, scope: Scope, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(part, scope["method"], route_of(scope), str(status)).observe(seconds)


def worker_ran(part: str, worker: str, *, ok: bool) -> None:
    """A worker finished one run; `ok` False when it failed (and will try again)."""
    WORKER_RUNS.labels(part, worker, "ok" if ok else "error").inc()
    if ok:
        WORKER_LAST_SUCCESS.labels(part, worker).set_to_current_time()
