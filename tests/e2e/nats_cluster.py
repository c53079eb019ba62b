"""A 3-node JetStream cluster on loopback, each node with its own store, as in deploy/k8s."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.embedded_nats import EmbeddedNats, free_port


class ClusterNode(EmbeddedNats):
    def __init__(self, name: str, *, port: int, route_port: int, routes: list[int], store: Path):
        super().__init__(port=port, store_dir=store, sync_always=True)
        self.name, self.route_port, self.routes = name, route_port, routes

    def config(self) -> str:
        routes = ", ".join(f"nats://127.0.0.1:{port}" for port in self.routes)
        return (
            super().config()
            + f"server_name: {self.name}\n"
            + f"cluster {{\n  name: shixun\n  listen: 127.0.0.1:{self.route_port}\n"
            + f"  routes: [{routes}]\n}}\n"
        )

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost machine would end it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None


class Cluster:
    def __init__(self, nodes: list[ClusterNode]) -> None:
        self.nodes = nodes

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def kill(self) -> None:
        """Every node at once, as a power cut would."""
        for node in self.nodes:
            node.kill()

    def start(self) -> None:
        for node in self.nodes:
            node.start()


@contextmanager
def nats_cluster(store: Path, size: int = 3) -> Iterator[Cluster]:
    ports = [(free_port(), free_port()) for _ in range(size)]
    routes = [route for _, route in ports]
    nodes = [
        ClusterNode(f"n{i}", port=client, route_port=route, routes=routes, store=store / f"n{i}")
        for i, (client, route) in enumerate(ports)
    ]
    try:
        for node in nodes:
            node.start()
        yield Cluster(nodes)
    finally:
        for node in nodes:
            node.stop()
