"""The event base class and the registry of subjects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EVENT_TYPES: dict[str, type[Event]] = {}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UnknownEvent(ValueError):
    pass


class Event(BaseModel):
    # extra="ignore": an older consumer keeps working when a producer adds a field.
    model_config = ConfigDict(frozen=True, extra="ignore")

    subject: ClassVar[str]
    stream: ClassVar[str]
    # False for events that carry login identifiers: they stay between the services.
    webhook: ClassVar[bool] = True

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        subject = cls.__dict__.get("subject")
        if subject is None:
            return
        if subject in EVENT_TYPES and EVENT_TYPES[subject] is not cls:
            raise TypeError(f"event subject {subject} is defined twice")
        if not subject.rsplit(".", 1)[-1].startswith("v"):
            raise TypeError(f"event subject {subject} must end in a version such as .v1")
        EVENT_TYPES[subject] = cls


def parse_event(subject: str, data: bytes | str) -> Event:
    cls = EVENT_TYPES.get(subject)
    if cls is None:
        raise UnknownEvent(f"no event is registered for subject {subject}")
    return cls.model_validate_json(data)
