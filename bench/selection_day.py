"""Selection day (选课日) for a whole district: accounts, a login storm, then the seat rush.

What a district does at 9:00, measured against the machine's own limit in the same run:
1. setup: --teachers teachers spread over --schools schools (a roster import), each with a
   login (POST /v1/accounts); only the bureau's admin is exempt from the per-account limit;
2. a login storm: every teacher logs in with its own password, each school from its own
   address (127.0.0.x: a school's teachers share one NAT address), while one teacher who
   logged in earlier keeps asking GET /v1/me;
3. the rush: every teacher presses "enrol" with its own token and an Idempotency-Key, at most
   --concurrency requests in flight, through the gateway; then, once the suite has applied
   that rush's events, the same on a second program straight at the enrolment service;
4. the database's own limit: the bare conditional
   `UPDATE ... SET seats_taken = seats_taken + 1 WHERE id = $1 AND seats_taken < capacity`
   on PostgreSQL through asyncpg at the same concurrency, once the suite is quiet: the
   median of three runs.

    .venv/bin/python bench/selection_day.py                       # SQLite (embedded default)
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432 NATS_URL=nats://127.0.0.1:4222 \\
        .venv/bin/python bench/selection_day.py
    .venv/bin/python bench/selection_day.py --url http://127.0.0.1:8000 --admin-password ...

The load comes from this process with aiohttp on uvloop, the cheapest client at hand: on a
2-core machine every cycle the client spends is taken from the suite it measures. Each phase
prints the CPU time each part spent per request (bench/cpu_time.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import nats
import uvloop
from cpu_time import CpuMeter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.config import server_database  # noqa: E402
from shared.embedded_nats import EmbeddedNats, free_port, port_open  # noqa: E402

RUN = uuid.uuid4().hex[:8]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
ADMIN_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "shixun:account:admin"))  # gateway/accounts.py
# Below the servers' keep-alive, so the client never reuses a connection being closed.
CLIENT_KEEPALIVE = 4.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass
class Run:
    """Outcomes and latencies of one phase."""

    label: str
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    cpu: str = ""  # CPU time per request of each part (cpu_time.CpuMeter)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    @property
    def transport_errors(self) -> int:
        return sum(v for k, v in self.outcomes.items() if k.startswith("transport"))

    @property
    def server_errors(self) -> int:
        return sum(v for k, v in self.outcomes.items() if k.startswith("5"))

    def line(self) -> str:
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else 0
        return (
            f"{self.label:22} {self.rate:8.1f} /s   p50 {self.p(0.5):7.1f} ms   "
            f"p95 {self.p(0.95):7.1f} ms   p99 {self.p(0.99):7.1f} ms   "
            f"(mean {mean:.1f} ms, {len(self.latencies)} answers in {self.wall:.2f} s)\n"
            f"{'':22} {dict(sorted(self.outcomes.items()))}" + (f"\n{self.cpu}" if self.cpu else "")
        )


async def timed(
    run: Run, send: Callable[[], Awaitable[aiohttp.ClientResponse]], classify: Any
) -> Any:
    """One request: its latency and outcome recorded in `run`, its JSON body returned."""
    started = time.perf_counter()
    try:
        async with await send() as response:
            body = await response.json(content_type=None)
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        run.outcomes[f"transport {type(exc).__name__}"] += 1
        return None
    run.latencies.append(time.perf_counter() - started)
    run.outcomes[classify(status, body)] += 1
    return body if status < 300 else None


def problem_kind(status: int, body: Any) -> str:
    kind = body.get("type", "").rsplit("/", 1)[-1] if isinstance(body, dict) else ""
    return f"{status} {kind}".strip()


@contextlib.contextmanager
def suite(data_dir: Path, gateway_port: int, base_port: int, password: str) -> Iterator[None]:
    """The whole suite as `make run` starts it, on our own databases and NATS namespace."""
    env = os.environ | {
        "SHIXUN_DATA_DIR": str(data_dir),
        "SHIXUN_BOOTSTRAP_ADMIN_PASSWORD": password,
        "SHIXUN_NATS_NAMESPACE": f"bench{RUN}",
        # Setting up thousands of accounts is the admin's bulk work; teachers keep the limits.
        "SHIXUN_GATEWAY_RATE_UNLIMITED_ACCOUNTS": f'["{ADMIN_ID}"]',
        # Logged as in production: one JSON line a request (the console renderer for people
        # costs three times as much per line).
        "SHIXUN_LOG_JSON": "true",
    }
    if os.environ.get("DATABASE_URL"):
        for name in ("enrolment", "gateway", "ledger", "budget", "feedback"):
            env[f"SHIXUN_{name.upper()}_DATABASE_URL"] = server_database(
                os.environ["DATABASE_URL"], f"shixun_bench_{name}_{RUN}"
            )
    nats_server = None
    log = open(data_dir / "suite.log", "wb")
    process = None
    try:
        if not os.environ.get("NATS_URL"):
            nats_server = EmbeddedNats(port=free_port(), store_dir=data_dir / "nats")
            nats_server.start()
            env["NATS_URL"] = nats_server.url
        NATS["url"], NATS["namespace"] = env["NATS_URL"], env["SHIXUN_NATS_NAMESPACE"]
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.supervisor", "--gateway-port", str(gateway_port),
             "--base-port", str(base_port), "--data-dir", str(data_dir)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        METER["meter"] = CpuMeter(process.pid, RUN)
        deadline = time.monotonic() + 120
        while not (port_open("127.0.0.1", gateway_port) and port_open("127.0.0.1", base_port)):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the suite did not start; see {data_dir / 'suite.log'}")
            time.sleep(0.3)
        yield
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
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


NATS: dict[str, str] = {}
METER: dict[str, CpuMeter] = {}  # of the suite this bench started


def cpu_meter() -> CpuMeter:
    """The suite's processes when the bench started it; otherwise only this process."""
    return METER.get("meter") or CpuMeter(None, RUN)


async def consumers_caught_up(timeout: float = 600) -> None:
    """Wait until every service has applied the setup's events (thousands of new teachers):
    in a district they were registered long before selection opens."""
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
        print("warning: consumers still catching up when the storm starts")
    finally:
        await nc.close()


@dataclass
class Teacher:
    id: str
    school: int
    username: str
    password: str
    token: str = ""


class Client:
    """aiohttp sessions: one per school address for the gateway, one for a service."""

    def __init__(self, url: str, schools: int, concurrency: int) -> None:
        self.url = url.rstrip("/")
        self.sessions = [
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=concurrency,
                    keepalive_timeout=CLIENT_KEEPALIVE,
                    local_addr=(f"127.0.0.{10 + k}", 0),
                ),
                timeout=aiohttp.ClientTimeout(total=300),
            )
            for k in range(schools)
        ]

    def request(
        self, method: str, path: str, *, school: int = 0, **kwargs: Any
    ) -> Awaitable[aiohttp.ClientResponse]:
        return self.sessions[school].request(method, self.url + path, **kwargs)

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()


async def ok(response: Awaitable[aiohttp.ClientResponse], *statuses: int) -> Any:
    async with await response as r:
        body = await r.json(content_type=None)
        if r.status not in (statuses or (200, 201)):
            raise RuntimeError(f"{r.method} {r.url}: {r.status} {body}")
        return body


def login(client: Client, teacher: Teacher) -> Awaitable[aiohttp.ClientResponse]:
    return client.request(
        "POST",
        "/v1/auth/token",
        school=teacher.school,
        data={"grant_type": "password", "username": teacher.username, "password": teacher.password},
    )


def program_body(title: str, institution: str, seats: int, starts: dt.date) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "title": title, "hours": "12.0", "capacity": seats, "mode": "online",
        "level": "district", "category": "self_selected", "institution_id": institution,
        "enrol_opens_at": (now - dt.timedelta(minutes=5)).isoformat(),
        "enrol_closes_at": (now + dt.timedelta(days=1)).isoformat(),
        "starts_on": starts.isoformat(), "ends_on": (starts + dt.timedelta(days=1)).isoformat(),
    }  # fmt: skip


async def admin_and_schools(
    client: Client, password: str, schools: int, suffix: str = ""
) -> tuple[dict[str, str], list[str]]:
    """The bureau admin's headers, and the ids of `schools` new schools."""
    token = (
        await ok(
            client.request(
                "POST",
                "/v1/auth/token",
                data={"grant_type": "password", "username": "admin", "password": password},
            )
        )
    )["access_token"]
    admin = {"Authorization": f"Bearer {token}"}
    school_ids = [
        (
            await ok(
                client.request(
                    "POST",
                    "/v1/schools",
                    headers=admin,
                    json={"name": f"第{k + 1}小学{suffix}", "stage": "primary"},
                )
            )
        )["id"]
        for k in range(schools)
    ]
    return admin, school_ids


async def setup(
    client: Client, password: str, teachers: int, schools: int, seats: int
) -> tuple[dict[str, str], list[str], list[Teacher]]:
    """The district: schools, teachers with logins, and two published programs."""
    started = time.perf_counter()
    admin, school_ids = await admin_and_schools(client, password, schools, RUN)
    institution = await ok(
        client.request("POST", "/v1/institutions", headers=admin, json={"name": f"进修学校{RUN}"})
    )
    programs = []
    for n, starts in enumerate((dt.date.today() + dt.timedelta(days=14 + 3 * n)) for n in (0, 1)):
        program = await ok(
            client.request(
                "POST",
                "/v1/programs",
                headers=admin,
                json=program_body(f"选课日{RUN}-{n}", institution["id"], seats, starts),
            )
        )
        for action in ("submit", "approve", "publish"):
            await ok(
                client.request("POST", f"/v1/programs/{program['id']}/{action}", headers=admin)
            )
        programs.append(program["id"])
    lines = ["name,school_id,stage,subject"] + [
        f"教师{i},{school_ids[i % schools]},primary,数学" for i in range(teachers)
    ]
    form = aiohttp.FormData()
    form.add_field("file", ("\n".join(lines) + "\n").encode(), filename="roster.csv")
    form.add_field("mode", "valid_rows")
    job = await ok(
        client.request("POST", "/v1/teachers/imports", headers=admin, data=form), 200, 202
    )
    while job["status"] not in ("done", "failed"):
        await asyncio.sleep(0.5)
        job = await ok(client.request("GET", f"/v1/teachers/imports/{job['id']}", headers=admin))
    people: list[Teacher] = []
    for k, school_id in enumerate(school_ids):
        cursor = None
        while True:
            params = {"school_id": school_id, "limit": 500} | ({"cursor": cursor} if cursor else {})
            page = await ok(client.request("GET", "/v1/teachers", headers=admin, params=params))
            people += [
                Teacher(t["id"], k, f"t{RUN}{len(people) + i}", secrets.token_urlsafe(12))
                for i, t in enumerate(page["items"])
            ]
            if not (cursor := page["next_cursor"]):
                break
    print(f"setup: {len(people)} teachers in {schools} schools", flush=True)
    gate = asyncio.Semaphore(16)
    made = 0

    async def account(teacher: Teacher) -> None:
        nonlocal made
        async with gate:
            await ok(
                client.request(
                    "POST",
                    "/v1/accounts",
                    headers=admin,
                    json={
                        "username": teacher.username,
                        "password": teacher.password,
                        "role": "teacher",
                        "teacher_id": teacher.id,
                    },
                ),
                201,
            )
            made += 1
            if made % 500 == 0:
                print(f"setup: {made} of {len(people)} logins created", flush=True)

    await asyncio.gather(*(account(t) for t in people))
    print(f"setup: done in {time.perf_counter() - started:.0f} s", flush=True)
    return admin, programs, people


def argon2_limit(seconds: float = 3.0) -> float:
    """The machine's own limit of logins: argon2id verifications a second (the gateway's
    parameters) on every core at once, with nothing else of ours running."""
    from gateway.passwords import HASHER

    stored = HASHER.hash("selection-day")
    cores = os.cpu_count() or 1
    done = 0
    started = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        while time.perf_counter() - started < seconds:
            done += sum(pool.map(lambda _: HASHER.verify("selection-day", stored), range(cores)))
    return done / (time.perf_counter() - started)


async def login_storm(client: Client, teachers: list[Teacher], concurrency: int) -> tuple[Run, Run]:
    """Every teacher logs in at once; one already logged in keeps using the app meanwhile."""
    probe, rest = teachers[0], teachers[1:]
    probe.token = (await ok(login(client, probe)))["access_token"]
    storm, me = Run("login storm"), Run("GET /v1/me (storm)")
    gate = asyncio.Semaphore(concurrency)
    done = asyncio.Event()

    async def one(teacher: Teacher) -> None:
        async with gate:
            body = await timed(storm, lambda: login(client, teacher), lambda s, b: str(s))
        if body:
            teacher.token = body["access_token"]

    async def keep_asking() -> None:
        headers = {"Authorization": f"Bearer {probe.token}"}
        while not done.is_set():
            await timed(
                me,
                lambda: client.request("GET", "/v1/me", school=probe.school, headers=headers),
                lambda s, b: str(s),
            )
            await asyncio.sleep(0.2)  # 300 a minute: within a person's limit

    asker = asyncio.create_task(keep_asking())
    meter = cpu_meter()
    cpu = meter.snapshot()
    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in rest))
    storm.wall = me.wall = time.perf_counter() - started
    storm.cpu = meter.line(cpu, len(rest))
    done.set()
    await asker
    return storm, me


async def rush(
    client: Client, label: str, program: str, teachers: list[Teacher], concurrency: int
) -> Run:
    """Every teacher presses "enrol" once, with its own token and an Idempotency-Key."""
    run = Run(label)
    gate = asyncio.Semaphore(concurrency)

    def classify(status: int, body: Any) -> str:
        return body["status"] if status == 201 else problem_kind(status, body)

    async def one(teacher: Teacher) -> None:
        headers = {"Authorization": f"Bearer {teacher.token}", "Idempotency-Key": uuid.uuid4().hex}
        async with gate:
            await timed(
                run,
                lambda: client.request(
                    "POST",
                    f"/v1/programs/{program}/enrolments",
                    school=teacher.school % len(client.sessions),
                    headers=headers,
                    json={"teacher_id": teacher.id},
                ),
                classify,
            )

    meter = cpu_meter()
    cpu = meter.snapshot()
    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in teachers))
    run.wall = time.perf_counter() - started
    run.cpu = meter.line(cpu, len(teachers))
    return run


async def bare_update(pg_url: str, requests: int, seats: int, concurrency: int) -> Run:
    """The database's own limit: the same guarded UPDATE, straight through asyncpg, on a quiet
    machine (the suite's consumers caught up) and warm connections; the median of three."""
    dsn = pg_url.replace("postgresql+asyncpg://", "postgresql://")
    table = f"bench_seat_{RUN}"
    size = min(concurrency, 20)
    pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                f"CREATE TABLE {table} (id uuid PRIMARY KEY, capacity int, seats_taken int)"
            )
        gate = asyncio.Semaphore(concurrency)

        async def one(run: Run, row_id: uuid.UUID) -> None:
            async with gate:
                started = time.perf_counter()
                async with pool.acquire() as conn:
                    result = await conn.execute(
                        f"UPDATE {table} SET seats_taken = seats_taken + 1 "
                        "WHERE id = $1 AND seats_taken < capacity",
                        row_id,
                    )
                run.latencies.append(time.perf_counter() - started)
                run.outcomes["taken" if result == "UPDATE 1" else "full"] += 1

        runs = []
        for _ in range(3):
            await consumers_caught_up()
            row_id = uuid.uuid4()
            async with pool.acquire() as conn:
                await conn.execute(f"INSERT INTO {table} VALUES ($1, $2, 0)", row_id, seats)
            run = Run("bare PG UPDATE")
            started = time.perf_counter()
            await asyncio.gather(*(one(run, row_id) for _ in range(requests)))
            run.wall = time.perf_counter() - started
            runs.append(run)
        print("bare PG UPDATE, three runs: " + ", ".join(f"{r.rate:.0f}/s" for r in runs))
        return sorted(runs, key=lambda r: r.rate)[1]
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await pool.close()


async def selection_day(args: argparse.Namespace, url: str, service_url: str | None) -> int:
    gateway = Client(url, args.schools, args.concurrency)
    try:
        admin, programs, teachers = await setup(
            gateway, args.admin_password, args.teachers, args.schools, args.seats
        )
        await consumers_caught_up()
        if not getattr(args, "argon2_limit", None):  # a suite running elsewhere (--url)
            args.argon2_limit = argon2_limit()
        storm, me = await login_storm(gateway, teachers, args.concurrency)
        print(storm.line(), me.line(), sep="\n", flush=True)
        ready = [t for t in teachers if t.token]
        runs = [await rush(gateway, "rush via gateway", programs[0], ready, args.concurrency)]
        print(runs[0].line(), flush=True)
        if service_url:
            # Each rush starts from a quiet suite, as the storm does: the first rush's events
            # are applied (seconds later, at a lower priority) before the second one starts.
            await consumers_caught_up()
            direct = Client(service_url, 1, args.concurrency)
            try:
                runs.append(await rush(direct, "rush direct", programs[1], ready, args.concurrency))
            finally:
                await direct.close()
            print(runs[1].line(), flush=True)
        taken = [
            (await ok(gateway.request("GET", f"/v1/programs/{p}", headers=admin)))["seats_taken"]
            for p in programs[: len(runs)]
        ]
    finally:
        await gateway.close()
    bare = (
        await bare_update(args.pg_url, len(ready), args.seats, args.concurrency)
        if args.pg_url
        else None
    )
    if bare:
        print(bare.line())
    return verdict(args, storm, me, runs, taken, bare)


def verdict(
    args: argparse.Namespace, storm: Run, me: Run, runs: list[Run], taken: list[int], bare: Any
) -> int:
    """The figures beside the numbers of issue 10; exit status 1 if seats are wrong."""
    print("\nsummary")
    print(f"  logins: {storm.rate:.1f}/s (target >= 50), {storm.rate / args.argon2_limit:.0%} of "
          f"the machine's {args.argon2_limit:.1f} argon2id verifications/s, "
          f"p99 {storm.p(0.99):.0f} ms; "
          f"GET /v1/me during the storm p99 {me.p(0.99):.0f} ms (target <= 300)")  # fmt: skip
    wrong = False
    for run, seats_taken, floor in zip(runs, taken, (0.10, 0.20), strict=False):
        ratio = (
            f", {run.rate / bare.rate:.1%} of the bare UPDATE (target >= {floor:.0%})"
            if bare
            else ""
        )
        print(f"  {run.label}: {run.rate:.1f} req/s{ratio}; p99 {run.p(0.99):.0f} ms "
              f"(target <= 2000); confirmed {run.outcomes['confirmed']}, waitlisted "
              f"{run.outcomes['waitlisted']}, seats taken {seats_taken} of {args.seats}; "
              f"transport errors {run.transport_errors}, 5xx {run.server_errors}")  # fmt: skip
        if run.outcomes["confirmed"] != args.seats or seats_taken != args.seats:
            wrong = True
    if storm.transport_errors or storm.outcomes.get("200", 0) != len(storm.latencies):
        print(f"  logins not all answered 200: {dict(storm.outcomes)}")
    if wrong:
        print("WRONG: confirmed seats differ from the capacity")
    return 1 if wrong else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running gateway; default: start the suite here")
    parser.add_argument(
        "--service-url", help="with --url: the enrolment service, for the direct rush"
    )
    parser.add_argument(
        "--admin-password", default=os.environ.get("SHIXUN_BOOTSTRAP_ADMIN_PASSWORD")
    )
    parser.add_argument("--teachers", type=int, default=2000)
    parser.add_argument("--schools", type=int, default=20, help="each logs in from its own address")
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=500, help="requests in flight")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL")
        or server_database(os.environ.get("DATABASE_URL") or DEFAULT_PG, "postgres"),
        help="PostgreSQL for the bare UPDATE baseline ('' to skip)",
    )
    args = parser.parse_args()
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite (embedded default)"
    print(f"selection day: {args.teachers} teachers in {args.schools} schools, {args.seats} "
          f"seats, {args.concurrency} in flight, on {backend}", flush=True)  # fmt: skip
    if args.url:
        if not args.admin_password:
            raise SystemExit("--admin-password is needed with --url")
        sys.exit(uvloop.run(selection_day(args, args.url, args.service_url)))
    args.admin_password = args.admin_password or f"bench-{RUN}"
    # Measured before the suite starts: with it up, its start-up work would be counted
    # against the machine's limit.
    args.argon2_limit = argon2_limit()
    data_dir = Path(tempfile.mkdtemp(prefix="shixun-bench-"))
    gateway_port, base_port = free_port(), free_port()
    status = 1
    try:
        with suite(data_dir, gateway_port, base_port, args.admin_password):
            status = uvloop.run(
                selection_day(
                    args, f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{base_port}"
                )
            )
    finally:
        log = Path(tempfile.gettempdir()) / f"shixun-bench-{RUN}.log"
        shutil.copy(data_dir / "suite.log", log)
        print(f"suite log: {log}")
        shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
