"""The waitlist: a freed seat is offered to the longest-waiting teacher who may take it.

Fairness is the order of the waitlist (waitlist_position: arrival, or a lottery's draw); a
teacher whose school's quota (R3) or away-cap (R7) has no room keeps their place and the
next in line is tried. An offer holds the seat
until it expires; expiry is found from the database by a periodic sweep, so it survives
restarts. How many offers go out at once, the cutoff before the start and what becomes of an
unclaimed offer are policy (POLICY.waitlist; the claim window is POLICY.offer_ttl).
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.eligibility import away_room
from services.enrolment.models import Enrolment, Program, infra
from services.enrolment.policy import POLICY, offers_to_make
from services.enrolment.seats import (
    next_waitlist_place,
    release_quota,
    release_seat,
    take_quota,
    take_seat,
)
from shared.db import utcnow
from shared.events.enrolment import EnrolmentOfferExpired, EnrolmentPromoted, EnrolmentWaitlisted
from shared.messaging.outbox import add_event


async def promote(session: AsyncSession, program: Program) -> list[Enrolment]:
    """Offer free seats of the program to waitlisted teachers in waitlist order, as many as
    the waitlist policy allows now (policy.offers_to_make)."""
    if program.status not in ("published", "enrolment_closed"):
        return []
    outstanding = await session.scalar(
        select(func.count())
        .select_from(Enrolment)
        .where(Enrolment.program_id == program.id, Enrolment.status == "offered")
    )
    await session.refresh(program, ["capacity", "seats_taken"])
    room = offers_to_make(
        free_seats=program.capacity - program.seats_taken,
        outstanding_offers=outstanding or 0,
        now=utcnow(),
        starts_on=program.starts_on,
    )
    offered: list[Enrolment] = []
    skipped: list = []
    while len(offered) < room:
        query = (
            select(Enrolment)
            .where(Enrolment.program_id == program.id, Enrolment.status == "waitlisted")
            # The place they joined at (a lottery's: the draw's order), then arrival.
            .order_by(Enrolment.waitlist_position, Enrolment.created_at, Enrolment.id)
            .limit(1)
            # Two sessions freeing seats at once never offer the same teacher.
            .with_for_update(skip_locked=True)
        )
        if skipped:
            query = query.where(Enrolment.id.not_in(skipped))
        candidate = await session.scalar(query)
        if candidate is None:
            return offered
        if not await away_room(session, program, candidate.school_id):
            skipped.append(candidate.id)
            continue
        if program.allotted:
            if not await take_quota(session, program.id, candidate.school_id):
                skipped.append(candidate.id)
                continue
            candidate.holds_quota = True
        if not await take_seat(session, program.id):
            await release_quota(session, candidate)
            return offered
        candidate.status = "offered"
        candidate.offer_expires_at = utcnow() + POLICY.offer_ttl
        await session.flush()
        await add_event(
            session,
            infra.outbox,
            EnrolmentPromoted(
                enrolment_id=candidate.id,
                program_id=candidate.program_id,
                teacher_id=candidate.teacher_id,
                school_id=candidate.school_id,
                district_id=candidate.district_id,
                offer_expires_at=candidate.offer_expires_at,
            ),
        )
        offered.append(candidate)


def facts(enrolment: Enrolment) -> dict[str, uuid.UUID]:
    """The fields every enrolment event carries."""
    return {
        "enrolment_id": enrolment.id,
        "program_id": enrolment.program_id,
        "teacher_id": enrolment.teacher_id,
        "school_id": enrolment.school_id,
        "district_id": enrolment.district_id,
    }


async def expire_offers(session: AsyncSession, *, limit: int = 100) -> int:
    """End offers not taken in time and pass their seats on; returns how many expired."""
    expired = (
        await session.scalars(
            select(Enrolment)
            .where(Enrolment.status == "offered", Enrolment.offer_expires_at < utcnow())
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for enrolment in expired:
        program = await session.get(Program, enrolment.program_id)
        assert program is not None
        await release_seat(session, program.id)
        await release_quota(session, enrolment)
        if POLICY.waitlist.unclaimed == "requeue":
            # Back to the end of the line, and told so like any teacher who joins it.
            enrolment.status = "waitlisted"
            enrolment.offer_expires_at = None
            enrolment.waitlist_position = await next_waitlist_place(session, program.id)
            enrolment.reason = "未在规定时间内确认，重新排队候补"
            await session.flush()
            await add_event(
                session,
                infra.outbox,
                EnrolmentWaitlisted(
                    **facts(enrolment), waitlist_position=enrolment.waitlist_position
                ),
            )
            await promote(session, program)
            continue
        enrolment.status = "offer_expired"
        enrolment.reason = "the offered seat was not taken in time"
        await session.flush()
        await add_event(
            session,
            infra.outbox,
            EnrolmentOfferExpired(**facts(enrolment)),
        )
        await promote(session, program)
    return len(expired)
