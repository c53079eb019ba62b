"""Selection by lottery (抽签): apply in the window, one published draw when it closes.

Nobody gains by being first: teachers apply while the window is open (status `applied`, no
seat), and when enrolment closes (a click or the calendar) the draw ranks them.

The algorithm (`POLICY.lottery.algorithm`, "lottery/1"), which anyone can recompute from the
seed and the applicant list (docs/lottery_recompute.py does):

1. The seed is 64 hex digits made when the program is published, before its window opens,
   and shown on the program from then on (`lottery_seed`): it is fixed before anyone applies.
2. Each applicant's ticket is SHA-256 of the UTF-8 text `seed + ":" + teacher_id` (the id
   in its canonical lower-case hyphenated form), as 64 lower-case hex digits.
3. Each applicant is in a tier: the first of `POLICY.lottery.tiers` that holds for them on
   the day of the draw (R8 gap first, then short of the year's hours, then the rest).
4. Applicants are ranked by (tier, ticket, teacher_id), rank 1 first.
5. In rank order each gets a seat while seats are left and their school has quota (R3, on
   allotted programs) and away room (R7); everyone else joins the waitlist in rank order.

The inputs (seed, algorithm, policy, capacity) and every applicant's tier, ticket, rank and
outcome are kept (lottery_draw, lottery_entry) and downloadable as JSON, CSV or XLSX.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.eligibility import away_room
from services.enrolment.enrolments import facts, seat_granted
from services.enrolment.models import (
    Enrolment,
    LotteryDraw,
    LotteryEntry,
    Program,
    infra,
)
from services.enrolment.policy import POLICY, EnrolmentPolicy
from services.enrolment.programs import get_program
from services.enrolment.reports import last_qualifying, r8_cutoff
from services.enrolment.seats import release_quota, take_quota, take_seat
from shared.auth import Principal
from shared.errors import Conflict, NotFound
from shared.events.enrolment import EnrolmentWaitlisted, ProgramLotteryDrawn
from shared.messaging.outbox import add_event

LOTTERY = "lottery"
CSV_COLUMNS = (
    "rank",
    "tier",
    "tier_name",
    "teacher_id",
    "school_id",
    "enrolment_id",
    "ticket",
    "outcome",
)


def ticket(seed: str, teacher_id: uuid.UUID) -> str:
    """Step 2 of the algorithm: the applicant's ticket."""
    return hashlib.sha256(f"{seed}:{teacher_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Applicant:
    enrolment_id: uuid.UUID
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    tier: int


def ranked(seed: str, applicants: list[Applicant]) -> list[tuple[Applicant, str]]:
    """Step 4: the applicants with their tickets, in draw order (the order of the input
    does not matter: applying first gains nothing)."""
    with_tickets = [(a, ticket(seed, a.teacher_id)) for a in applicants]
    return sorted(with_tickets, key=lambda pair: (pair[0].tier, pair[1], str(pair[0].teacher_id)))


def seed_at_publication(program: Program, now: dt.datetime) -> None:
    """Step 1: a lottery program gets its seed when it is published, before its window opens;
    published later, applicants could be known before the seed, so it is refused."""
    if program.selection != LOTTERY:
        return
    if now >= program.enrol_opens_at:
        raise Conflict(
            "抽签项目须在报名开始前发布，以便先公布抽签种子；请推迟报名开始时间后再发布。",
            code="lottery-seed-late",
            enrol_opens_at=program.enrol_opens_at.isoformat(),
        )
    program.lottery_seed = secrets.token_hex(32)


async def tiers_of(
    session: AsyncSession,
    teacher_ids: list[uuid.UUID],
    *,
    today: dt.date,
    policy: EnrolmentPolicy = POLICY,
) -> dict[uuid.UUID, int]:
    """Step 3: each teacher's tier index on `today`."""
    recent = await last_qualifying(session, teacher_ids)
    cutoff = r8_cutoff(today)
    year_start = dt.date(today.year, 1, 1)
    hours = dict(
        (
            await session.execute(
                select(Enrolment.teacher_id, func.sum(Program.hours))
                .join(Program, Program.id == Enrolment.program_id)
                .where(
                    Enrolment.teacher_id.in_(teacher_ids),
                    Enrolment.status == "completed",
                    Enrolment.passed.is_(True),
                    Enrolment.completed_on >= year_start,
                    Enrolment.completed_on <= today,
                )
                .group_by(Enrolment.teacher_id)
            )
        ).all()
    )
    holds = {
        "r8_gap": lambda t: recent.get(t) is None or recent[t] < cutoff,
        "short_of_hours": lambda t: Decimal(hours.get(t) or 0) < policy.lottery.annual_hours,
        "rest": lambda t: True,
    }
    tiers = policy.lottery.tiers
    return {
        t: next((i for i, name in enumerate(tiers) if holds[name](t)), len(tiers) - 1)
        for t in teacher_ids
    }


async def draw(
    session: AsyncSession, program: Program, *, now: dt.datetime, today: dt.date
) -> None:
    """Steps 3–5 at the close of enrolment, once; the caller holds the program row."""
    if program.selection != LOTTERY or await session.get(LotteryDraw, program.id) is not None:
        return
    applied = (
        await session.scalars(
            select(Enrolment)
            .where(Enrolment.program_id == program.id, Enrolment.status == "applied")
            .with_for_update()
        )
    ).all()
    by_id = {e.id: e for e in applied}
    tiers = await tiers_of(session, [e.teacher_id for e in applied], today=today)
    seed = program.lottery_seed or ""
    order = ranked(
        seed,
        [Applicant(e.id, e.teacher_id, e.school_id, tiers[e.teacher_id]) for e in applied],
    )
    confirmed = waiting = 0
    for rank, (applicant, drawn) in enumerate(order, start=1):
        enrolment = by_id[applicant.enrolment_id]
        if await _seat_for(session, program, enrolment):
            await seat_granted(session, program, enrolment)
            confirmed += 1
        else:
            waiting += 1
            enrolment.status = "waitlisted"
            enrolment.waitlist_position = waiting
            await session.flush()
            await add_event(
                session,
                infra.outbox,
                EnrolmentWaitlisted(**facts(enrolment), waitlist_position=waiting),
            )
        session.add(
            LotteryEntry(
                program_id=program.id,
                enrolment_id=enrolment.id,
                teacher_id=enrolment.teacher_id,
                school_id=enrolment.school_id,
                tier=applicant.tier,
                tier_name=POLICY.lottery.tiers[applicant.tier],
                ticket=drawn,
                rank=rank,
                outcome=enrolment.status,
            )
        )
    session.add(
        LotteryDraw(
            program_id=program.id,
            seed=seed,
            algorithm=POLICY.lottery.algorithm,
            policy=POLICY.version,
            tiers=list(POLICY.lottery.tiers),
            capacity=program.capacity,
            applicants=len(order),
            confirmed=confirmed,
            drawn_at=now,
        )
    )
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        ProgramLotteryDrawn(
            program_id=program.id,
            district_id=program.district_id,
            seed=seed,
            algorithm=POLICY.lottery.algorithm,
            applicants=len(order),
            confirmed=confirmed,
            waitlisted=waiting,
        ),
    )


async def _seat_for(session: AsyncSession, program: Program, enrolment: Enrolment) -> bool:
    """Step 5 for one applicant: room at the school (R7), its quota (R3), then a seat."""
    if not await away_room(session, program, enrolment.school_id):
        return False
    if program.allotted:
        if not await take_quota(session, program.id, enrolment.school_id):
            return False
        enrolment.holds_quota = True
    if await take_seat(session, program.id):
        return True
    await release_quota(session, enrolment)
    return False


async def get_draw(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID
) -> tuple[LotteryDraw, list[LotteryEntry]]:
    """The draw of a program the caller sees (programs.get_program decides), in rank order."""
    await get_program(session, principal=principal, program_id=program_id)
    found = await session.get(LotteryDraw, program_id)
    if found is None:
        raise NotFound("该项目没有抽签结果（不是抽签项目，或报名尚未截止）。", code="no-draw")
    entries = (
        await session.scalars(
            select(LotteryEntry)
            .where(LotteryEntry.program_id == program_id)
            .order_by(LotteryEntry.rank)
        )
    ).all()
    return found, list(entries)
