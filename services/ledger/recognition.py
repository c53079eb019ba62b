"""Manual recognition (学时认定) of school-based, degree-study and other hours."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.entries import find_posted, post_entry, ref_scope, teacher_in_scope
from services.ledger.models import LedgerEntry
from services.ledger.policy import holds_degree
from services.ledger.schemas import EntryCreate
from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, Unprocessable


async def recognise(
    session: AsyncSession, *, principal: Principal, data: EntryCreate
) -> LedgerEntry:
    teacher = await teacher_in_scope(session, principal, data.teacher_id)
    if principal.role is Role.SCHOOL_ADMIN and data.source != "school_based":
        raise Forbidden("A school recognises only school-based hours.", code="school-based-only")
    if data.hours <= 0:
        raise Unprocessable("Recognised hours must be more than zero.", code="hours-not-positive")
    if data.source == "school_based" and data.mode != "school_based":
        raise Unprocessable(
            "School-based hours are recognised in the school_based mode.", code="mode-mismatch"
        )
    if data.degree is not None and data.source != "degree_study":
        raise Unprocessable("Only degree study attains a degree.", code="degree-not-expected")
    scope_id = ref_scope(data.source, district_id=teacher.district_id, school_id=teacher.school_id)
    taken = await find_posted(
        session, scope_id=scope_id, source=data.source, source_ref=data.reference
    )
    if taken is not None:  # the caller's own school's or district's record: its id may show
        raise Conflict(
            f"The {data.source} reference {data.reference!r} is already posted as entry "
            f"{taken.id}.",
            code="already-posted",
            entry_id=str(taken.id),
        )
    entry, _ = await post_entry(
        session,
        teacher_id=teacher.id,
        hours=data.hours,
        source=data.source,
        source_ref=data.reference,
        scope_id=scope_id,
        mode=data.mode,
        level=data.level,
        category=data.category,
        occurred_on=data.occurred_on,
        description=data.description,
        recorded_by=principal.subject,
    )
    if data.degree and not holds_degree(teacher.degree, data.degree):
        teacher.degree = data.degree
    return entry
