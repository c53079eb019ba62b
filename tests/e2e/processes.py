"""The suite as `make run` starts it (shared.supervisor): real processes, real sockets."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shared.config import server_database
from shared.db import drop_database
from shared.embedded_nats import free_port, port_open
from shared.supervisor import SERVICES as SUPERVISED
from shared.supervisor import worker_ports_of
from tests.conftest import RUN_ID

SERVICES = ("enrolment", "ledger", "budget", "feedback", "gateway")


def free_block(size: int) -> int:
    for _ in range(200):
        # Below Linux's ephemeral range (32768+), where outgoing connections (to PostgreSQL,
        # NATS) could take one of the ports between this check and the service's bind.
        base = random.randint(20000, 32000)
        if not any(port_open("127.0.0.1", base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports")


def pids_of(pattern: str) -> list[int]:
    """The processes whose command line matches `pattern` (pgrep -f)."""
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(pid) for pid in out.stdout.split()]


def pid_of(pattern: str) -> int:
    """The one process whose command line matches `pattern`."""
    pids = pids_of(pattern)
    assert len(pids) == 1, pids
    return pids[0]


def pid_on_port(port: int) -> int:
    return pid_of(f"shared.serve .*--port {port}$")


def pids_on_ports(*ports: int) -> list[int]:
    """The processes serving any of these ports (a part's web and worker process, where it
    runs as two)."""
    return pids_of(f"shared.serve .*--port ({'|'.join(map(str, ports))})$")


async def ready(client: httpx.AsyncClient, port: int) -> bool:
    try:
        return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


class Running:
    def __init__(
        self, process: subprocess.Popen[bytes], log: Path, gateway: int, base: int, nats: int
    ):
        self.process, self.log, self.gateway, self.base = process, log, gateway, base
        self.nats_port = nats  # of the embedded nats-server, when it runs one
        # The supervisor's default ports of the parts' worker processes (on PostgreSQL each
        # part runs as a web and a worker process).
        self.worker_ports = worker_ports_of(base)

    def ports_of(self, port: int) -> tuple[int, int]:
        """The web port of a part and the port of its worker process, if it has one."""
        part = "gateway" if port == self.gateway else SUPERVISED[port - self.base]
        return port, self.worker_ports[part]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def supervised(
    tmp_path: Path, name: str, extra_env: dict[str, str], *, embedded_nats: bool = False
) -> Iterator[Running]:
    """`python -m shared.supervisor` on free ports, with databases of its own on a server;
    with `embedded_nats`, its own nats-server even where NATS_URL names one."""
    base = free_block(10)  # the gateway, four services, five worker processes
    gateway, first_service = base, base + 1
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SHIXUN_") or k == "SHIXUN_PII_KEY"
    }
    env.pop("SHIXUN_BOOTSTRAP_ADMIN_PASSWORD", None)
    env |= extra_env
    if embedded_nats:
        env.pop("NATS_URL", None)
    databases: list[str] = []
    if env.get("DATABASE_URL"):
        for service in SERVICES:
            url = server_database(env["DATABASE_URL"], f"shixun_{name}_{service}_{RUN_ID}")
            env[f"SHIXUN_{service.upper()}_DATABASE_URL"] = url
            databases.append(url)
    if env.get("NATS_URL"):
        env["SHIXUN_NATS_NAMESPACE"] = f"{name}{RUN_ID}"
    log = tmp_path / "supervisor.log"
    nats_port = free_port()
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
                str(nats_port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Running(process, log, gateway, first_service, nats_port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # stops every part it started
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for url in databases:
            asyncio.run(drop_database(url))
