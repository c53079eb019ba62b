"""Chaos, as production would meet it: the suite on a 3-node JetStream cluster with R3
streams, programs finishing one after another, and meanwhile a NATS node, each of the five
parts, then all of NATS SIGKILLed (the supervisor restarts parts; the nodes are started
again). Then a reconciliation: every completion's hours are credited once — none lost, none
twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import nats
import pytest

from tests.conftest import RUN_ID
from tests.e2e.nats_cluster import Cluster, nats_cluster
from tests.e2e.processes import Running, pids_on_ports, ready, supervised
from tests.e2e.test_across_services import published_program
from tests.e2e.test_slice import TODAY, created, login
from tests.harness import ADMIN_PASSWORD, wait_for

# gateway/accounts.py: the bootstrap admin's id.
ADMIN_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "shixun:account:admin"))

pytestmark = pytest.mark.slow

TEACHERS = 15
PROGRAMS = 10  # one finishes before each disruption, and one after the last
NAME = "chaos"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with nats_cluster(tmp_path / "nats") as running:
        yield running


@pytest.fixture
def suite_on_cluster(tmp_path: Path, cluster: Cluster) -> Iterator[Running]:
    extra = {
        "NATS_URL": cluster.url,
        "SHIXUN_STREAM_REPLICAS": "3",
        "SHIXUN_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # The admin sets up the whole load (150 enrolments in a burst): bulk work, as in the
        # selection-day bench; the per-account limit is not what this test is about.
        "SHIXUN_GATEWAY_RATE_UNLIMITED_ACCOUNTS": json.dumps([ADMIN_ID]),
    }
    with supervised(tmp_path, NAME, extra) as running:
        yield running


async def answered(
    gw: httpx.AsyncClient, method: str, path: str, headers: dict, body: object = None
) -> httpx.Response | None:
    """The response, or None while a part it needs is down (refused, or 502/503/504)."""
    try:
        response = await gw.request(method, path, headers=headers, json=body)
    except httpx.TransportError:
        return None
    # Busy, restarting or rate-limited: asked again at the next poll.
    return None if response.status_code in (429, 502, 503, 504) else response


async def advance(
    gw: httpx.AsyncClient, admin: dict, program_id: str, action: str, status: str, body: object
) -> None:
    """Move a program on, retried until it has moved: a retry after a lost answer finds the
    status already reached instead of repeating the transition."""

    async def moved() -> bool:
        current = await answered(gw, "GET", f"/v1/programs/{program_id}", admin)
        if current is None:
            return False
        assert current.status_code == 200, current.text
        if current.json()["status"] == status:
            return True
        response = await answered(gw, "POST", f"/v1/programs/{program_id}/{action}", admin, body)
        return response is not None and response.status_code == 200

    await wait_for(moved, timeout=120, interval=0.3)


def sigkill_part(running: Running, port: int) -> Callable[[], None]:
    """SIGKILL every process of a part: its web process and its worker process (relay,
    consumers, jobs) where it runs as two."""

    def kill() -> None:
        pids = pids_on_ports(*running.ports_of(port))
        assert pids, f"no process serves port {port}"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)

    return kill


async def ledger_caught_up(cluster: Cluster) -> bool:
    """The ledger's consumer of enrolment events has nothing pending nor unacknowledged."""
    nc = await nats.connect(cluster.url.split(","))
    try:
        stream = f"{NAME}{RUN_ID}_ENROLMENT"  # supervised() namespaces the run's streams
        info = await nc.jetstream().consumer_info(stream, "ledger-enrolment")
        return info.num_pending == 0 and info.num_ack_pending == 0
    finally:
        await nc.close()


async def test_sigkill_of_a_nats_node_and_of_every_part_mid_load_credits_each_completion_once(
    suite_on_cluster: Running, cluster: Cluster
) -> None:
    running = suite_on_cluster
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.gateway}", timeout=30) as gw:
        ports = [running.gateway] + [running.base + i for i in range(4)]
        for port in ports:
            await wait_for(lambda port=port: ready(gw, port), timeout=120, interval=0.2)
        admin = await login(gw, "admin", ADMIN_PASSWORD)

        school = await created(
            await gw.post(
                "/v1/schools", headers=admin, json={"name": "混沌小学", "stage": "primary"}
            )
        )
        institution = await created(
            await gw.post("/v1/institutions", headers=admin, json={"name": "混沌进修学校"})
        )
        teachers = [
            await created(
                await gw.post(
                    "/v1/teachers",
                    headers=admin,
                    json={
                        "name": f"混沌{i}号老师",
                        "school_id": school["id"],
                        "stage": "primary",
                        "subject": "数学",
                        "hired_on": "2014-09-01",
                    },
                )
            )
            for i in range(TEACHERS)
        ]
        # teacher id -> {enrolment id: hours}: what the ledger must end up holding.
        expected: dict[str, dict[str, Decimal]] = {t["id"]: {} for t in teachers}
        programs: list[tuple[dict, list[dict]]] = []
        for p in range(PROGRAMS):
            hours = Decimal(6 + p)
            starts = TODAY + dt.timedelta(days=10 + 3 * p)  # a teacher's programs may not overlap
            program = await published_program(
                gw,
                admin,
                institution_id=institution["id"],
                title=f"混沌第{p}期",
                hours=f"{hours}",
                capacity=TEACHERS,
                starts_on=starts.isoformat(),
                ends_on=(starts + dt.timedelta(days=1)).isoformat(),
            )
            enrolments = []
            for teacher in teachers:
                enrolment = await created(
                    await gw.post(
                        f"/v1/programs/{program['id']}/enrolments",
                        headers=admin,
                        json={"teacher_id": teacher["id"]},
                    )
                )
                expected[teacher["id"]][enrolment["id"]] = hours
                enrolments.append(enrolment)
            programs.append((program, enrolments))

        enrolment_port, ledger_port, budget_port, feedback_port = ports[1:]
        disruptions: list[Callable[[], None]] = [
            cluster.nodes[0].kill,  # the cluster carries on with two of three
            sigkill_part(running, ledger_port),  # while it takes the last program's completions
            sigkill_part(running, enrolment_port),  # with completions still in its outbox
            sigkill_part(running, budget_port),
            sigkill_part(running, feedback_port),
            sigkill_part(running, running.gateway),
            cluster.nodes[0].start,  # the node rejoins and catches up from its store
            cluster.kill,  # all of NATS: the next completions wait in enrolment's outbox
            cluster.start,  # back from the stores, which took every acknowledged write
        ]
        for p, (program, enrolments) in enumerate(programs):
            results = [
                {"enrolment_id": e["id"], "attendance_rate": "0.95", "passed": True}
                for e in enrolments
            ]
            pid = program["id"]
            await advance(gw, admin, pid, "close-enrolment", "enrolment_closed", None)
            await advance(gw, admin, pid, "start", "running", None)
            await advance(gw, admin, pid, "finish", "finished", {"results": results})
            if p < len(disruptions):
                disruptions[p]()

        for port in ports:
            await wait_for(lambda port=port: ready(gw, port), timeout=120, interval=0.2)
        assert "ledger exited" in running.output() and "gateway exited" in running.output()

        async def ledger_of(teacher_id: str) -> list[dict]:
            response = await answered(gw, "GET", f"/v1/teachers/{teacher_id}/ledger", admin)
            assert response is not None and response.status_code == 200, response
            return response.json()["items"]

        async def all_credited() -> bool:
            for teacher_id, owed in expected.items():
                if len(await ledger_of(teacher_id)) < len(owed):
                    return False
            return True

        await wait_for(all_credited, timeout=180, interval=1)
        await wait_for(lambda: ledger_caught_up(cluster), timeout=120, interval=1)

        for teacher_id, owed in expected.items():
            entries = await ledger_of(teacher_id)
            credited = sorted((e["source_ref"], Decimal(e["hours"])) for e in entries)
            assert credited == sorted(owed.items()), teacher_id
            hours = (await gw.get(f"/v1/teachers/{teacher_id}/hours", headers=admin)).json()
            assert Decimal(hours["total_hours"]) == sum(owed.values())
