"""Programs and their lifecycle."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrolment.models import Institution, Program, ProgramQuota, School, infra
from services.enrolment.policy import LIFECYCLE, POLICY, team_violation
from services.enrolment.schemas import Mode, ProgramCreate, ProgramUpdate
from services.enrolment.search_terms import index_program
from services.enrolment.waitlist import promote
from shared.access import in_scope
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events.enrolment import ProgramTransitioned
from shared.messaging.outbox import add_event


async def create_program(
    session: AsyncSession, *, principal: Principal, data: ProgramCreate
) -> Program:
    if principal.role not in (Role.BUREAU_ADMIN, Role.INSTITUTION_ADMIN, Role.SCHOOL_ADMIN):
        raise Forbidden("Programs are created by the bureau, an institution or a school.")
    institution = school = None
    if data.institution_id:
        institution = await session.get(Institution, data.institution_id)
        if institution is None:
            raise Unprocessable("The institution does not exist.", code="unknown-institution")
    if data.school_id:
        school = await session.get(School, data.school_id)
        if school is None:
            raise Unprocessable("The school does not exist.", code="unknown-school")
    if data.mode is not Mode.SCHOOL_BASED and data.school_id:
        raise Unprocessable(
            "Only a school-based program names a school.", code="school-not-allowed"
        )
    district_id = (
        (institution or school).district_id if (institution or school) else principal.district_id
    )
    if principal.role is Role.INSTITUTION_ADMIN and data.institution_id != principal.institution_id:
        raise Forbidden("An institution creates programs it runs itself.", code="out-of-scope")
    if principal.role is Role.SCHOOL_ADMIN and (
        data.mode is not Mode.SCHOOL_BASED or data.school_id != principal.school_id
    ):
        raise Forbidden("A school creates school-based programs of its own.", code="out-of-scope")
    if principal.role is Role.BUREAU_ADMIN and district_id != principal.district_id:
        raise Forbidden("The bureau creates programs in its own district.", code="out-of-scope")
    if district_id is None:
        raise Unprocessable("The program's district is unknown.", code="unknown-district")
    if data.cost_per_participant_fen and data.funded_by is None:
        raise Unprocessable(
            "A program with a cost per participant names who funds it.", code="funded-by-missing"
        )
    program = Program(
        district_id=district_id,
        title=data.title,
        description=data.description,
        place=data.place,
        hours=data.hours,
        capacity=data.capacity,
        mode=data.mode.value,
        level=data.level.value,
        category=data.category.value,
        selection=data.selection.value,
        institution_id=data.institution_id,
        school_id=data.school_id,
        enrol_opens_at=data.enrol_opens_at,
        enrol_closes_at=data.enrol_closes_at,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        audience=data.audience.model_dump(mode="json"),
        expert_team=[member.model_dump(mode="json") for member in data.expert_team],
        cost_per_participant_fen=data.cost_per_participant_fen,
        funded_by=data.funded_by.value if data.funded_by else None,
    )
    session.add(program)
    await session.flush()
    await index_program(session, program)
    return program


UNPUBLISHED = ("draft", "submitted", "rejected")


def _school_bound(principal: Principal) -> bool:
    """A school admin, or a service client bound to one school: sees what the school sees."""
    return principal.role is Role.SCHOOL_ADMIN or (
        principal.role is Role.SERVICE and principal.school_id is not None
    )


def can_see_program(principal: Principal, program: Program) -> bool:
    # A client sees programs only with roster:read: hours:read or events:subscribe alone
    # are not a licence to read the district's offer (issue 12).
    if principal.role is Role.SERVICE and "roster:read" not in principal.scopes:
        return False
    # Nobody sees across districts (DOMAIN.md, "Who may see what").
    if (
        principal.role is not Role.INSTITUTION_ADMIN
        and program.district_id != principal.district_id
    ):
        return False
    if principal.role is Role.TEACHER:
        return program.status not in UNPUBLISHED
    if _school_bound(principal) and program.school_id is None:
        # Schools see the district's published offer to recommend and enrol their teachers.
        return program.status not in UNPUBLISHED
    return in_scope(
        principal,
        district_id=program.district_id,
        school_id=program.school_id,
        institution_id=program.institution_id,
    )


async def get_program(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, for_update: bool = False
) -> Program:
    query = select(Program).where(Program.id == program_id)
    if for_update:
        query = query.with_for_update()
    program = await session.scalar(query)
    if program is None or not can_see_program(principal, program):
        raise NotFound("No such program.", message="not-found.program")
    return program


def programs_query(principal: Principal):
    principal.require_scope("roster:read")
    query = select(Program)
    match principal.role:
        case Role.INSTITUTION_ADMIN:
            return query.where(Program.institution_id == principal.institution_id)
        case Role.BUREAU_ADMIN | Role.SERVICE if not _school_bound(principal):
            return query.where(Program.district_id == principal.district_id)
        case Role.SCHOOL_ADMIN | Role.SERVICE:
            return query.where(
                Program.district_id == principal.district_id,
                (Program.school_id == principal.school_id)
                | (Program.school_id.is_(None) & Program.status.not_in(UNPUBLISHED)),
            )
        case Role.TEACHER:
            return query.where(
                Program.district_id == principal.district_id, Program.status.not_in(UNPUBLISHED)
            )
    raise Forbidden("No programs in scope.")


def _may_act(principal: Principal, program: Program) -> bool:
    if principal.role is Role.BUREAU_ADMIN:
        return program.district_id == principal.district_id
    if principal.role is Role.INSTITUTION_ADMIN:
        return (
            program.institution_id is not None
            and program.institution_id == principal.institution_id
        )
    if principal.role is Role.SCHOOL_ADMIN:
        return program.school_id is not None and program.school_id == principal.school_id
    return False


async def checked_transition(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, action: str
) -> Program:
    """The program a person may move by `action` (locked): the step must be theirs to take
    and the program where the step starts. calendar.step takes it, for them or the calendar."""
    step = LIFECYCLE.get(action)
    if step is None:
        raise NotFound(
            f"No program action {action!r}; one of {', '.join(LIFECYCLE)}.",
            message="not-found.action",
        )
    program = await get_program(
        session, principal=principal, program_id=program_id, for_update=True
    )
    if principal.role not in step.roles or not _may_act(principal, program):
        raise Forbidden(f"A {principal.role.value} may not {action} this program.")
    if program.status not in step.sources:
        raise Conflict(
            f"A {program.status} program cannot {action}; it must be "
            f"{' or '.join(sorted(step.sources))}.",
            code="invalid-transition",
            status_now=program.status,
        )
    if action == "submit" and (problem := team_violation(program.expert_team, program.level)):
        raise Unprocessable(problem, code="r9-expert-team", policy=POLICY.version)
    return program


async def advance(
    session: AsyncSession, program: Program, action: str, *, scheduled: bool = False
) -> None:
    """Take a lifecycle step the caller has checked, and record it with its event: the same
    event whether a person clicked or the calendar moved it (`scheduled`)."""
    step = LIFECYCLE[action]
    before = program.status
    program.status = step.target
    program.updated_at = utcnow()
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        ProgramTransitioned(
            program_id=program.id,
            district_id=program.district_id,
            institution_id=program.institution_id,
            school_id=program.school_id,
            action=action,
            from_status=before,
            to_status=program.status,
            title=program.title,
            hours=program.hours,
            mode=program.mode,
            level=program.level,
            category=program.category,
            starts_on=program.starts_on,
            ends_on=program.ends_on,
            capacity=program.capacity,
            cost_per_participant_fen=program.cost_per_participant_fen,
            funded_by=program.funded_by,
            scheduled=scheduled,
        ),
    )


# What may still change once a program is out of draft (published: seats and closing time).
OPEN_CHANGES = frozenset({"capacity", "enrol_closes_at"})
EDITABLE = ("draft", "rejected")


async def update_program(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID, data: ProgramUpdate
) -> Program:
    program = await get_program(
        session, principal=principal, program_id=program_id, for_update=True
    )
    if not _may_act(principal, program):
        raise Forbidden("Only whoever runs the program, or its bureau, changes it.")
    changes = data.model_dump(exclude_unset=True)
    # Lists and enums are stored as their JSON values.
    json_values = data.model_dump(exclude_unset=True, mode="json")
    for key in ("audience", "expert_team", "funded_by"):
        if key in changes:
            changes[key] = json_values[key]
    if any(value is None for key, value in changes.items() if key != "funded_by"):
        raise Unprocessable("A program's fields cannot be cleared.", code="required-field")
    if program.status not in EDITABLE and (
        program.status not in ("approved", "published") or set(changes) - OPEN_CHANGES
    ):
        raise Conflict(
            f"A {program.status} program changes only {', '.join(sorted(OPEN_CHANGES))}"
            " (before it closes enrolment).",
            code="program-frozen",
        )
    if "capacity" in changes:
        quotas = await session.scalar(
            select(func.coalesce(func.sum(ProgramQuota.seats), 0)).where(
                ProgramQuota.program_id == program.id
            )
        )
        if changes["capacity"] < max(program.seats_taken, quotas or 0):
            raise Conflict(
                "Capacity cannot go below the seats taken or the quotas allotted.",
                code="capacity-below-taken",
            )
    grew = changes.get("capacity", program.capacity) > program.capacity
    for key, value in changes.items():
        setattr(program, key, value)
    program.updated_at = utcnow()
    if program.enrol_closes_at <= program.enrol_opens_at or program.ends_on < program.starts_on:
        raise Unprocessable("The dates are out of order.", code="dates-out-of-order")
    if program.cost_per_participant_fen and program.funded_by is None:
        raise Unprocessable(
            "A program with a cost per participant names who funds it.", code="funded-by-missing"
        )
    await session.flush()
    if changes.keys() & {"title", "description", "audience"}:
        await index_program(session, program)
    if grew:
        # New seats go to the waitlist first, in arrival order.
        await promote(session, program)
    await session.refresh(program)
    return program
