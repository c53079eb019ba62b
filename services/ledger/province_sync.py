"""Exchanging files with a provincial platform without a person in between.

One port, `ProvincePort`, and two adapters for what platforms offer:
  - `FileDrop`: a directory shared with the platform (an SFTP drop, a mounted share): the
    platform drops its hour files in `in/`, batches are written to `out/` as
    `batch-<number>.csv`, and the platform answers each in `ack/batch-<number>.csv`;
  - `HttpExchange`: the platform's HTTP interface, in the same file format:
    `GET <base>/records` (its file of the district's hours), `POST <base>/batches` (a batch
    file; `X-Batch-Number` names it, and the platform keeps one per number) and
    `GET <base>/batches/<number>/acknowledgement` (404 until it has answered).
Platforms with neither use the upload endpoints (a service account with hours:import).

`ProvinceSync`, a shared.worker job, runs each configured district's exchange: every file
pulled is submitted as an import (a file already taken is the same import: nothing twice),
a batch is made of what is not reported yet and pushed, and acknowledgements that have come
are applied. It keeps no state: what was pushed and answered is in `provincial_batch`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import structlog
from sqlalchemy import select

from services.ledger import imports, province_export
from services.ledger.models import ProvincialBatch
from shared.auth import Principal, Role
from shared.db import Database, utcnow
from shared.errors import Problem
from shared.xlsx import csv_bytes

log = structlog.get_logger("ledger.province_sync")


@dataclass(frozen=True)
class ProvinceFile:
    name: str
    content: bytes


class ProvincePort(Protocol):
    async def records(self) -> list[ProvinceFile]:
        """The platform's files of the district's hours, as they stand now."""

    async def push(self, number: int, content: bytes) -> None:
        """Send a batch; sending one number again replaces nothing at the platform."""

    async def acknowledgement(self, number: int) -> bytes | None:
        """The platform's answer to a batch, or None until it has one."""


class FileDrop:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def records(self) -> list[ProvinceFile]:
        folder = self.root / "in"
        if not folder.is_dir():
            return []
        return [
            ProvinceFile(path.name, path.read_bytes())
            for path in sorted(folder.iterdir())
            if path.is_file() and path.suffix.lower() in (".csv", ".xlsx")
        ]

    async def push(self, number: int, content: bytes) -> None:
        folder = self.root / "out"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"batch-{number:06d}.csv"
        partial = path.with_suffix(".part")  # the platform never sees half a file
        partial.write_bytes(content)
        partial.replace(path)

    async def acknowledgement(self, number: int) -> bytes | None:
        path = self.root / "ack" / f"batch-{number:06d}.csv"
        return path.read_bytes() if path.is_file() else None


class HttpExchange:
    def __init__(self, base_url: str, token: str | None, client: httpx.AsyncClient) -> None:
        self.base = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client

    async def records(self) -> list[ProvinceFile]:
        response = await self.client.get(f"{self.base}/records", headers=self.headers)
        if response.status_code == 204:
            return []
        response.raise_for_status()
        return [ProvinceFile("records.csv", response.content)]

    async def push(self, number: int, content: bytes) -> None:
        response = await self.client.post(
            f"{self.base}/batches",
            content=content,
            headers=self.headers | {"Content-Type": "text/csv", "X-Batch-Number": str(number)},
        )
        response.raise_for_status()

    async def acknowledgement(self, number: int) -> bytes | None:
        response = await self.client.get(
            f"{self.base}/batches/{number}/acknowledgement", headers=self.headers
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.content


@dataclass(frozen=True)
class Exchange:
    """One district's exchange and the port it goes through."""

    district_id: uuid.UUID
    port: ProvincePort

    @property
    def principal(self) -> Principal:
        # The platform's own standing: district-wide, hours:import (as its service account).
        return Principal(
            subject=f"province-sync:{self.district_id}",
            role=Role.SERVICE,
            district_id=self.district_id,
            scopes=frozenset({"hours:import"}),
        )


def exchanges(configured: list[dict[str, Any]], client: httpx.AsyncClient) -> list[Exchange]:
    """From SHIXUN_LEDGER_PROVINCE_SYNC: [{"district_id", "directory"} or {"district_id",
    "url", "token"?}]."""
    out = []
    for item in configured:
        district = uuid.UUID(str(item["district_id"]))
        if "directory" in item:
            port: ProvincePort = FileDrop(Path(item["directory"]))
        else:
            port = HttpExchange(item["url"], item.get("token"), client)
        out.append(Exchange(district, port))
    return out


async def sync(database: Database, exchange: Exchange) -> dict[str, int]:
    """One pass of a district's exchange; what it did, counted."""
    done = {"files": 0, "pushed": 0, "acknowledged": 0}
    principal = exchange.principal
    for found in await exchange.port.records():
        async with database.sessions() as session:
            fmt = "xlsx" if found.content[:2] == b"PK" else "csv"
            try:
                _, created = await imports.submit(
                    session,
                    principal=principal,
                    content=found.content,
                    filename=found.name,
                    fmt=fmt,
                )
            except Problem as problem:  # a file the platform got wrong: said, and skipped
                log.warning("province file refused", file=found.name, detail=problem.detail)
                continue
            await session.commit()
            done["files"] += created
    async with database.sessions() as session:
        try:
            await province_export.create_batch(session, principal=principal)
            await session.commit()
        except Problem:  # nothing new to report
            await session.rollback()
        waiting = (
            await session.scalars(
                select(ProvincialBatch)
                .where(
                    ProvincialBatch.district_id == exchange.district_id,
                    ProvincialBatch.acknowledged_at.is_(None),
                )
                .order_by(ProvincialBatch.number)
            )
        ).all()
        for batch in waiting:
            if batch.sent_at is None:
                rows = await province_export.batch_rows(session, batch)
                await exchange.port.push(batch.number, csv_bytes(province_export.header(), rows))
                batch.sent_at = utcnow()
                await session.commit()
                done["pushed"] += 1
            answer = await exchange.port.acknowledgement(batch.number)
            if answer is not None:
                await province_export.acknowledge(
                    session, principal=principal, batch_id=batch.id, content=answer
                )
                await session.commit()
                done["acknowledged"] += 1
    return done


class ProvinceSync:
    """The worker's job: every configured district's exchange, each pass."""

    name = "province-sync"

    def __init__(self, database: Database, exchanges: list[Exchange], *, interval: float) -> None:
        self.database = database
        self.exchanges = exchanges
        self.interval = interval

    async def run_once(self) -> bool:
        failed = []
        for exchange in self.exchanges:
            try:
                done = await sync(self.database, exchange)
                log.info("province exchange", district_id=str(exchange.district_id), **done)
            except (httpx.HTTPError, OSError, Problem) as exc:
                # The platform is down or answered nonsense: the others go on, this one waits
                # for the next pass (the worker backs off while passes fail).
                log.warning(
                    "province exchange failed",
                    district_id=str(exchange.district_id),
                    error=str(exc),
                )
                failed.append(str(exchange.district_id))
        if failed:
            raise RuntimeError(f"province exchange failed for {', '.join(failed)}")
        return False
