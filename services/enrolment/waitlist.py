"""The waitlist: a freed seat is offered to the longest-waiting teacher who may take it.

Fairness is arrival order (created_at, id); a teacher whose school's quota (R3) or away-cap
(R7) has no room keeps their place and the next in line is tried. An offer holds the seat
until it expires; expiry is found from the database by a periodic sweep, so it survives
restarts.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.eligibility import away_room
from services.enrolment.models import Enrolment, Program, infra
from services.enrolment.policy import POLICY
from services.enrolment.seats import release_quota, release_seat, take_quota, take_seat
from shared.db import utcnow
from shared.events.enrolment import EnrolmentOfferExpired, EnrolmentPromoted
from shared.messaging.outbox import add_event


async def promote(session: AsyncSession, program: Program) -> list[Enrolment]:
    """Offer free seats of the program to waitlisted teachers in arrival order."""
    if program.status not in ("published", "enrolment_closed"):
        return []
    offered: list[Enrolment] = []
    skipped: list = []
    while True:
        query = (
            select(Enrolment)
            .where(Enrolment.program_id == program.id, Enrolment.status == "waitlisted")
            .order_by(Enrolment.created_at, Enrolment.id)
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
        enrolment.status = "offer_expired"
        enrolment.reason = "the offered seat was not taken in time"
        await session.flush()
        await add_event(
            session,
            infra.outbox,
            EnrolmentOfferExpired(
                enrolment_id=enrolment.id,
                program_id=enrolment.program_id,
                teacher_id=enrolment.teacher_id,
                school_id=enrolment.school_id,
                district_id=enrolment.district_id,
            ),
        )
        await promote(session, program)
    return len(expired)
