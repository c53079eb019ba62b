"""Events: facts in the past tense, one frozen model per subject, additive changes only.

A breaking change is a new `.v2` subject. Importing this package registers every event.
"""

from shared.events import budget, enrolment, feedback, ledger  # noqa: F401  (registration)
from shared.events.base import EVENT_TYPES, Event, UnknownEvent, parse_event

__all__ = ["EVENT_TYPES", "Event", "UnknownEvent", "parse_event"]
