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
from tests.e2e.processes import Running, pid_on_port, ready, supervised
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
        spec = (await gw.get("/openapi.json")).json()
        assert "/v1/teachers/{teacher_id}/hours" in spec["paths"]
        assert "/v1/programs/{program_id}/enrolments" in spec["paths"]

        ledger, enrolment = supervisor.base + 1, supervisor.base
        os.kill(pid_on_port(ledger), signal.SIGKILL)
        await wait_for(lambda: not port_open("127.0.0.1", ledger), timeout=10)
        assert await ready(gw, enrolment), "a crash of one service took another down"
        await wait_for(lambda: ready(gw, ledger), timeout=60, interval=0.2)
        assert "ledger exited" in supervisor.output()

    supervisor.process.send_signal(signal.SIGINT)
    assert supervisor.process.wait(timeout=30) == 0
    await asyncio.sleep(0.5)
    for port in range(supervisor.base - 1, supervisor.base + 4):
        assert not port_open("127.0.0.1", port), f"port {port} still served after Ctrl-C"


@pytest.fixture
def doomed_supervisor(tmp_path: Path) -> Iterator[Running]:
    # A sync fixture: its teardown drops the databases with asyncio.run, outside the test's loop.
    with supervised(tmp_path, "orphans", {}) as running:
        yield running


async def test_no_part_outlives_a_killed_supervisor(doomed_supervisor: Running) -> None:
    running = doomed_supervisor
    await wait_for(lambda: "shixun is up" in running.output(), timeout=120, interval=0.2)
    pids = [pid_on_port(port) for port in [running.gateway] + [running.base + i for i in range(4)]]
    running.process.send_signal(signal.SIGKILL)
    running.process.wait()
    await wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=30, interval=0.2)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
