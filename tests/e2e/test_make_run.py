"""`make run`'s supervisor as a user meets it: real processes and sockets, the slice through
http://127.0.0.1, a crashed service restarted without the others noticing, a clean Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.embedded_nats import port_open
from tests.e2e.processes import Running, pid_of, pid_on_port, pids_on_ports, ready, supervised
from tests.e2e.test_slice import run_slice
from tests.harness import wait_for


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Running]:
    with supervised(tmp_path, "smoke", {}) as running:
        yield running


async def test_make_run_serves_the_slice_survives_a_crash_and_stops_cleanly(
    supervisor: Running,
) -> None:
    banner = await wait_for(
        lambda: re.search(r"admin login:\s+username admin, password (\S+)", supervisor.output()),
        timeout=120,
        interval=0.2,
    )
    password = banner.group(1)
    assert f"http://127.0.0.1:{supervisor.gateway}" in supervisor.output()
    base_url = f"http://127.0.0.1:{supervisor.gateway}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as gw:
        await wait_for(lambda: ready(gw, supervisor.gateway), timeout=60)
        await run_slice(gw, password)
        docs = await gw.get("/docs")
        assert docs.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in docs.text
        assert (await gw.get("/docs/assets/swagger-ui-bundle.js")).status_code == 200
        spec = (await gw.get("/openapi.json")).json()
        assert "/v1/teachers/{teacher_id}/hours" in spec["paths"]
        assert "/v1/programs/{program_id}/enrolments" in spec["paths"]

        await background_work_runs_apart_on_postgresql(supervisor)
        ledger, enrolment = supervisor.base + 1, supervisor.base
        os.kill(pid_on_port(ledger), signal.SIGKILL)
        await wait_for(lambda: not port_open("127.0.0.1", ledger), timeout=10)
        assert await ready(gw, enrolment), "a crash of one service took another down"
        await wait_for(lambda: ready(gw, ledger), timeout=60, interval=0.2)
        assert "ledger exited" in supervisor.output()

    supervisor.process.send_signal(signal.SIGINT)
    assert supervisor.process.wait(timeout=30) == 0
    await asyncio.sleep(0.5)
    for port in [
        *range(supervisor.base - 1, supervisor.base + 4),
        *supervisor.worker_ports.values(),
    ]:
        assert not port_open("127.0.0.1", port), f"port {port} still served after Ctrl-C"


@pytest.fixture
def supervisor_with_nats(tmp_path: Path) -> Iterator[Running]:
    with supervised(tmp_path, "natscrash", {}, embedded_nats=True) as running:
        yield running


def nats_server_of(store: Path) -> int:
    return pid_of(f"nats-server -c {store / 'nats.conf'}$")


async def test_a_killed_nats_server_comes_back_on_its_port_and_store(
    supervisor_with_nats: Running, tmp_path: Path
) -> None:
    """The supervisor's own nats-server is watched like the services: after a SIGKILL it is
    started again on the same port and store, and events written after the crash (the
    slice's completion, which the ledger must take from NATS) are delivered."""
    running = supervisor_with_nats
    banner = await wait_for(
        lambda: re.search(r"admin login:\s+username admin, password (\S+)", running.output()),
        timeout=120,
        interval=0.2,
    )
    store = tmp_path / "data" / "nats"
    streams_before = sorted(p.name for p in (store / "jetstream").rglob("streams/*"))
    killed = nats_server_of(store)
    os.kill(killed, signal.SIGKILL)
    await wait_for(lambda: "nats-server exited" in running.output(), timeout=10, interval=0.1)
    await wait_for(lambda: port_open("127.0.0.1", running.nats_port), timeout=60, interval=0.2)
    assert nats_server_of(store) != killed
    assert sorted(p.name for p in (store / "jetstream").rglob("streams/*")) == streams_before
    base_url = f"http://127.0.0.1:{running.gateway}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as gw:
        await wait_for(lambda: ready(gw, running.gateway), timeout=60)
        await run_slice(gw, banner.group(1))


async def background_work_runs_apart_on_postgresql(supervisor: Running) -> None:
    """On PostgreSQL each part's relay, consumers and jobs run in a process of their own at a
    lower priority, so on selection day HTTP answers come first; on SQLite files (one writer
    a file) a part is one process."""
    workers = supervisor.worker_ports.values()
    if not os.environ.get("DATABASE_URL"):
        assert not pids_on_ports(*workers)
        return
    for port in workers:
        await wait_for(lambda port=port: port_open("127.0.0.1", port), timeout=60, interval=0.2)
    pids = pids_on_ports(*workers)
    assert len(pids) == len(supervisor.worker_ports)
    for pid in pids:
        assert os.getpriority(os.PRIO_PROCESS, pid) == 10
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert any(e.endswith(b"_ROLE=worker") for e in environ)
    web = [supervisor.gateway, *range(supervisor.base, supervisor.base + 4)]
    for pid in pids_on_ports(*web):
        assert os.getpriority(os.PRIO_PROCESS, pid) == 0


@pytest.fixture
def doomed_supervisor(tmp_path: Path) -> Iterator[Running]:
    # A sync fixture: its teardown drops the databases with asyncio.run, outside the test's loop.
    with supervised(tmp_path, "orphans", {}) as running:
        yield running


async def test_no_part_outlives_a_killed_supervisor(doomed_supervisor: Running) -> None:
    running = doomed_supervisor
    await wait_for(lambda: "shixun is up" in running.output(), timeout=120, interval=0.2)
    web = [running.gateway] + [running.base + i for i in range(4)]
    pids = pids_on_ports(*web, *running.worker_ports.values())  # worker processes too, if any
    assert len(pids) >= len(web)
    running.process.send_signal(signal.SIGKILL)
    running.process.wait()
    await wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=30, interval=0.2)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
