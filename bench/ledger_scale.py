"""Ledger at district scale: 100,000 teachers x 5 years (~5M entries) on PostgreSQL.

Loads the district straight into the tables (COPY for teachers and their keyed identity
numbers, INSERT ... SELECT with generate_series for entries, balances rebuilt by one GROUP BY),
then times through the ledger's own domain code, in process, without HTTP:
  - the district compliance report (JSON body built and serialised), and one school's;
  - one teacher's hours (GET /v1/teachers/{id}/hours's function);
  - the import of a 1,000,000-row provincial file in the province's columns (GBK CSV, rows
    keyed by 身份证号: validation, keyed hashes, idempotency, balances), with its progress
    while it runs, beside a bare COPY of as many rows into a copy of ledger_entry (the
    machine's own limit for writing them);
  - the per-teacher CSV of the district streamed to nowhere, with the peak memory it took.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432 .venv/bin/python bench/ledger_scale.py

A province (1.2 M teachers, 60 M entries): --teachers 1200000 (the load takes long).
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
from services.ledger.province_formats import with_check_digit  # noqa: E402
from services.ledger.routers.reports import TEACHER_HEADER, teacher_lines  # noqa: E402
from services.ledger.summary import hours_summary  # noqa: E402
from shared import pii  # noqa: E402
from shared.auth import Principal, Role  # noqa: E402
from shared.config import server_database  # noqa: E402
from shared.db import Database, drop_database, ensure_database  # noqa: E402
from shared.migrate import migrations_dir, upgrade  # noqa: E402
from shared.xlsx import csv_part  # noqa: E402

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


def id_number_of(n: int) -> str:
    """A well-formed identity number of its own for teacher n."""
    birth = dt.date(1965, 1, 1) + dt.timedelta(days=n % 14_000)
    return with_check_digit(f"{330100 + n % 900:06d}{birth:%Y%m%d}{n // 14_000 % 1000:03d}")


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
        await conn.copy_records_to_table(
            "teacher_id_number",
            records=[
                (row[0], DISTRICT, pii.lookup_hash(id_number_of(n))) for n, row in enumerate(rows)
            ],
            columns=["teacher_id", "district_id", "id_number_hash"],
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


PROVINCIAL_HEADER = (
    "记录编号,姓名,身份证号,培训项目,培训形式,培训级别,培训类别,"
    "学时,学分,培训日期,培训机构,证书编号"
)


def provincial_csv(teachers: int, rows: int) -> bytes:
    """The province's yearly file of the district, in GBK as its Windows tools write it."""
    rng = random.Random(11)
    out = io.StringIO()
    out.write(PROVINCIAL_HEADER + "\n")
    modes = ("集中培训", "网络研修", "混合式培训", "校本研修")
    levels = ("国家级", "省级", "市级", "区县级", "校级")
    numbers = [id_number_of(n) for n in range(teachers)]
    for n in range(rows):
        who = rng.randrange(teachers)
        out.write(
            f"SX{n:010d},教师{who:06d},{numbers[who]},省平台网络研修课程,{rng.choice(modes)},"
            f"{rng.choice(levels)},{rng.choice(('指令性', '自主选学'))},"
            f"{rng.randint(10, 400) / 10:.1f},,"
            f"{rng.randint(2021, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
            f"省教师发展中心,\n"
        )
    return out.getvalue().encode("gbk")


async def bare_copy(url: str, rows: int) -> float:
    """Rows per second of COPY alone into a copy of ledger_entry with its indexes: the most
    this machine's PostgreSQL takes, however the rows are prepared."""
    template = (
        uuid.uuid4(),
        12,
        12,
        "provincial_import",
        "",
        DISTRICT,
        "online",
        "provincial",
        "self_selected",
        2025,
        "2024-2025",
        2,
        dt.date(2025, 3, 1),
        None,
        "省平台网络研修课程",
        None,
        "",
        "bench",
        None,
        dt.datetime.now(dt.UTC),
    )
    records = [
        (uuid.uuid4(), template[0], *template[1:4], f"B{n:010d}", *template[5:])
        for n in range(rows)
    ]
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(
            "CREATE TABLE copy_probe (LIKE ledger_entry INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
        names = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'ledger_entry'"
        )
        names = [c["column_name"] for c in names]
        order = [
            "id", "teacher_id", "hours", "credits", "source", "source_ref", "ref_scope_id",
            "mode", "level", "category", "year", "academic_year", "term", "occurred_on",
            "program_id", "description", "reverses_id", "reason", "recorded_by", "import_id",
            "created_at",
        ]  # fmt: skip
        assert set(order) <= set(names)
        started = time.perf_counter()
        for offset in range(0, rows, imports.CHUNK):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "copy_probe", records=records[offset : offset + imports.CHUNK], columns=order
                )
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE copy_probe")
    finally:
        await conn.close()
    return rows / elapsed


async def bench_import(database: Database, url: str, teachers: int, rows: int) -> str:
    content = provincial_csv(teachers, rows)
    bureau = Principal(subject="bench", role=Role.BUREAU_ADMIN, district_id=DISTRICT)
    started = time.perf_counter()
    async with database.sessions() as session:
        job, _ = await imports.submit(
            session, principal=bureau, content=content, filename="bench.csv", fmt="csv"
        )
        await session.commit()
    checked = time.perf_counter() - started

    async def progress() -> None:
        while True:
            await asyncio.sleep(2)
            async with database.sessions() as session:
                seen = await session.get(LedgerImport, job.id, populate_existing=True)
                print(
                    f"  progress: {seen.processed_rows:,} of {seen.total_rows:,} rows "
                    f"({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )

    reporter = asyncio.create_task(progress())
    try:
        await imports.LedgerImports(database, owner="bench", interval=0).run_once()
    finally:
        reporter.cancel()
    elapsed = time.perf_counter() - started
    async with database.sessions() as session:
        job = await session.get(LedgerImport, job.id)
        total = await session.scalar(select(func.count()).select_from(LedgerEntry))
    limit = await bare_copy(url, rows)
    rate = rows / elapsed
    return (
        f"{rows:,} rows ({len(content) / 1e6:.0f} MB GBK) in {elapsed:.1f} s "
        f"(upload checked in {checked:.1f} s) = {rate:,.0f} rows/s; posted {job.posted:,}, "
        f"duplicates {job.duplicates:,}, failed {job.failed:,}; ledger now {total:,} entries; "
        f"a bare COPY of as many rows: {limit:,.0f} rows/s (the import at {rate / limit:.0%} "
        "of it)"
    )


def peak_rss_reset() -> None:
    """Linux: start counting the peak resident memory (VmHWM) anew from here."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bench_report_file(database: Database) -> str:
    """The district's per-teacher CSV as GET /v1/reports/compliance?format=csv streams it."""
    bureau = Principal(subject="bench", role=Role.BUREAU_ADMIN, district_id=DISTRICT)
    peak_rss_reset()
    before = peak_rss_mb()
    started = time.perf_counter()
    size = lines = 0
    async with database.sessions() as session:
        query, policy = await compliance.per_teacher(
            session, principal=bureau, year=2028, school_id=None
        )
    async with database.sessions() as session:
        size += len(csv_part([], header=TEACHER_HEADER))
        async for rows in compliance.stream_teacher_rows(
            session, policy=policy, query=query, year=2028
        ):
            size += len(csv_part(teacher_lines(rows)))
            lines += len(rows)
    elapsed = time.perf_counter() - started
    return (
        f"{lines:,} teachers, {size / 1e6:.0f} MB in {elapsed:.1f} s "
        f"({lines / elapsed:,.0f} teachers/s); peak memory {peak_rss_mb():.0f} MB "
        f"({peak_rss_mb() - before:+.0f} MB while streaming)"
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
        print("compliance CSV, district, streamed:", await bench_report_file(database))
        print("import:", await bench_import(database, url, args.teachers, args.import_rows))
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
