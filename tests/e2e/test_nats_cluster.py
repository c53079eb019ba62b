"""A part given a cluster's nodes in NATS_URL: its streams get a copy on every node, and it
connects and publishes although the first node listed is down."""

from __future__ import annotations

import uuid
from pathlib import Path

from shared.messaging.nats import NatsLink
from tests.e2e.nats_cluster import nats_cluster
from tests.harness import wait_for


async def connected(url: str, namespace: str) -> NatsLink:
    link = NatsLink(url, name="test", replicas=3, namespace=namespace)
    link.start()
    try:
        await wait_for(lambda: link.connected, timeout=60, interval=0.1)
    except TimeoutError:
        await link.close()
        raise
    return link


async def test_streams_are_r3_and_a_part_gets_past_a_dead_node(tmp_path: Path) -> None:
    namespace = f"r3{uuid.uuid4().hex}"
    with nats_cluster(tmp_path / "nats") as cluster:
        first = await connected(cluster.url, namespace)
        try:
            assert first.js is not None
            info = await first.js.stream_info(first.namespace.stream("LEDGER"))
            assert info.config.num_replicas == 3
        finally:
            await first.close()

        cluster.nodes[0].kill()
        link = await connected(cluster.url, namespace)
        try:
            assert link.js is not None
            ack = await link.js.publish(link.namespace.subject("ledger.test"), b"{}")
            assert ack.stream == link.namespace.stream("LEDGER")
        finally:
            await link.close()
