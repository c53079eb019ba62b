"""`make run`: the whole suite on one machine, kept up until Ctrl-C.

Starts the embedded nats-server (unless NATS_URL names one), the four services and the
gateway as separate processes, restarts any that crash (one crash never takes the others
down; the nats-server comes back on the same port and store, so the events waiting in the
outboxes go out), prints the URLs and the development admin login, and stops everything on
Ctrl-C.

On PostgreSQL each part runs as two processes (`--roles split`): one serves HTTP
(`SHIXUN_<PART>_ROLE=web`), the other does its background work (`worker`: the outbox relay,
the event consumers, the jobs) at a lower CPU priority (`SHIXUN_BACKGROUND_NICE`, 10). On
selection day the answers to the teachers then come first and the events follow a few
seconds later. SQLite allows one writer per file, so there a part stays one process.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.children import end_with_parent
from shared.embedded_nats import EmbeddedNats

SERVICES = ("enrolment", "ledger", "budget", "feedback")
PARTS = ("gateway", *SERVICES)
EMBEDDED_NATS_PORT = 4223  # not 4222, so it never collides with a NATS already running
DEFAULT_BACKGROUND_NICE = 10


def say(message: str) -> None:
    print(f"[shixun] {message}", flush=True)


def serve(name: str, port: int, env: dict[str, str], nice: int = 0) -> subprocess.Popen[bytes]:
    def prepare() -> None:
        end_with_parent()
        if nice:
            os.nice(nice)

    return subprocess.Popen(
        [sys.executable, "-m", "shared.serve", name, "--port", str(port)],
        env=env,
        start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
        preexec_fn=prepare,
    )


def worker_ports_of(base_port: int, first: int | None = None) -> dict[str, int]:
    """The health-check ports of the parts' worker processes: from `first`, or by default
    the five after the four services' ports that start at `base_port`."""
    start = first or base_port + len(SERVICES)
    return {name: start + i for i, name in enumerate(PARTS)}


def split_roles(choice: str) -> bool:
    """`split` or `together`; by default split on PostgreSQL, together on SQLite files."""
    if choice == "auto":
        return os.environ.get("DATABASE_URL", "").startswith("postgresql")
    return choice == "split"


def children_of(
    ports: dict[str, int], worker_ports: dict[str, int], env: dict[str, str], nice: int
) -> list[Child]:
    """Each part's process, or with `worker_ports` its web and its worker process."""
    children = []
    for name, port in ports.items():
        if name not in worker_ports:
            children.append(Child(name, lambda n=name, p=port: serve(n, p, env), port))
            continue
        role = f"SHIXUN_{name.upper()}_ROLE"
        web, worker = env | {role: "web"}, env | {role: "worker"}
        children.append(Child(name, lambda n=name, p=port, e=web: serve(n, p, e), port))
        children.append(
            Child(
                f"{name} (worker)",
                lambda n=name, p=worker_ports[name], e=worker: serve(n, p, e, nice),
                worker_ports[name],
            )
        )
    return children


@dataclass
class Child:
    """A process the supervisor watches and starts again when it exits."""

    name: str
    launch: Callable[[], subprocess.Popen[bytes]]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)

    def start(self) -> None:
        self.started_at = time.monotonic()
        try:
            self.process = self.launch()
        except Exception as exc:  # a nats-server that could not listen: try again later
            say(f"{self.name} did not start: {exc}")
            self.process = None

    def exited(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def watch(self, now: float) -> None:
        """Start it again if it exited, backing off on repeated crashes so it does not spin."""
        if not self.exited():
            return
        if self.next_start == 0.0:
            uptime = now - self.started_at
            self.restarts = 0 if uptime > 60 else self.restarts + 1
            delay = min(2**self.restarts, 30)
            code = self.process.returncode if self.process else "no process"
            say(f"{self.name} exited with {code}; restarting in {delay}s")
            self.next_start = now + delay
        elif now >= self.next_start:
            self.next_start = 0.0
            self.start()


def admin_password(data_dir: Path) -> str:
    """SHIXUN_BOOTSTRAP_ADMIN_PASSWORD, or one made on first run and kept in the data dir."""
    given = os.environ.get("SHIXUN_BOOTSTRAP_ADMIN_PASSWORD")
    if given:
        return given
    path = data_dir / "admin-password"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(12))
    return path.read_text().strip()


def wait_ready(urls: dict[str, str], timeout: float) -> list[str]:
    """Names of the parts not ready before the timeout."""
    pending = dict(urls)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as client:
        while pending and time.monotonic() < deadline:
            for name, url in list(pending.items()):
                try:
                    if client.get(f"{url}/readyz").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
    return sorted(pending)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.supervisor", description=__doc__)
    parser.add_argument("--gateway-port", type=int, default=8000)
    parser.add_argument("--base-port", type=int, default=8001, help="first of four service ports")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--nats-port", type=int, default=EMBEDDED_NATS_PORT)
    parser.add_argument(
        "--roles",
        choices=("auto", "split", "together"),
        default=os.environ.get("SHIXUN_SUPERVISOR_ROLES", "auto"),
        help="split: a web and a (lower-priority) worker process per part; "
        "auto: split on PostgreSQL",
    )
    parser.add_argument(
        "--worker-base-port",
        type=int,
        help="first of five ports of the worker processes' health checks "
        "(default: after the services' ports)",
    )
    args = parser.parse_args(argv)

    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = admin_password(data_dir)
    gateway_url = f"http://127.0.0.1:{args.gateway_port}"
    ports = {name: args.base_port + i for i, name in enumerate(SERVICES)}
    worker_ports: dict[str, int] = {}
    if split_roles(args.roles):
        worker_ports = worker_ports_of(args.base_port, args.worker_base_port)
    nice = int(os.environ.get("SHIXUN_BACKGROUND_NICE", DEFAULT_BACKGROUND_NICE))

    nats = None
    nats_url = os.environ.get("NATS_URL")
    if not nats_url:
        embedded = EmbeddedNats(port=args.nats_port, store_dir=data_dir / "nats", sync_always=True)
        # Watched like the services: restarted on the same port and store, where JetStream
        # finds its streams and consumers again.
        nats = Child("nats-server", embedded.start)
        nats.start()
        if nats.process is None:
            return 1
        nats_url = embedded.url
        say(f"embedded nats-server with JetStream on {nats_url} (data in {data_dir / 'nats'})")

    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "SHIXUN_DATA_DIR": str(data_dir),
        "SHIXUN_BOOTSTRAP_ADMIN_PASSWORD": password,
        "SHIXUN_JWKS_URL": f"{gateway_url}/.well-known/jwks.json",
        **{f"SHIXUN_GATEWAY_{n.upper()}_URL": f"http://127.0.0.1:{p}" for n, p in ports.items()},
    }
    children = children_of({"gateway": args.gateway_port, **ports}, worker_ports, env, nice)

    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    for child in children:
        child.start()
    missing = wait_ready({c.name: f"http://127.0.0.1:{c.port}" for c in children}, timeout=60)
    database = os.environ.get("DATABASE_URL") or f"SQLite files in {data_dir}"
    say("shixun is up" + (f" (not ready yet: {', '.join(missing)})" if missing else ""))
    say(f"  API (gateway):  {gateway_url}   docs: {gateway_url}/docs")
    for name in SERVICES:
        say(f"  {name:<15} http://127.0.0.1:{ports[name]}")
    if worker_ports:
        say(f"  background work in a worker process per part, at nice {nice}")
    say(f"  database:       {database.split('@')[-1]}")
    say(f"  admin login:    username admin, password {password}")
    say("  Ctrl-C stops everything.")

    watched = ([nats] if nats is not None else []) + children
    while not stopping:
        now = time.monotonic()
        for child in watched:
            child.watch(now)
        time.sleep(0.2)

    say("stopping…")
    for child in children:
        child.stop()
    deadline = time.monotonic() + 15
    for child in children:
        child.wait(deadline)
    if nats is not None:
        nats.stop()
        nats.wait(time.monotonic() + 10)
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
