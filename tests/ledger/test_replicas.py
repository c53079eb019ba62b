"""Two replicas of the ledger on one database: an upload taken by one is processed by any,
and by one only."""

from __future__ import annotations

import os
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from services.ledger.app import create_app
from services.ledger.handlers import handlers
from services.ledger.models import LedgerEntry, LedgerImport, infra
from shared.auth import Role
from shared.config import common, server_database
from shared.db import drop_database
from shared.events.enrolment import TeacherRegistered
from shared.messaging.inbox import apply_once
from tests.harness import Suite, asgi_client, wait_for
from tests.ledger.test_imports import csv_file, row


async def replica(suite: Suite, stack: AsyncExitStack, monkeypatch, role: str) -> FastAPI:
    monkeypatch.setenv("SHIXUN_LEDGER_ROLE", role)
    app = create_app()
    await stack.enter_async_context(LifespanManager(app, startup_timeout=60))
    app.state.verifier.use_http(suite.gateway)
    return app


async def test_an_upload_is_kept_in_the_database_and_processed_by_one_replica(
    suite: Suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = uuid.uuid4().hex[:8]
    server = os.environ.get("DATABASE_URL")
    url = (
        server_database(server, f"shixun_test_ledger_replicas_{run}")
        if server
        else f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    )
    monkeypatch.setenv("SHIXUN_LEDGER_DATABASE_URL", url)
    monkeypatch.setenv("SHIXUN_NATS_NAMESPACE", f"replicas{run}")
    district = uuid.uuid4()
    bureau = suite.headers(Role.BUREAU_ADMIN, district_id=district)
    try:
        async with AsyncExitStack() as stack:
            # The replica that takes the upload serves HTTP only: it processes nothing.
            web = await replica(suite, stack, monkeypatch, "web")
            teachers = [uuid.uuid4() for _ in range(3)]
            for teacher in teachers:
                event = TeacherRegistered(
                    teacher_id=teacher,
                    school_id=uuid.uuid4(),
                    district_id=district,
                    name="周老师",
                    stage="primary",
                    subject_taught="数学",
                )
                handler = handlers.handlers[event.subject]
                await apply_once(web.state.database, infra, "ledger", handler, event)
            content = csv_file([row(f"R-{n}", t) for n, t in enumerate(teachers)])
            client = asgi_client(web, "http://ledger")
            response = await client.post(
                "/v1/ledger/imports",
                content=content,
                headers=bureau | {"Content-Type": "text/csv"},
            )
            assert response.status_code == 202, response.text
            import_id = uuid.UUID(response.json()["id"])
            # Nothing of the file on this replica's disk: it is in the database, sealed.
            assert list(common().shixun_data_dir.rglob(f"*{import_id}*")) == []
            async with web.state.database.sessions() as session:
                job = await session.get(LedgerImport, import_id)
                assert job is not None and job.status == "queued"
                assert job.content and content not in job.content and b"R-0" not in job.content

            workers = [await replica(suite, stack, monkeypatch, "all") for _ in range(2)]

            async def finished() -> dict | None:
                url = f"/v1/ledger/imports/{import_id}"
                body = (await client.get(url, headers=bureau)).json()
                return body if body["status"] == "done" else None

            job_read = await wait_for(finished, timeout=30)
            assert (job_read["processed_rows"], job_read["posted"]) == (3, 3)
            assert (job_read["duplicates"], job_read["failed"]) == (0, 0)
            async with web.state.database.sessions() as session:
                job = await session.get(LedgerImport, import_id)
                assert job is not None and job.content == b""  # dropped once imported
                assert job.claimed_by in {w.state.owner for w in workers}
                entries = await session.scalar(
                    select(func.count())
                    .select_from(LedgerEntry)
                    .where(LedgerEntry.import_id == import_id)
                )
                completions = await session.scalar(
                    select(func.count())
                    .select_from(infra.outbox)
                    .where(infra.outbox.c.subject == "ledger.import.completed.v1")
                )
            assert (entries, completions) == (3, 1)
    finally:
        if server:
            await drop_database(url)
