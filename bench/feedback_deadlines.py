"""Benchmark: how fast the deadline scheduler works through a district's due work.

Builds PROGRAMS programs of TRAINEES trainees each through the event handlers, in the
order the consumer sees them (the program, then its confirmations), then times scheduler
passes at the reminder time and after the deadlines, and the pending-evaluations query of
one teacher. Prints figures; asserts nothing.

    .venv/bin/python bench/feedback_deadlines.py [PROGRAMS] [TRAINEES]

Uses a fresh SQLite file, or a fresh database on DATABASE_URL's server when it is set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from services.feedback.handlers import on_enrolment_confirmed, on_program_transitioned
from services.feedback.pending import pending_evaluations
from services.feedback.policy import DEFAULT_POLICY, assessment_window, rating_window
from services.feedback.scheduler import run_due
from shared.config import DEFAULT_DISTRICT_ID, server_database
from shared.db import Database, drop_database, ensure_database
from shared.events.enrolment import EnrolmentConfirmed, ProgramTransitioned
from shared.migrate import upgrade
from shared.pagination import PageParams

MIGRATIONS = Path(__file__).parent.parent / "services" / "feedback" / "migrations"


async def main(programs: int, trainees: int) -> None:
    server = os.environ.get("DATABASE_URL")
    url = (
        server_database(server, f"shixun_bench_feedback_{uuid.uuid4().hex[:8]}")
        if server
        else f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/feedback.db"
    )
    await ensure_database(url)
    database = Database(url)
    await upgrade(database, MIGRATIONS)
    ends_on = dt.date(2026, 6, 30)
    teacher = uuid.uuid4()
    started = time.perf_counter()
    for _ in range(programs):
        program_id = uuid.uuid4()
        async with database.sessions() as session:
            await on_program_transitioned(
                session,
                ProgramTransitioned(
                    program_id=program_id,
                    district_id=DEFAULT_DISTRICT_ID,
                    institution_id=uuid.uuid4(),
                    school_id=None,
                    action="finish",
                    from_status="running",
                    to_status="finished",
                    title="bench",
                    hours=Decimal("24.0"),
                    mode="centralized",
                    level="district",
                    category="self_selected",
                    starts_on=ends_on,
                    ends_on=ends_on,
                ),
            )
            for i in range(trainees):
                await on_enrolment_confirmed(
                    session,
                    EnrolmentConfirmed(
                        enrolment_id=uuid.uuid4(),
                        program_id=program_id,
                        teacher_id=teacher if i == 0 else uuid.uuid4(),
                        school_id=uuid.uuid4(),
                        district_id=DEFAULT_DISTRICT_ID,
                    ),
                )
            await session.commit()
    tasks = programs * trainees * 2
    derive = time.perf_counter() - started
    print(f"backend: {database.engine.dialect.name}; {programs} programs x {trainees} trainees")
    print(f"derive tasks: {tasks} tasks in {derive:.2f} s ({tasks / derive:,.0f} tasks/s)")

    async def drain(now: dt.datetime, label: str) -> None:
        began = time.perf_counter()
        done = passes = 0
        while True:
            async with database.sessions() as session:
                result = await run_due(session, now=now)
                await session.commit()
            passes += 1
            done += result.reminded + result.expired
            if not result.more:
                break
        took = time.perf_counter() - began
        print(f"{label}: {done} steps in {passes} passes, {took:.2f} s ({done / took:,.0f}/s)")

    assessment_due = assessment_window(DEFAULT_POLICY, ends_on).due_at
    rating_due = rating_window(DEFAULT_POLICY, ends_on).due_at
    await drain(assessment_due - dt.timedelta(hours=1), "reminders (assessments)")
    await drain(rating_due + dt.timedelta(hours=1), "rating reminders + all expiries")

    latencies = []
    for _ in range(200):
        began = time.perf_counter()
        async with database.sessions() as session:
            await pending_evaluations(
                session,
                teacher_id=teacher,
                paging=PageParams(limit=50, cursor=None),
                now=assessment_due,
            )
        latencies.append((time.perf_counter() - began) * 1000)
    latencies.sort()
    print(
        f"pending-evaluations query: p50 {statistics.median(latencies):.2f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)]:.2f} ms"
    )
    await database.dispose()
    if server:
        await drop_database(url)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args or [200, 50])))
