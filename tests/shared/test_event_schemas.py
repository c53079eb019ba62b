"""Event contracts are snapshotted: a change must be additive, or a new .v2 subject.

After an additive change, refresh with SHIXUN_UPDATE_SNAPSHOTS=1 and commit the snapshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shared.events import EVENT_TYPES

SNAPSHOTS = Path(__file__).parent / "snapshots"
PRODUCERS = sorted({subject.split(".", 1)[0] for subject in EVENT_TYPES})


def schemas_of(producer: str) -> dict:
    return {
        subject: cls.model_json_schema(mode="serialization")
        for subject, cls in sorted(EVENT_TYPES.items())
        if subject.startswith(producer + ".")
    }


@pytest.mark.parametrize("producer", PRODUCERS)
def test_event_schemas_change_only_additively(producer: str) -> None:
    path = SNAPSHOTS / f"events_{producer}.json"
    current = schemas_of(producer)
    if os.environ.get("SHIXUN_UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(json.dumps(current, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    snapshot = json.loads(path.read_text())
    for subject, old in snapshot.items():
        assert subject in current, f"{subject} was removed; publish a new version instead"
        new = current[subject]
        removed = set(old.get("properties", {})) - set(new.get("properties", {}))
        assert not removed, f"{subject} lost fields {removed}; use a new .v2 subject"
        newly_required = set(new.get("required", [])) - set(old.get("required", []))
        assert not newly_required, f"{subject} now requires {newly_required}; give them defaults"
        for name, prop in old.get("properties", {}).items():
            assert new["properties"][name].get("type") == prop.get("type"), (
                f"{subject}.{name} changed type"
            )
    assert current == snapshot, "event schemas changed: refresh the snapshot and commit it"


def test_every_subject_is_versioned_and_in_its_producers_stream() -> None:
    for subject, cls in EVENT_TYPES.items():
        producer = subject.split(".", 1)[0]
        assert cls.stream == producer.upper(), subject
        assert subject.rsplit(".", 1)[1].startswith("v"), subject
