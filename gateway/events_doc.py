"""The document of the events (AsyncAPI 3.0), generated from the event models themselves, so
it cannot drift from what the services publish and webhooks deliver."""

from __future__ import annotations

import inspect
from typing import Any

from shared.events import EVENT_TYPES, Event

REF = "#/components/schemas/{model}"


def _schema(event_type: type[Event], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = event_type.model_json_schema(ref_template=REF, mode="serialization")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    return schema


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for subject, event_type in sorted(EVENT_TYPES.items()):
        name = event_type.__name__
        schemas[name] = _schema(event_type, schemas)
        messages[name] = {
            "name": name,
            "title": subject,
            "summary": inspect.getdoc(event_type) or subject,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "the event_id"},
                    "X-Request-ID": {"type": "string"},
                    "traceparent": {"type": "string", "description": "W3C trace context"},
                },
            },
            "payload": {"$ref": REF.format(model=name)},
        }
        channels[name] = {
            "address": subject,
            "description": f"stream {event_type.stream}",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"receive{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "shixun (师训) events",
            "version": "1",
            "description": "Facts the services publish on NATS JetStream (subjects end in a "
            "version; changes are additive). Webhook deliveries wrap one of these payloads as "
            '{"event_id", "type": <subject>, "occurred_at", "data": <payload>}.',
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": "127.0.0.1:4222", "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
