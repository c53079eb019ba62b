"""The selection rush: many teachers press "enrol" on a small program in the same second.

Starts the suite (or uses one given by --url), creates a program with --seats seats and
--requests teachers (through a roster import), fires every enrolment request at once through
the gateway, and prints confirmed / waitlisted / refused / errors, throughput and latency.
Beside it, in the same run, it measures the database's own limit: the bare conditional
`UPDATE ... SET seats_taken = seats_taken + 1 WHERE id = $1 AND seats_taken < capacity` on
PostgreSQL through asyncpg at the same concurrency, so the ratio shows what the HTTP, auth,
idempotency, outbox and ORM layers cost.

    .venv/bin/python bench/enrolment_rush.py                      # SQLite (embedded default)
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432 .venv/bin/python bench/enrolment_rush.py
    .venv/bin/python bench/enrolment_rush.py --url http://127.0.0.1:8000 --admin-password ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import nats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.config import server_database  # noqa: E402
from shared.embedded_nats import EmbeddedNats, free_port, port_open  # noqa: E402

RUN = uuid.uuid4().hex[:8]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def summary(latencies: list[float], wall: float) -> str:
    ms = [v * 1000 for v in latencies]
    return (
        f"{len(latencies) / wall:8.1f} req/s   p50 {percentile(ms, 0.50):7.1f} ms   "
        f"p95 {percentile(ms, 0.95):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms   "
        f"(mean {statistics.fmean(ms) if ms else 0:.1f} ms, wall {wall:.2f} s)"
    )


@contextlib.contextmanager
def suite(
    data_dir: Path, gateway_port: int, base_port: int, password: str
) -> Iterator[tuple[str, str]]:
    """Start the suite: the supervisor when the branch has it, else NATS + two uvicorns."""
    env = os.environ | {
        "SHIXUN_DATA_DIR": str(data_dir),
        "SHIXUN_BOOTSTRAP_ADMIN_PASSWORD": password,
        "SHIXUN_NATS_NAMESPACE": f"bench{RUN}",
        "SHIXUN_JWKS_URL": f"http://127.0.0.1:{gateway_port}/.well-known/jwks.json",
        "SHIXUN_GATEWAY_ENROLMENT_URL": f"http://127.0.0.1:{base_port}",
        # The bench's admin prepares 2,000 teachers in a minute; per-account limits are
        # for people, not for setting up a rush.
        "SHIXUN_GATEWAY_RATE_ACCOUNT_PER_MINUTE": "1000000",
        "SHIXUN_GATEWAY_RATE_ACCOUNT_BURST": "1000000",
    }
    if os.environ.get("DATABASE_URL"):
        # Our own database names, so a bench never touches anyone else's data on the server.
        for name in ("enrolment", "gateway", "ledger", "budget", "feedback"):
            env[f"SHIXUN_{name.upper()}_DATABASE_URL"] = server_database(
                os.environ["DATABASE_URL"], f"shixun_bench_{name}_{RUN}"
            )
    processes: list[subprocess.Popen[bytes]] = []
    nats_server = None
    log = open(data_dir / "suite.log", "wb")
    try:
        if not os.environ.get("NATS_URL"):
            nats_server = EmbeddedNats(port=free_port(), store_dir=data_dir / "nats")
            nats_server.start()
            env["NATS_URL"] = nats_server.url
        NATS["url"], NATS["namespace"] = env["NATS_URL"], env["SHIXUN_NATS_NAMESPACE"]
        if (ROOT / "shared" / "supervisor.py").exists():
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "shared.supervisor", "--gateway-port",
                     str(gateway_port), "--base-port", str(base_port), "--data-dir", str(data_dir)],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        else:
            # A long keep-alive: a pooled client must not reuse a connection uvicorn is closing.
            for module, port in (
                ("services.enrolment.app", base_port),
                ("gateway.app", gateway_port),
            ):
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "uvicorn", f"{module}:create_app", "--factory",
                         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                         "--no-access-log", "--timeout-keep-alive", "75"],
                        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
        deadline = time.monotonic() + 90
        while not (port_open("127.0.0.1", gateway_port) and port_open("127.0.0.1", base_port)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"the suite did not start; see {data_dir / 'suite.log'}")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{base_port}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if nats_server is not None:
            nats_server.stop()
        log.close()
        if os.environ.get("DATABASE_URL"):
            asyncio.run(_drop_databases(env))


async def _drop_databases(env: dict[str, str]) -> None:
    from shared.db import drop_database

    for key, url in env.items():
        if key.endswith("_DATABASE_URL") and "_bench_" in url and RUN in url:
            with contextlib.suppress(Exception):
                await drop_database(url)


def ok(response: httpx.Response, *statuses: int) -> dict:
    if response.status_code not in (statuses or (200, 201)):
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


async def prepare(client: httpx.AsyncClient, password: str, teachers: int, seats: int):
    token = ok(
        await client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": "admin", "password": password},
        )
    )["access_token"]
    admin = {"Authorization": f"Bearer {token}"}
    school = ok(
        await client.post(
            "/v1/schools", headers=admin, json={"name": f"抢课小学{RUN}", "stage": "primary"}
        )
    )
    institution = ok(
        await client.post("/v1/institutions", headers=admin, json={"name": f"进修学校{RUN}"})
    )
    now = dt.datetime.now(dt.UTC)
    starts = dt.date.today() + dt.timedelta(days=14)
    program = ok(
        await client.post(
            "/v1/programs",
            headers=admin,
            json={
                "title": f"抢课基准{RUN}", "hours": "12.0", "capacity": seats,
                "mode": "online", "level": "district", "category": "self_selected",
                "institution_id": institution["id"],
                "enrol_opens_at": (now - dt.timedelta(minutes=5)).isoformat(),
                "enrol_closes_at": (now + dt.timedelta(days=1)).isoformat(),
                "starts_on": starts.isoformat(),
                "ends_on": (starts + dt.timedelta(days=1)).isoformat(),
            },
        )
    )  # fmt: skip
    for action in ("submit", "approve", "publish"):
        ok(await client.post(f"/v1/programs/{program['id']}/{action}", headers=admin))
    lines = ["name,school_id,stage,subject"] + [
        f"抢课{i},{school['id']},primary,数学" for i in range(teachers)
    ]
    job = ok(
        await client.post(
            "/v1/teachers/imports",
            headers=admin,
            files={"file": ("roster.csv", ("\n".join(lines) + "\n").encode())},
            data={"mode": "valid_rows"},
        ),
        200,
        202,
    )
    while job["status"] not in ("done", "failed"):
        await asyncio.sleep(0.5)
        job = ok(await client.get(f"/v1/teachers/imports/{job['id']}", headers=admin))
    ids, cursor = [], None
    while True:
        params = {"school_id": school["id"], "limit": 500} | ({"cursor": cursor} if cursor else {})
        page = ok(await client.get("/v1/teachers", headers=admin, params=params))
        ids += [t["id"] for t in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    return admin, program, ids


async def rush(
    client: httpx.AsyncClient, admin: dict, program: dict, teachers: list[str], concurrency: int
) -> tuple[Counter[str], list[float], float]:
    """Every teacher asks for a seat at once (at most `concurrency` requests in flight)."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)

    async def one(teacher_id: str) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                response = await client.post(
                    f"/v1/programs/{program['id']}/enrolments",
                    headers=admin,
                    json={"teacher_id": teacher_id},
                )
            except httpx.HTTPError as exc:
                outcomes[f"error {type(exc).__name__}"] += 1
                return
            latencies.append(time.perf_counter() - started)
            body = response.json()
            if response.status_code == 201:
                outcomes[body["status"]] += 1
            elif response.status_code < 500:
                outcomes[f"refused {body.get('type', '').rsplit('/', 1)[-1]}"] += 1
            else:
                outcomes[f"error {response.status_code}"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in teachers))
    return outcomes, latencies, time.perf_counter() - started


def report(label: str, outcomes: Counter[str], latencies: list[float], wall: float) -> None:
    errors = sum(v for k, v in outcomes.items() if k.startswith("error"))
    print(f"{label}: confirmed {outcomes['confirmed']}  waitlisted {outcomes['waitlisted']}  "
          f"errors {errors}   all: {dict(sorted(outcomes.items()))}")  # fmt: skip
    print(f"{label:16} {summary(latencies, wall)}")


NATS: dict[str, str] = {}


async def consumers_caught_up(timeout: float = 300) -> None:
    """Wait until every service has applied the events of the preparation (thousands of new
    teachers): in a real district they were registered long before selection opens, so
    the rush should not share the CPU with catching up on them."""
    if not NATS:
        return
    from shared.messaging.streams import STREAMS, Namespace

    namespace = Namespace(NATS["namespace"])
    nc = await nats.connect(NATS["url"])
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            behind = 0
            for name in STREAMS:
                try:
                    consumers = await js.consumers_info(namespace.stream(name))
                except Exception:
                    continue
                behind += sum(c.num_pending + c.num_ack_pending for c in consumers)
            if behind == 0:
                return
            await asyncio.sleep(0.5)
        print("warning: consumers still catching up when the rush starts")
    finally:
        await nc.close()


async def http_rush(
    url: str,
    password: str,
    requests: int,
    seats: int,
    concurrency: int,
    service_url: str | None = None,
) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        admin, program, teachers = await prepare(client, password, requests, seats)
        print(f"prepared: program of {seats} seats, {len(teachers)} teachers")
        await consumers_caught_up()
        outcomes, latencies, wall = await rush(client, admin, program, teachers, concurrency)
        after = ok(await client.get(f"/v1/programs/{program['id']}", headers=admin))
        report("gateway rush", outcomes, latencies, wall)
        if outcomes["confirmed"] != min(seats, requests) or after["seats_taken"] != seats:
            raise SystemExit("WRONG: confirmed seats differ from the capacity")
        if service_url:
            # The same rush on a second program straight at the enrolment service: what the
            # service itself sustains, without the gateway hop.
            _, program, teachers = await prepare(client, password, requests, seats)
            async with httpx.AsyncClient(
                base_url=service_url, timeout=300, limits=limits
            ) as direct:
                d_outcomes, d_latencies, d_wall = await rush(
                    direct, admin, program, teachers, concurrency
                )
            report("service direct", d_outcomes, d_latencies, d_wall)
    return len(latencies) / wall


async def bare_update(pg_url: str, requests: int, seats: int, concurrency: int) -> float:
    """The database's own limit: the same guarded UPDATE, straight through asyncpg."""
    dsn = pg_url.replace("postgresql+asyncpg://", "postgresql://")
    table = f"bench_seat_{RUN}"
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=min(concurrency, 40))
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                f"CREATE TABLE {table} (id uuid PRIMARY KEY, capacity int, seats_taken int)"
            )
            row_id = uuid.uuid4()
            await conn.execute(f"INSERT INTO {table} VALUES ($1, $2, 0)", row_id, seats)
        latencies: list[float] = []
        taken = 0
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            nonlocal taken
            async with gate:
                started = time.perf_counter()
                async with pool.acquire() as conn:
                    result = await conn.execute(
                        f"UPDATE {table} SET seats_taken = seats_taken + 1 "
                        "WHERE id = $1 AND seats_taken < capacity",
                        row_id,
                    )
                latencies.append(time.perf_counter() - started)
                taken += result == "UPDATE 1"

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        wall = time.perf_counter() - started
        print(f"bare PG UPDATE   {summary(latencies, wall)}  (seats taken {taken}, "
              f"pool {pool.get_max_size()})")  # fmt: skip
        return len(latencies) / wall
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running gateway; default: start the suite here")
    parser.add_argument(
        "--admin-password", default=os.environ.get("SHIXUN_BOOTSTRAP_ADMIN_PASSWORD")
    )
    parser.add_argument("--requests", type=int, default=2000, help="teachers rushing (one each)")
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=2000, help="requests in flight")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL")
        or server_database(os.environ.get("DATABASE_URL") or DEFAULT_PG, "postgres"),
        help="PostgreSQL for the bare UPDATE baseline ('' to skip)",
    )
    parser.add_argument(
        "--service-url", help="with --url: also rush the enrolment service directly"
    )
    parser.add_argument("--gateway-port", type=int, default=0)
    parser.add_argument("--base-port", type=int, default=0)
    args = parser.parse_args()
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite (embedded default)"
    print(f"rush: {args.requests} requests, {args.seats} seats, concurrency {args.concurrency}")
    if args.url:
        if not args.admin_password:
            raise SystemExit("--admin-password is needed with --url")
        rate = asyncio.run(
            http_rush(
                args.url,
                args.admin_password,
                args.requests,
                args.seats,
                args.concurrency,
                args.service_url,
            )
        )
    else:
        print(f"starting the suite on {backend}")
        password = args.admin_password or f"bench-{RUN}"
        data_dir = Path(tempfile.mkdtemp(prefix="shixun-bench-"))
        gateway_port = args.gateway_port or free_port()
        base_port = args.base_port or free_port()
        try:
            with suite(data_dir, gateway_port, base_port, password) as (url, service_url):
                rate = asyncio.run(
                    http_rush(
                        url, password, args.requests, args.seats, args.concurrency, service_url
                    )
                )
        finally:
            log = Path(tempfile.gettempdir()) / f"shixun-bench-{RUN}.log"
            shutil.copy(data_dir / "suite.log", log)
            print(f"suite log: {log}")
            shutil.rmtree(data_dir, ignore_errors=True)
    if args.pg_url:
        bare = asyncio.run(bare_update(args.pg_url, args.requests, args.seats, args.concurrency))
        print(f"ratio: the gateway rush runs at {rate / bare:.1%} of the bare UPDATE's throughput")


if __name__ == "__main__":
    main()
