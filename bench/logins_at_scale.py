"""A district's logins in one import: --teachers teachers over --schools schools, each with a
login, from the upload of the roster to the downloaded code sheet; then a few first logins.

The suite runs as `make run` starts it (processes, sockets), on our own databases and NATS
namespace, like bench/selection_day.py:

    .venv/bin/python bench/logins_at_scale.py                    # SQLite (embedded default)
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432 NATS_URL=nats://127.0.0.1:4222 \\
        .venv/bin/python bench/logins_at_scale.py

Measured: the roster job (enrolment registers the teachers and, in the same transactions,
asks for their logins by event), until the gateway has made every login from the events,
and the code sheet (10,000 codes made, hashed and written as XLSX in one request).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import secrets
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selection_day import (
    NATS,
    Client,
    admin_and_schools,
    consumers_caught_up,
    free_port,
    ok,
    suite,
)

from shared.messaging.streams import Namespace


async def gateway_caught_up(timeout: float = 600) -> None:
    """Until the gateway's logins consumer has applied every logins event: all are made."""
    import nats

    nc = await nats.connect(NATS["url"])
    try:
        js = nc.jetstream()
        stream = Namespace(NATS["namespace"]).stream("ENROLMENT")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = await js.consumer_info(stream, "gateway-logins-enrolment")
            if info.num_pending + info.num_ack_pending == 0:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("the gateway did not catch up")
    finally:
        await nc.close()


def roster(school_ids: list[str], teachers: int) -> tuple[bytes, list[str]]:
    numbers = [f"4401{n:013d}X" for n in secrets.SystemRandom().sample(range(10**13), teachers)]
    lines = ["姓名,学段,学科,身份证号,手机号,学校id"]
    for k, number in enumerate(numbers):
        phone = f"1{3 + k % 7}{k:09d}"
        lines.append(f"教师{k:05d},primary,数学,{number},{phone},{school_ids[k % len(school_ids)]}")
    return ("\n".join(lines) + "\n").encode(), numbers


async def count_logins(client: Client, admin: dict[str, str]) -> int:
    seen, cursor = 0, None
    while True:
        params = {"role": "teacher", "limit": "500"} | ({"cursor": cursor} if cursor else {})
        page = await ok(client.request("GET", "/v1/accounts", headers=admin, params=params))
        seen += len(page["items"])
        if not (cursor := page["next_cursor"]):
            return seen


async def run(url: str, teachers: int, schools: int, password: str) -> None:
    client = Client(url, 1, 16)
    try:
        admin, school_ids = await admin_and_schools(client, password, schools)
        await consumers_caught_up()
        content, numbers = roster(school_ids, teachers)
        form = aiohttp.FormData()
        form.add_field("mode", "valid_rows")
        form.add_field("create_logins", "true")
        form.add_field("file", content, filename="roster.csv", content_type="text/csv")

        started = time.perf_counter()
        job = await ok(
            client.request("POST", "/v1/teachers/imports", headers=admin, data=form), 202
        )
        while job["status"] not in ("done", "failed"):
            await asyncio.sleep(0.5)
            job = await ok(
                client.request("GET", f"/v1/teachers/imports/{job['id']}", headers=admin)
            )
        imported = time.perf_counter()
        if job["status"] != "done" or job["created_count"] != teachers:
            raise RuntimeError(f"the import did not register every teacher: {job}")
        await gateway_caught_up()
        made = time.perf_counter()
        async with await client.request(
            "POST", "/v1/accounts/activation-codes", headers=admin, json={}
        ) as answer:
            if answer.status != 200:
                raise RuntimeError(f"code sheet: {answer.status} {await answer.text()}")
            sheet = await answer.read()
        handed = time.perf_counter()
        await consumers_caught_up()  # the other services' projections, before the logins
        drained = time.perf_counter()
        rows = list(load_workbook(io.BytesIO(sheet), read_only=True).worksheets[0].values)[1:]
        logins = await count_logins(client, admin)
        if logins != teachers or len(rows) != teachers:
            raise RuntimeError(f"{logins} logins and {len(rows)} codes for {teachers} teachers")

        # A few first logins: identity number and code, then the first password.
        codes = {row[1]: row[4] for row in rows}
        first: list[float] = []
        for k in range(20):
            t = time.perf_counter()
            restricted = await ok(
                client.request(
                    "POST",
                    "/v1/auth/token",
                    data={
                        "grant_type": "password",
                        "username": numbers[k],
                        "password": codes[f"教师{k:05d}"],
                    },
                )
            )
            await ok(
                client.request(
                    "POST",
                    "/v1/me/password",
                    headers={"Authorization": f"Bearer {restricted['access_token']}"},
                    json={"new_password": f"passphrase of teacher {k}"},
                )
            )
            first.append(time.perf_counter() - t)
    finally:
        await client.close()
    total = handed - started
    print(
        f"{teachers:,} logins in one import ({schools} schools): {total:.1f} s in all "
        f"(roster job {imported - started:.1f} s, logins made by the gateway "
        f"{made - imported:.1f} s after it, code sheet {handed - made:.1f} s); "
        f"{'under' if total < 120 else 'OVER'} the 2-minute target"
    )
    print(
        f"every other service had taken the {teachers:,} new teachers "
        f"{drained - started:.1f} s after the upload"
    )
    first.sort()
    print(
        f"first login with a code and a new password: median {first[len(first) // 2] * 1000:.0f}"
        f" ms, max {first[-1] * 1000:.0f} ms (20 teachers, one at a time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teachers", type=int, default=10_000)
    parser.add_argument("--schools", type=int, default=20)
    args = parser.parse_args()
    password = secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory(prefix="shixun-logins-") as tmp:
        gateway_port, base_port = free_port(), free_port()
        with suite(Path(tmp), gateway_port, base_port, password):
            asyncio.run(
                run(f"http://127.0.0.1:{gateway_port}", args.teachers, args.schools, password)
            )


if __name__ == "__main__":
    main()
