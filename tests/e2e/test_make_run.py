"""`make run`'s supervisor as a user meets it: real processes and sockets, the slice through
http://127.0.0.1, a crashed service restarted without the others noticing, a clean Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.config import server_database
from shared.db import drop_database
from shared.embedded_nats import free_port, port_open
from tests.conftest import RUN_ID
from tests.e2e.test_slice import run_slice
from tests.harness import wait_for

SERVICES = ("enrolment", "ledger", "budget", "feedback", "gateway")


def free_block(size: int) -> int:
    for _ in range(200):
        # Below Linux's ephemeral range (32768+), where outgoing connections (to PostgreSQL,
        # NATS) could take one of the ports between this check and the service's bind.
        base = random.randint(20000, 32000)
        if not any(port_open("127.0.0.1", base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports")


class Running:
    def __init__(self, process: subprocess.Popen[bytes], log: Path, gateway: int, base: int):
        self.process, self.log, self.gateway, self.base = process, log, gateway, base

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Running]:
    base = free_block(5)
    gateway, first_service = base, base + 1
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SHIXUN_") or k == "SHIXUN_PII_KEY"
    }
    env.pop("SHIXUN_BOOTSTRAP_ADMIN_PASSWORD", None)
    databases: list[str] = []
    if env.get("DATABASE_URL"):
        # Real servers: databases and a NATS namespace of this test's own.
        for name in SERVICES:
            url = server_database(env["DATABASE_URL"], f"shixun_smoke_{name}_{RUN_ID}")
            env[f"SHIXUN_{name.upper()}_DATABASE_URL"] = url
            databases.append(url)
    if env.get("NATS_URL"):
        env["SHIXUN_NATS_NAMESPACE"] = f"smoke{RUN_ID}"
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shared.supervisor",
                "--gateway-port",
                str(gateway),
                "--base-port",
                str(first_service),
                "--data-dir",
                str(tmp_path / "data"),
                "--nats-port",
                str(free_port()),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Running(process, log, gateway, first_service)
    yield running
    if process.poll() is None:
        process.kill()
        process.wait()
    for url in databases:
        asyncio.run(drop_database(url))


def pid_on_port(port: int) -> int:
    out = subprocess.run(
        ["pgrep", "-f", f"shared.serve .*--port {port}$"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert len(out) == 1, out
    return int(out[0])


async def ready(client: httpx.AsyncClient, port: int) -> bool:
    try:
        return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


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
