"""Lottery selection (抽签): apply in the window, a draw from a seed published before it,
priority tiers, a reproducible result that anyone can recompute, kept and downloadable."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import update

from services.enrolment.lottery import tiers_of
from services.enrolment.models import Enrolment, Program, Teacher
from shared.xlsx import MB, SheetLimits, read_all
from tests.enrolment.conftest import TODAY, World, fresh_dates, ok
from tests.enrolment.test_calendar import pass_at

ROOT = Path(__file__).resolve().parents[2]


async def lottery_program(world: World, *, capacity: int, seed: str | None = None) -> dict:
    """Published before its window opens (so its seed is public first), then the window opens."""
    now = dt.datetime.now(dt.UTC)
    program = await world.program(
        await world.institution(),
        publish=False,
        selection="lottery",
        capacity=capacity,
        enrol_opens_at=(now + dt.timedelta(hours=1)).isoformat(),
    )
    for action in ("submit", "approve", "publish"):
        program = await world.move(program, action)
    assert len(program["lottery_seed"]) == 64
    values = {"enrol_opens_at": now - dt.timedelta(minutes=1)}
    if seed is not None:
        values["lottery_seed"] = seed  # the same seed again: a second draw of the same lot
    async with world.suite.apps["enrolment"].state.database.sessions() as session:
        await session.execute(
            update(Program).where(Program.id == uuid.UUID(program["id"])).values(**values)
        )
        await session.commit()
    return await world.program_now(program["id"])


async def many_teachers(world: World, school: dict, n: int) -> list[str]:
    """Registered straight into the table: 300 POSTs would only slow the test down."""
    ids = [uuid.uuid4() for _ in range(n)]
    async with world.suite.apps["enrolment"].state.database.sessions() as session:
        session.add_all(
            Teacher(
                id=i,
                district_id=uuid.UUID(school["district_id"]),
                school_id=uuid.UUID(school["id"]),
                name=f"老师{k}",
                stage="primary",
                subject="数学",
            )
            for k, i in enumerate(ids)
        )
        await session.commit()
    return [str(i) for i in ids]


async def close(world: World, program: dict) -> None:
    closes = dt.datetime.fromisoformat(program["enrol_closes_at"])
    await pass_at(world, closes)
    assert (await world.program_now(program["id"]))["status"] == "enrolment_closed"


async def test_lottery_300_applicants_50_seats_the_same_seed_draws_the_same_result(
    world: World,
) -> None:
    school = await world.school()
    teachers = await many_teachers(world, school, 300)
    first = await lottery_program(world, capacity=50)
    again = await lottery_program(world, capacity=50, seed=first["lottery_seed"])
    # Applying first gains nothing: the second lot applies in the opposite order.
    for program, order in ((first, teachers), (again, teachers[::-1])):
        for teacher in order:
            applied = ok(await world.enrol(program, {"id": teacher}), 201)
            assert applied["status"] == "applied"
        assert (await world.program_now(program["id"]))["seats_taken"] == 0
        await close(world, program)
    draws = []
    for program in (first, again):
        draw = ok(await world.api.get(f"/v1/programs/{program['id']}/draw", headers=world.bureau))
        assert (draw["applicants"], draw["confirmed"], draw["seed"]) == (
            300,
            50,
            first["lottery_seed"],
        )
        draws.append(
            [(e["teacher_id"], e["rank"], e["ticket"], e["outcome"]) for e in draw["entries"]]
        )
    assert draws[0] == draws[1]
    outcomes = [outcome for *_, outcome in draws[0]]
    assert outcomes == ["confirmed"] * 50 + ["waitlisted"] * 250
    # The enrolments say the same: the top 50 hold seats, the rest wait in draw order.
    listed = ok(
        await world.api.get(
            "/v1/enrolments",
            headers=world.bureau,
            params={"program_id": first["id"], "status": "waitlisted", "limit": 500},
        )
    )["items"]
    position = {e["teacher_id"]: e["waitlist_position"] for e in listed}
    assert [position[t] for t, *_ in draws[0][50:]] == list(range(1, 251))
    assert (await world.program_now(first["id"]))["seats_taken"] == 50


async def test_lottery_draw_is_downloadable_and_recomputed_by_the_published_script(
    world: World, tmp_path: Path
) -> None:
    school = await world.school()
    teachers = await many_teachers(world, school, 30)
    program = await lottery_program(world, capacity=7)
    for teacher in teachers:
        ok(await world.enrol(program, {"id": teacher}), 201)
    await close(world, program)
    url = f"/v1/programs/{program['id']}/draw"
    as_csv = await world.api.get(url, headers=world.bureau, params={"format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["x-lottery-seed"] == program["lottery_seed"]
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert len(rows) == 30 and sum(r["outcome"] == "confirmed" for r in rows) == 7
    path = tmp_path / "draw.csv"
    path.write_bytes(as_csv.content)
    script = [sys.executable, str(ROOT / "docs" / "lottery_recompute.py")]
    checked = await asyncio.to_thread(
        subprocess.run, [*script, program["lottery_seed"], str(path)], capture_output=True
    )
    assert checked.returncode == 0, checked.stderr
    assert b"all 30 applicants match" in checked.stderr
    # Another seed gives another draw: the script notices.
    forged = await asyncio.to_thread(
        subprocess.run, [*script, "0" * 64, str(path)], capture_output=True
    )
    assert forged.returncode == 1
    as_xlsx = await world.api.get(url, headers=world.bureau, params={"format": "xlsx"})
    sheet = await read_all(as_xlsx.content, SheetLimits(max_rows=100, max_unpacked_bytes=MB))
    assert sheet[0][:2] == ["rank", "tier"] and len(sheet) == 31
    # Whoever sees the program sees its draw: a teacher of the district too.
    teacher_view = await world.api.get(
        url, headers=world.teacher_token({"id": teachers[0], "school_id": school["id"]})
    )
    assert teacher_view.status_code == 200


async def test_r8_lottery_tiers_put_teachers_without_district_training_first(world: World) -> None:
    """Tier 0: no district-level training in 3 years (R8); 1: short of the year's hours; 2: rest."""
    school = await world.school()
    gap, short, rest = await many_teachers(world, school, 3)
    start, end = fresh_dates()
    today = TODAY
    async with world.suite.apps["enrolment"].state.database.sessions() as session:
        district = uuid.UUID(school["district_id"])
        for teacher, hours in ((short, "24.0"), (rest, "80.0")):
            past = Program(
                district_id=district,
                title="往期区级培训",
                hours=hours,
                capacity=10,
                mode="centralized",
                level="district",
                category="self_selected",
                selection="first_come",
                enrol_opens_at=dt.datetime.now(dt.UTC),
                enrol_closes_at=dt.datetime.now(dt.UTC),
                starts_on=start,
                ends_on=end,
                status="finished",
            )
            session.add(past)
            await session.flush()
            session.add(
                Enrolment(
                    program_id=past.id,
                    teacher_id=uuid.UUID(teacher),
                    school_id=uuid.UUID(school["id"]),
                    district_id=district,
                    status="completed",
                    passed=True,
                    completed_on=today,
                )
            )
        await session.flush()
        tiers = await tiers_of(session, [uuid.UUID(t) for t in (gap, short, rest)], today=today)
        await session.rollback()
    assert [tiers[uuid.UUID(t)] for t in (gap, short, rest)] == [0, 1, 2]


async def test_a_lottery_program_published_after_its_window_opened_is_refused(
    world: World,
) -> None:
    program = await world.program(await world.institution(), publish=False, selection="lottery")
    for action in ("submit", "approve"):
        program = await world.move(program, action)
    late = await world.api.post(f"/v1/programs/{program['id']}/publish", headers=world.bureau)
    assert late.status_code == 409
    assert late.json()["type"].endswith("lottery-seed-late")
    assert (await world.program_now(program["id"]))["status"] == "approved"
