"""The JetStream streams: one per producing service, created idempotently by anyone using it."""

from __future__ import annotations

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

STREAMS: dict[str, list[str]] = {
    "ENROLMENT": ["enrolment.>"],
    "LEDGER": ["ledger.>"],
    "BUDGET": ["budget.>"],
    "FEEDBACK": ["feedback.>"],
}

# JetStream drops a second message with the same Nats-Msg-Id within this window.
DUPLICATE_WINDOW_SECONDS = 15 * 60


class Namespace:
    """Prefixes stream names and subjects, so several environments (or test runs) can share
    one NATS server without seeing each other's events. Empty in a normal deployment."""

    def __init__(self, prefix: str = "") -> None:
        if prefix and not prefix.replace("-", "").replace("_", "").isalnum():
            raise ValueError("a NATS namespace is letters, digits, - and _")
        self.prefix = prefix

    def stream(self, name: str) -> str:
        return f"{self.prefix}_{name}" if self.prefix else name

    def subject(self, subject: str) -> str:
        return f"{self.prefix}.{subject}" if self.prefix else subject

    def unprefix(self, subject: str) -> str:
        if self.prefix and subject.startswith(self.prefix + "."):
            return subject[len(self.prefix) + 1 :]
        return subject


def stream_config(name: str, replicas: int = 1, namespace: Namespace | None = None) -> StreamConfig:
    namespace = namespace or Namespace()
    return StreamConfig(
        name=namespace.stream(name),
        subjects=[namespace.subject(s) for s in STREAMS[name]],
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


async def ensure_stream(
    js: JetStreamContext, name: str, replicas: int = 1, namespace: Namespace | None = None
) -> None:
    config = stream_config(name, replicas, namespace)
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(config)
            return
        except nats.js.errors.BadRequestError:
            info = await js.stream_info(config.name)  # created concurrently by another service
    current = info.config
    if (
        sorted(current.subjects or []) != sorted(config.subjects or [])
        or current.duplicate_window != config.duplicate_window
    ):
        await js.update_stream(config)
