"""Test environment: the embedded default (SQLite files, a nats-server we start) or, when
DATABASE_URL / NATS_URL are set, those real servers, each run isolated by its own database
names and NATS namespace."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.config import server_database
from shared.db import drop_database
from shared.embedded_nats import EmbeddedNats, free_port
from tests.harness import ADMIN_PASSWORD, Suite

RUN_ID = uuid.uuid4().hex[:10]
DATABASES = ("enrolment", "ledger", "budget", "feedback", "gateway")


def database_urls(tmp: Path) -> dict[str, str]:
    server = os.environ.get("DATABASE_URL")
    if server:
        return {s: server_database(server, f"shixun_test_{s}_{RUN_ID}") for s in DATABASES}
    return {s: f"sqlite+aiosqlite:///{tmp / f'{s}.db'}" for s in DATABASES}


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shixun")


@pytest.fixture(scope="session")
def nats_url(run_dir: Path) -> Iterator[str]:
    if os.environ.get("NATS_URL"):
        yield os.environ["NATS_URL"]
        return
    server = EmbeddedNats(port=free_port(), store_dir=run_dir / "nats")
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def environment(run_dir: Path, nats_url: str) -> Iterator[dict[str, str]]:
    urls = database_urls(run_dir)
    values = {
        "NATS_URL": nats_url,
        "SHIXUN_NATS_NAMESPACE": f"t{RUN_ID}",
        "SHIXUN_DATA_DIR": str(run_dir / "data"),
        "SHIXUN_SECRETS_DIR": str(run_dir / "secrets"),
        "SHIXUN_JWKS_URL": "http://gateway/.well-known/jwks.json",
        "SHIXUN_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SHIXUN_GATEWAY_LOCKOUT_FAILURES": "5",
        # The tests' receivers stand in for these names (production allows none).
        "SHIXUN_GATEWAY_WEBHOOK_ALLOW_HOSTS": "example.org,school-system.example,bureau.example",
        # Tests send thousands of requests a minute under one account; the rate-limit tests
        # put a tight limiter in place themselves.
        "SHIXUN_GATEWAY_RATE_ACCOUNT_PER_MINUTE": "1000000",
        "SHIXUN_GATEWAY_RATE_ACCOUNT_BURST": "1000000",
        "SHIXUN_GATEWAY_RATE_CLIENT_PER_MINUTE": "1000000",
        "SHIXUN_GATEWAY_RATE_CLIENT_BURST": "1000000",
        # Tests click programs with past dates through their lifecycle; the suite's calendar
        # at real time would race them. Calendar tests set its clock and wake it.
        "SHIXUN_ENROLMENT_CALENDAR_INTERVAL_SECONDS": "3600",
    }
    values |= {f"SHIXUN_{s.upper()}_DATABASE_URL": url for s, url in urls.items()}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield urls
    for key, old in saved.items():
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old
    if os.environ.get("DATABASE_URL"):
        asyncio.run(_drop_all(urls))


async def _drop_all(urls: dict[str, str]) -> None:
    for url in urls.values():
        await drop_database(url)


@pytest.fixture(scope="session")
async def suite(environment: dict[str, str]) -> AsyncIterator[Suite]:
    running = Suite()
    await running.start()
    yield running
    await running.stop()
