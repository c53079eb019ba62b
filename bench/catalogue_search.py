"""Benchmark: the phone's catalogue over a district of 5,000 programs.

Builds PROGRAMS published programs with Chinese titles and descriptions (and their
catalogue terms, as POST /v1/programs writes them), then times, as a teacher asks them:
a two-character word search, the same with every filter combined, filters alone, the
popularity sort, and "for me". Prints the median and the 95th percentile of RUNS calls of
each, the number of programs found and the query plan of the search. Asserts nothing.

    .venv/bin/python bench/catalogue_search.py [--programs 5000] [--runs 30]

Uses a fresh SQLite file, or a fresh database on DATABASE_URL's server when it is set.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite

from services.enrolment import catalogue, for_me
from services.enrolment.models import (
    CatalogueTerm,
    District,
    Institution,
    Program,
    School,
    Teacher,
)
from services.enrolment.schemas import CatalogueSort
from services.enrolment.search_terms import audience_terms, text_terms
from shared.auth import Principal, Role
from shared.config import server_database
from shared.db import Database, drop_database, ensure_database, utcnow
from shared.migrate import upgrade

MIGRATIONS = Path(__file__).parent.parent / "services" / "enrolment" / "migrations"
STAGES = ("小学", "初中", "高中", "幼儿园")
STAGE_KEYS = {"小学": "primary", "初中": "junior", "高中": "senior", "幼儿园": "kindergarten"}
SUBJECTS = ("语文", "数学", "英语", "物理", "化学", "生物", "历史", "地理", "音乐", "美术", "体育")
TOPICS = (
    "课堂教学能力提升",
    "班主任工作",
    "心理健康教育",
    "作业设计",
    "大单元教学",
    "跨学科主题学习",
    "信息技术应用能力",
    "教学评一体化",
    "新课标解读",
    "课例研究",
    "家校共育",
    "劳动教育",
    "阅读素养",
)
KINDS = ("专题培训", "研修班", "工作坊", "高级研修")
SENTENCES = (
    "围绕新课标开展专题讲座与课例研讨，提升教师专业素养。",
    "采用线上线下混合方式，学员完成作业并参加结业考核。",
    "由高校专家与一线名师共同授课，注重实践与反思。",
    "聚焦课堂观察与评课议课，形成可推广的教学案例。",
    "通过跟岗学习和返岗实践，帮助教师解决教学中的真实问题。",
    "培训期间安排分组研讨、成果展示和专家点评。",
)
MODES = ("centralized", "online", "blended")
LEVELS = ("district", "municipal", "school")


def program_rows(count: int, district_id: uuid.UUID, institutions: list[uuid.UUID]) -> list[dict]:
    rng = random.Random(19)
    now = utcnow()
    today = dt.date.today()
    rows = []
    for i in range(count):
        stage = rng.choice(STAGES)
        subject = rng.choice(SUBJECTS)
        starts = today + dt.timedelta(days=rng.randint(-60, 240))
        opens = now + dt.timedelta(days=rng.randint(-30, 10))
        rows.append(
            {
                "id": uuid.uuid4(),
                "district_id": district_id,
                "title": f"{stage}{subject}{rng.choice(TOPICS)}{rng.choice(KINDS)}（第{i}期）",
                "description": "".join(rng.sample(SENTENCES, 3)),
                "place": "区教师进修学校",
                "hours": Decimal(rng.choice(("12.0", "24.0", "36.0", "48.0"))),
                "capacity": rng.randint(20, 200),
                "seats_taken": rng.randint(0, 20),
                "mode": rng.choice(MODES),
                "level": rng.choice(LEVELS),
                "category": rng.choice(("mandatory", "self_selected")),
                "selection": "first_come",
                "institution_id": rng.choice(institutions),
                "school_id": None,
                "enrol_opens_at": opens,
                "enrol_closes_at": opens + dt.timedelta(days=rng.randint(3, 30)),
                "starts_on": starts,
                "ends_on": starts + dt.timedelta(days=rng.randint(0, 4)),
                "status": "published",
                "audience": {
                    "stages": [STAGE_KEYS[stage]] if rng.random() < 0.7 else [],
                    "subjects": [subject] if rng.random() < 0.6 else [],
                    "roles": [],
                },
                "expert_team": [],
                "cost_per_participant_fen": 0,
                "allotted": False,
                "created_at": now,
            }
        )
    return rows


async def build(database: Database, count: int) -> Principal:
    district_id = uuid.uuid4()
    school_id = uuid.uuid4()
    teacher_id = uuid.uuid4()
    institutions = [uuid.uuid4() for _ in range(20)]
    async with database.sessions() as session:
        session.add(District(id=district_id, name="基准区"))
        await session.flush()
        session.add(School(id=school_id, district_id=district_id, name="基准小学", stage="junior"))
        session.add_all(
            Institution(id=i, district_id=district_id, name=f"培训机构{n}")
            for n, i in enumerate(institutions)
        )
        await session.flush()
        session.add(
            Teacher(
                id=teacher_id,
                district_id=district_id,
                school_id=school_id,
                name="基准老师",
                stage="junior",
                subject="数学",
            )
        )
        rows = program_rows(count, district_id, institutions)
        for start in range(0, len(rows), 500):
            await session.execute(insert(Program), rows[start : start + 500])
        terms = [
            {"term": term, "program_id": row["id"]}
            for row in rows
            for term in text_terms(f"{row['title']}\n{row['description']}")
            | audience_terms(row["audience"])
        ]
        for start in range(0, len(terms), 5000):
            await session.execute(insert(CatalogueTerm), terms[start : start + 5000])
        await session.commit()
        # Fresh statistics, as autovacuum would have them after a day's inserts.
        await session.execute(text("ANALYZE"))
        await session.commit()
    print(f"{count} programs, {len(terms)} catalogue terms")
    return Principal(
        subject="bench",
        role=Role.TEACHER,
        district_id=district_id,
        school_id=school_id,
        teacher_id=teacher_id,
    )


async def timed(database: Database, runs: int, call) -> tuple[list[float], int]:
    times, found = [], 0
    for _ in range(runs):
        async with database.sessions() as session:
            started = time.perf_counter()
            found = await call(session)
            times.append((time.perf_counter() - started) * 1000)
    return times, found


def p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)]


async def plan(database: Database, principal: Principal, filters: catalogue.Filters) -> None:
    query = catalogue.sorted_page(
        catalogue.filtered(principal, filters, utcnow()), CatalogueSort.STARTS_ON, 20, None
    )
    dialect = postgresql.dialect() if database.engine.dialect.name == "postgresql" else None
    async with database.sessions() as session:
        if dialect is not None:
            sql = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            rows = await session.execute(text(f"EXPLAIN (ANALYZE) {sql}"))
        else:
            sql = query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
            rows = await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
        lines = [" ".join(str(c) for c in row) for row in rows]
    scans = [
        line.strip()
        for line in lines
        if any(k in line for k in ("catalogue_term", "Seq Scan", "SCAN", "Execution"))
    ]
    print(f"  plan of {filters.q!r} (catalogue_term, any full scan, time):")
    for line in scans[:10]:
        print(f"    {line}")


async def main(programs: int, runs: int) -> None:
    server = os.environ.get("DATABASE_URL")
    url = (
        server_database(server, f"shixun_bench_catalogue_{uuid.uuid4().hex[:8]}")
        if server
        else f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/enrolment.db"
    )
    await ensure_database(url)
    database = Database(url)
    try:
        await upgrade(database, MIGRATIONS)
        started = time.perf_counter()
        principal = await build(database, programs)
        print(f"built in {time.perf_counter() - started:.1f} s on {database.engine.dialect.name}")
        today = dt.date.today()
        cases = {
            "search 心理 (two characters)": catalogue.Filters(q="心理"),
            "search 劳动": catalogue.Filters(q="劳动"),
            "search 课例研究": catalogue.Filters(q="课例研究"),
            "search 心理 + every filter": catalogue.Filters(
                q="心理",
                stage="junior",
                subject="数学",
                mode="online",
                level="district",
                date_from=today,
                date_to=today + dt.timedelta(days=120),
                open_now=True,
                seats_left=True,
            ),
            "filters only (stage, subject, open now)": catalogue.Filters(
                stage="junior", subject="数学", open_now=True
            ),
        }
        print(f"{'case':44} {'median ms':>10} {'p95 ms':>8} {'page':>5}")
        for name, filters in cases.items():

            async def call(session, filters=filters) -> int:
                page = await catalogue.browse(
                    session,
                    principal=principal,
                    filters=filters,
                    sort=CatalogueSort.STARTS_ON,
                    limit=20,
                    cursor=None,
                )
                return len(page["items"])

            times, found = await timed(database, runs, call)
            print(f"{name:44} {statistics.median(times):10.1f} {p95(times):8.1f} {found:5}")

        async def popular(session) -> int:
            page = await catalogue.browse(
                session,
                principal=principal,
                filters=catalogue.Filters(),
                sort=CatalogueSort.POPULARITY,
                limit=20,
                cursor=None,
            )
            return len(page["items"])

        async def mine(session) -> int:
            return len((await for_me.for_me(session, principal=principal, limit=3)).items)

        for name, call in (("popularity, no filter", popular), ("for me (3)", mine)):
            times, found = await timed(database, runs, call)
            print(f"{name:44} {statistics.median(times):10.1f} {p95(times):8.1f} {found:5}")
        for name in ("search 心理 (two characters)", "search 课例研究"):
            await plan(database, principal, cases[name])
    finally:
        await database.dispose()
        if server:
            await drop_database(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.programs, args.runs))
