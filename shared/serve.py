"""`python -m shared.serve <part>`: the one way a service or the gateway is run as a server.

`make run`'s supervisor, the compose file and the Kubernetes manifests all start parts with
it, so every deployment has the same loop, HTTP parser and keep-alive.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

MODULES = {
    "gateway": "gateway.app:create_app",
    "enrolment": "services.enrolment.app:create_app",
    "ledger": "services.ledger.app:create_app",
    "budget": "services.budget.app:create_app",
    "feedback": "services.feedback.app:create_app",
}
# Longer than any client of ours keeps an idle connection (the gateway's upstream pool drops
# them after gateway.clients.services.KEEPALIVE_EXPIRY), so a server never closes a
# connection a client is about to reuse.
SERVER_KEEP_ALIVE = 75


def workers_of(part: str) -> int:
    """SHIXUN_<PART>_WORKERS processes (default 1; docs/performance.md says when more help)."""
    return max(1, int(os.environ.get(f"SHIXUN_{part.upper()}_WORKERS", "1")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.serve", description=__doc__)
    parser.add_argument("part", choices=sorted(MODULES))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    forwarded = os.environ.get("SHIXUN_FORWARDED_ALLOW_IPS", "")
    uvicorn.run(
        MODULES[args.part],
        factory=True,
        host=args.host,
        port=args.port,
        # uvloop and httptools: far less CPU per request than asyncio's loop and h11.
        loop="uvloop",
        http="httptools",
        timeout_keep_alive=SERVER_KEEP_ALIVE,
        backlog=4096,
        workers=workers_of(args.part),
        access_log=False,  # every part logs its requests itself (shared.logging)
        # X-Forwarded-For is believed only from the proxies named here (an ingress); parsing
        # it for every request costs CPU and, unasked, would let anyone pick their address.
        proxy_headers=bool(forwarded),
        forwarded_allow_ips=forwarded or None,
    )


if __name__ == "__main__":
    main()
