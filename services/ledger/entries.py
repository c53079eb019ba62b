"""Posting hours to the ledger, once per source, and reversing them (R16)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import balances, policies, risk, standing
from services.ledger.models import LedgerEntry, TeacherProjection, infra
from services.ledger.policy import credits_for
from shared.access import ensure_in_scope
from shared.auth import Principal, Role
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events.ledger import EntryPosted, EntryReversed
from shared.messaging.outbox import add_event

REVERSAL = "reversal"


def academic_year_of(day: dt.date) -> tuple[str, int]:
    """学年 and 学期: the school year starts in September; term 2 runs from February."""
    first = day.year if day.month >= 9 else day.year - 1
    term = 1 if day.month >= 9 or day.month == 1 else 2
    return f"{first}-{first + 1}", term


SCHOOL_SCOPED_SOURCES = frozenset({"school_based"})


def ref_scope(source: str, *, district_id: uuid.UUID, school_id: uuid.UUID) -> uuid.UUID:
    """Whose namespace a source reference lives in: a school numbers its own school-based
    records, everything else is numbered per district. Another district's (or school's)
    record with the same reference is a different record: never merged, never revealed."""
    return school_id if source in SCHOOL_SCOPED_SOURCES else district_id


async def find_posted(
    session: AsyncSession, *, scope_id: uuid.UUID, source: str, source_ref: str
) -> LedgerEntry | None:
    return await session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.ref_scope_id == scope_id,
            LedgerEntry.source == source,
            LedgerEntry.source_ref == source_ref,
        )
    )


async def post_entry(
    session: AsyncSession,
    *,
    teacher_id: uuid.UUID,
    hours: Decimal,
    source: str,
    source_ref: str,
    scope_id: uuid.UUID,
    mode: str,
    level: str,
    category: str,
    occurred_on: dt.date,
    program_id: uuid.UUID | None = None,
    description: str = "",
    recorded_by: str = "",
) -> tuple[LedgerEntry, bool]:
    """Post an entry; the same reference of the same source in the same scope (ref_scope)
    again returns the first one, not new."""
    existing = await find_posted(session, scope_id=scope_id, source=source, source_ref=source_ref)
    if existing is not None:
        return existing, False
    teacher = await session.get(TeacherProjection, teacher_id)
    policy = await policies.in_force(session, teacher.district_id if teacher else None, occurred_on)
    academic_year, term = academic_year_of(occurred_on)
    entry = LedgerEntry(
        teacher_id=teacher_id,
        hours=hours,
        credits=credits_for(policy.rules, mode, hours),
        source=source,
        source_ref=source_ref,
        ref_scope_id=scope_id,
        mode=mode,
        level=level,
        category=category,
        year=occurred_on.year,
        academic_year=academic_year,
        term=term,
        occurred_on=occurred_on,
        program_id=program_id,
        description=description,
        recorded_by=recorded_by,
    )
    session.add(entry)
    await session.flush()
    await balances.apply(session, {(teacher_id, entry.year): balances.delta_of(entry)})
    await add_event(
        session,
        infra.outbox,
        EntryPosted(
            entry_id=entry.id,
            teacher_id=teacher_id,
            hours=hours,
            credits=entry.credits,
            source=source,
            source_ref=source_ref,
            mode=mode,
            level=level,
            category=category,
            year=entry.year,
            occurred_on=occurred_on,
            program_id=program_id,
        ),
    )
    if teacher is not None:
        await risk.check(session, teacher)
        await standing.publish(session, teacher)
    return entry, True


async def teacher_in_scope(
    session: AsyncSession, principal: Principal, teacher_id: uuid.UUID
) -> TeacherProjection:
    """The teacher, if the caller is the bureau of their district or the admin of their school."""
    # No scope of the gateway's catalogue lets a machine recognise or reverse hours.
    principal.require(Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN)
    teacher = await session.get(TeacherProjection, teacher_id)
    if teacher is None:
        raise NotFound("No such teacher in the ledger.", code="unknown-teacher")
    ensure_in_scope(
        principal, "teacher", district_id=teacher.district_id, school_id=teacher.school_id
    )
    return teacher


async def reverse(
    session: AsyncSession, *, principal: Principal, entry_id: uuid.UUID, reason: str
) -> LedgerEntry:
    """Cancel an entry with a new, opposite entry naming why and who (R16)."""
    original = await session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound("No such entry.", message="not-found.entry")
    teacher = await teacher_in_scope(session, principal, original.teacher_id)
    if principal.role is Role.SCHOOL_ADMIN and original.source != "school_based":
        raise Forbidden("A school corrects only the school-based hours it recognised.")
    if original.reverses_id is not None:
        raise Unprocessable(
            "A reversal cannot itself be reversed; post a new entry instead.",
            code="reversal-of-reversal",
        )
    done = await find_posted(
        session, scope_id=original.ref_scope_id, source=REVERSAL, source_ref=str(original.id)
    )
    if done is not None:
        raise Conflict(
            f"This entry was already reversed by entry {done.id}.",
            code="already-reversed",
            reversal_id=str(done.id),
        )
    reversal = LedgerEntry(
        teacher_id=original.teacher_id,
        hours=-original.hours,
        credits=-original.credits,
        source=REVERSAL,
        source_ref=str(original.id),
        ref_scope_id=original.ref_scope_id,
        mode=original.mode,
        level=original.level,
        category=original.category,
        year=original.year,
        academic_year=original.academic_year,
        term=original.term,
        occurred_on=original.occurred_on,
        program_id=original.program_id,
        description=original.description,
        reverses_id=original.id,
        reason=reason,
        recorded_by=principal.subject,
    )
    session.add(reversal)
    await session.flush()
    await balances.apply(
        session, {(reversal.teacher_id, reversal.year): balances.delta_of(reversal)}
    )
    await add_event(
        session,
        infra.outbox,
        EntryReversed(
            entry_id=reversal.id,
            reversed_entry_id=original.id,
            teacher_id=original.teacher_id,
            hours=reversal.hours,
            year=reversal.year,
            reason=reason,
            reversed_by=principal.subject,
            program_id=original.program_id,
        ),
    )
    await risk.check(session, teacher)
    await standing.publish(session, teacher)
    return reversal
