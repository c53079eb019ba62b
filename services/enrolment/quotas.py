"""R3: the bureau allots a program's seats to schools; schools select within their quota."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import Enrolment, ProgramQuota, School, infra
from services.enrolment.policy import POLICY
from services.enrolment.programs import get_program
from services.enrolment.schemas import QuotaItem
from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, Unprocessable
from shared.events.enrolment import ProgramQuotasSet
from shared.messaging.outbox import add_event

# A place counts against a school's quota from recommendation on (R3).
QUOTA_STATUSES = POLICY.seat_statuses | {"pending_bureau"}


async def set_quotas(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, items: list[QuotaItem]
) -> list[ProgramQuota]:
    """Replace a program's quotas; a school's seats never drop below what it already holds."""
    program = await get_program(
        session, principal=principal, program_id=program_id, for_update=True
    )
    if principal.role is not Role.BUREAU_ADMIN or program.district_id != principal.district_id:
        raise Forbidden("The bureau allots quotas of its district's programs.")
    if program.status in ("running", "finished", "cancelled"):
        raise Conflict(f"A {program.status} program's quotas are final.", code="quotas-final")
    wanted = {item.school_id: item.seats for item in items}
    if len(wanted) != len(items):
        raise Unprocessable("A school appears twice.", code="duplicate-school")
    if sum(wanted.values()) > program.capacity:
        raise Unprocessable(
            f"Quotas add up to {sum(wanted.values())}, more than the {program.capacity} seats.",
            code="quotas-exceed-capacity",
        )
    for school_id in wanted:
        school = await session.get(School, school_id)
        if school is None or school.district_id != program.district_id:
            raise Unprocessable(
                f"School {school_id} is not of this district.", code="unknown-school"
            )
    current = {
        quota.school_id: quota
        for quota in (
            await session.scalars(
                select(ProgramQuota).where(ProgramQuota.program_id == program.id).with_for_update()
            )
        ).all()
    }
    for school_id, quota in current.items():
        if wanted.get(school_id, 0) < quota.seats_taken:
            raise Conflict(
                f"School {school_id} already holds {quota.seats_taken} seats.",
                code="quota-below-taken",
            )
    await session.execute(
        delete(ProgramQuota).where(
            ProgramQuota.program_id == program.id, ProgramQuota.school_id.not_in(list(wanted))
        )
    )
    for school_id, seats in wanted.items():
        if school_id in current:
            current[school_id].seats = seats
            continue
        # Places the school already holds count against its new quota.
        holding = (
            await session.scalars(
                select(Enrolment).where(
                    Enrolment.program_id == program.id,
                    Enrolment.school_id == school_id,
                    Enrolment.status.in_(QUOTA_STATUSES),
                )
            )
        ).all()
        if len(holding) > seats:
            raise Conflict(
                f"School {school_id} already holds {len(holding)} places.",
                code="quota-below-taken",
            )
        for enrolment in holding:
            enrolment.holds_quota = True
        session.add(
            ProgramQuota(
                program_id=program.id, school_id=school_id, seats=seats, seats_taken=len(holding)
            )
        )
    program.allotted = bool(wanted)
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        ProgramQuotasSet(
            program_id=program.id,
            district_id=program.district_id,
            quotas={str(k): v for k, v in wanted.items()},
        ),
    )
    return await list_quotas(session, principal=principal, program_id=program.id)


async def list_quotas(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID
) -> list[ProgramQuota]:
    program = await get_program(session, principal=principal, program_id=program_id)
    query = select(ProgramQuota).where(ProgramQuota.program_id == program.id)
    if principal.role is Role.SCHOOL_ADMIN:
        query = query.where(ProgramQuota.school_id == principal.school_id)
    elif principal.role in (Role.TEACHER, Role.SERVICE):
        raise Forbidden("Quotas are for schools, institutions and the bureau.")
    return list((await session.scalars(query.order_by(ProgramQuota.school_id))).all())
