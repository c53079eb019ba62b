"""The enrolment service's background jobs (shared.worker): expiring offers, importing rosters,
moving programs by the calendar.

Each pass derives its work from the database (offers past their expiry, imports not done),
so nothing is lost when the service restarts mid-way.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.enrolment.calendar import Clock, ProgramCalendar
from services.enrolment.roster_import import RosterImports
from services.enrolment.waitlist import expire_offers
from shared.db import Database, utcnow
from shared.runtime import JobFactory

BATCH = 100


class OfferExpiry:
    """Offers past their expiry go back to the waitlist; the conditional updates of
    expire_offers make a second replica's pass a no-op."""

    name = "offer-expiry"

    def __init__(self, database: Database, *, interval: float) -> None:
        self.database = database
        self.interval = interval

    async def run_once(self) -> bool:
        async with self.database.sessions() as session:
            expired = await expire_offers(session, limit=BATCH)
            await session.commit()
        return expired >= BATCH


def jobs(interval: float, *, calendar_interval: float, clock: Clock = utcnow) -> list[JobFactory]:
    def offers(app: FastAPI) -> OfferExpiry:
        return OfferExpiry(app.state.database, interval=interval)

    def rosters(app: FastAPI) -> RosterImports:
        return RosterImports(app.state.database, owner=app.state.owner, interval=interval)

    def programs(app: FastAPI) -> ProgramCalendar:
        return ProgramCalendar(app.state.database, clock=clock, interval=calendar_interval)

    return [offers, rosters, programs]
