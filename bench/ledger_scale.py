"""Ledger at district scale: 100,000 teachers x 5 years (~5M entries) on PostgreSQL.

Loads the district straight into the tables (COPY for teachers, INSERT ... SELECT with
generate_series for entries, balances rebuilt by one GROUP BY), then times through the
ledger's own domain code, in process, without HTTP:
  - the district compliance report (JSON body built and serialised), and one school's;
  - one teacher's hours (GET /v1/teachers/{id}/hours's function);
  - the import of a 1,000,000-row provincial CSV (validation, idempotency, balances).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432 .venv/bin/python bench/ledger_scale.py
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SHIXUN_DATA_DIR", tempfile.mkdtemp(prefix="ledger-bench-"))

from services.ledger import compliance, imports  # noqa: E402
from services.ledger.models import LedgerEntry, LedgerImport  # noqa: E402
from services.ledger.summary import hours_summary  # noqa: E402
from shared.auth import Principal, Role  # noqa: E402
from shared.config import server_database  # noqa: E402
from shared.db import Database, drop_database, ensure_database  # noqa: E402
from shared.migrate import migrations_dir, upgrade  # noqa: E402

DISTRICT = uuid.UUID("00000000-0000-4000-8000-0000000000b1")
STAGES = ("primary", "junior", "senior", "kindergarten")
DEGREES = ("secondary", "associate", "bachelor", "master")
ENTRIES_SQL = """
INSERT INTO ledger_entry (id, teacher_id, hours, credits, source, source_ref, ref_scope_id,
    mode, level, category, year, academic_year, term, occurred_on, program_id, description,
    reverses_id, reason, recorded_by, import_id, created_at)
SELECT gen_random_uuid(), t.id, g.hours,
       CASE WHEN g.mode = 'school_based' THEN g.hours / 20 ELSE g.hours / 10 END,
       'bench', t.id::text || ':' || y || ':' || k, t.district_id, g.mode, g.level, g.category, y,
       CASE WHEN g.month >= 9 THEN y || '-' || (y + 1) ELSE (y - 1) || '-' || y END,
       CASE WHEN g.month >= 9 OR g.month = 1 THEN 1 ELSE 2 END,
       make_date(y, g.month, 1 + (random() * 27)::int), NULL, '基准测试培训', NULL, '',
       'bench', NULL, now()
FROM (SELECT id, district_id FROM teacher ORDER BY id OFFSET $1 LIMIT $2) t
CROSS JOIN generate_series($3::int, $4::int) y
CROSS JOIN generate_series(1, $5::int) k
CROSS JOIN LATERAL (
    SELECT 10 + (random() * 190)::int AS hours,
           (ARRAY['centralized','online','blended','school_based','degree'])
               [1 + (random() * 4)::int + (t.id IS NULL)::int] AS mode,
           (ARRAY['national','provincial','municipal','district','school'])
               [1 + (random() * 4)::int + (t.id IS NULL)::int] AS level,
           (ARRAY['mandatory','self_selected'])[1 + (random() * 1)::int + (t.id IS NULL)::int]
               AS category,
           1 + (random() * 11)::int AS month
) g
"""
BALANCES_SQL = """
INSERT INTO teacher_balance (teacher_id, year, total, centralized, self_selected,
                             district_level, school_based, credits, entries)
SELECT teacher_id, year, SUM(hours),
       SUM(CASE WHEN mode = 'centralized' THEN hours ELSE 0 END),
       SUM(CASE WHEN category = 'self_selected' AND mode <> 'school_based'
                THEN hours ELSE 0 END),
       SUM(CASE WHEN level IN ('national', 'provincial', 'municipal', 'district')
                THEN hours ELSE 0 END),
       SUM(CASE WHEN mode = 'school_based' THEN hours ELSE 0 END),
       SUM(credits), COUNT(*)
FROM ledger_entry GROUP BY teacher_id, year
"""


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def load(url: str, teachers: int, years: int, per_year: int) -> list[uuid.UUID]:
    rng = random.Random(7)
    schools = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(teachers // 500 + 1)]
    rows = []
    for n in range(teachers):
        hired = rng.choice([None, None, None, 2027, 2028]) if n % 10 == 0 else None
        rows.append(
            (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                DISTRICT,
                rng.choice(schools),
                f"教师{n:06d}",
                dt.date(hired, 9, 1) if hired else None,
                hired,
                rng.choice(STAGES),
                rng.choice(DEGREES),
                n % 50 == 0,
            )
        )
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "teacher",
            records=rows,
            columns=[
                "id",
                "district_id",
                "school_id",
                "name",
                "hired_on",
                "hired_year",
                "stage",
                "degree",
                "is_trainer",
            ],
        )
        batch = 10_000
        for offset in range(0, teachers, batch):
            await conn.execute(ENTRIES_SQL, offset, batch, 2026, 2026 + years - 1, per_year)
            print(f"  entries for teachers {offset + batch:>7,}", end="\r", flush=True)
        await conn.execute(BALANCES_SQL)
        await conn.execute("ANALYZE")
        count = await conn.fetchval("SELECT count(*) FROM ledger_entry")
        print(
            f"loaded {teachers:,} teachers, {count:,} entries in "
            f"{time.perf_counter() - started:.1f} s"
        )
    finally:
        await conn.close()
    return [r[0] for r in rows]


def timed(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples) * 1000:.0f} ms, "
        f"best {min(samples) * 1000:.0f} ms, worst {max(samples) * 1000:.0f} ms "
        f"({len(samples)} runs)"
    )


async def bench_report(database: Database, school_id: uuid.UUID | None, runs: int) -> str:
    bureau = Principal(subject="bench", role=Role.BUREAU_ADMIN, district_id=DISTRICT)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        async with database.sessions() as session:
            body, _, _ = await compliance.report(
                session, principal=bureau, year=2028, school_id=school_id, shortfall_limit=1000
            )
        json.dumps(body)
        samples.append(time.perf_counter() - started)
    return f"{body['teachers']:,} teachers, compliant {body['compliant_share']}, " + timed(samples)


async def bench_hours(database: Database, teacher_ids: list[uuid.UUID], runs: int) -> str:
    bureau = Principal(subject="bench", role=Role.BUREAU_ADMIN, district_id=DISTRICT)
    rng = random.Random(3)
    samples = []
    from services.ledger.models import TeacherProjection

    for _ in range(runs):
        teacher_id = rng.choice(teacher_ids)
        started = time.perf_counter()
        async with database.sessions() as session:
            teacher = await session.get(TeacherProjection, teacher_id)
            summary = await hours_summary(
                session,
                principal=bureau,
                teacher_id=teacher_id,
                teacher=teacher,
                year=2028,
                today=dt.date(2028, 6, 30),
            )
        summary.model_dump_json()
        samples.append(time.perf_counter() - started)
    return timed(samples)


def provincial_csv(teacher_ids: list[uuid.UUID], rows: int) -> bytes:
    rng = random.Random(11)
    out = io.StringIO()
    out.write(",".join(imports.COLUMNS) + "\n")
    modes = ("centralized", "online", "blended", "school_based")
    levels = ("national", "provincial", "municipal", "district", "school")
    for n in range(rows):
        out.write(
            f"PROV-{n:08d},{rng.choice(teacher_ids)},{rng.randint(10, 400) / 10:.1f},"
            f"{rng.choice(modes)},{rng.choice(levels)},"
            f"{rng.choice(('mandatory', 'self_selected'))},"
            f"{rng.randint(2021, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
            "省平台历史学时\n"
        )
    return out.getvalue().encode("utf-8")


async def bench_import(database: Database, teacher_ids: list[uuid.UUID], rows: int) -> str:
    content = provincial_csv(teacher_ids, rows)
    bureau = Principal(subject="bench", role=Role.BUREAU_ADMIN, district_id=DISTRICT)
    started = time.perf_counter()
    async with database.sessions() as session:
        job, _ = await imports.submit(
            session, principal=bureau, content=content, filename="bench.csv", fmt="csv"
        )
        await session.commit()
    await imports.LedgerImports(database, owner="bench", interval=0).run_once()
    elapsed = time.perf_counter() - started
    async with database.sessions() as session:
        job = await session.get(LedgerImport, job.id)
        total = await session.scalar(select(func.count()).select_from(LedgerEntry))
    return (
        f"{rows:,} rows ({len(content) / 1e6:.0f} MB) in {elapsed:.1f} s = "
        f"{rows / elapsed:,.0f} rows/s; posted {job.posted:,}, duplicates {job.duplicates:,}, "
        f"failed {job.failed:,}; ledger now {total:,} entries"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--per-year", type=int, default=10, help="entries per teacher a year")
    parser.add_argument("--import-rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432")
    url = server_database(server, f"shixun_bench_ledger_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    database = Database(url)
    try:
        await upgrade(database, migrations_dir("ledger"))
        teacher_ids = await load(url, args.teachers, args.years, args.per_year)
        async with database.sessions() as session:
            school = await session.scalar(
                select(compliance.T.c.school_id).where(compliance.T.c.id == teacher_ids[0])
            )
        print("compliance report, district:", await bench_report(database, None, args.runs))
        print("compliance report, one school:", await bench_report(database, school, args.runs))
        print("one teacher's hours:", await bench_hours(database, teacher_ids, args.runs * 4))
        print("import:", await bench_import(database, teacher_ids, args.import_rows))
        print(
            "compliance report, district right after import:",
            await bench_report(database, None, args.runs),
        )
        # What autovacuum does soon after a bulk change: fresh statistics, dead rows gone.
        conn = await asyncpg.connect(plain_dsn(url))
        try:
            await conn.execute("VACUUM (ANALYZE) teacher_balance")
        finally:
            await conn.close()
        print(
            "compliance report, district after import and VACUUM ANALYZE:",
            await bench_report(database, None, args.runs),
        )
    finally:
        await database.dispose()
        if not args.keep:
            await drop_database(url)


if __name__ == "__main__":
    asyncio.run(main())
