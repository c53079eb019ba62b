"""The directory: districts, schools, institutions and teachers."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.enrolment.models import District, Institution, School, Teacher, infra
from services.enrolment.schemas import (
    InstitutionCreate,
    SchoolCreate,
    SchoolUpdate,
    TeacherCreate,
    TeacherUpdate,
)
from shared import pii
from shared.access import ensure_in_scope
from shared.auth import Principal, Role
from shared.config import DEFAULT_DISTRICT_ID
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events.enrolment import (
    DistrictNamed,
    InstitutionRegistered,
    KeyedIdNumber,
    SchoolRegistered,
    TeacherIdNumbersKeyed,
    TeacherLogin,
    TeacherLoginsRequested,
    TeacherMobileChanged,
    TeacherRegistered,
    TeacherUpdated,
)
from shared.messaging.outbox import add_event


async def ensure_default_district(session: AsyncSession, *, name: str) -> None:
    """The default district under its configured name, announced so that other services'
    documents name the bureau (an event each start: a rename or a new consumer catches up)."""
    district = await session.get(District, DEFAULT_DISTRICT_ID)
    if district is None:
        session.add(District(id=DEFAULT_DISTRICT_ID, name=name))
    else:
        district.name = name
    await session.flush()
    await add_event(
        session, infra.outbox, DistrictNamed(district_id=DEFAULT_DISTRICT_ID, name=name)
    )


async def _district_for(
    session: AsyncSession, principal: Principal, district_id: uuid.UUID | None
) -> uuid.UUID:
    principal.require(Role.BUREAU_ADMIN)
    district_id = district_id or principal.district_id
    if district_id != principal.district_id:
        raise Forbidden("A bureau registers only in its own district.", code="out-of-scope")
    if district_id is None or await session.get(District, district_id) is None:
        raise Unprocessable("The district does not exist.", code="unknown-district")
    return district_id


async def create_school(
    session: AsyncSession, *, principal: Principal, data: SchoolCreate
) -> School:
    district_id = await _district_for(session, principal, data.district_id)
    school = School(
        district_id=district_id, name=data.name, stage=data.stage.value, max_away=data.max_away
    )
    session.add(school)
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        SchoolRegistered(
            school_id=school.id, district_id=district_id, name=school.name, stage=school.stage
        ),
    )
    return school


async def get_school(
    session: AsyncSession, *, principal: Principal, school_id: uuid.UUID
) -> School:
    principal.require_scope("roster:read")
    school = await session.get(School, school_id)
    if school is None:
        raise NotFound("No such school.", message="not-found.school")
    ensure_in_scope(principal, "school", district_id=school.district_id, school_id=school.id)
    return school


async def update_school(
    session: AsyncSession, *, principal: Principal, school_id: uuid.UUID, data: SchoolUpdate
) -> School:
    """R7: the school (or its bureau) sets how many of its teachers may be away at once."""
    school = await get_school(session, principal=principal, school_id=school_id)
    principal.require(Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN)
    if "max_away" in data.model_fields_set:
        school.max_away = data.max_away
    await session.flush()
    return school


def schools_query(principal: Principal):
    principal.require_scope("roster:read")
    query = select(School)
    if principal.role is Role.BUREAU_ADMIN or principal.role is Role.SERVICE:
        query = query.where(School.district_id == principal.district_id)
        if principal.school_id:
            query = query.where(School.id == principal.school_id)
    elif principal.role is Role.SCHOOL_ADMIN:
        query = query.where(School.id == principal.school_id)
    else:
        raise Forbidden("Only the bureau and school admins list schools.")
    return query


async def create_institution(
    session: AsyncSession, *, principal: Principal, data: InstitutionCreate
) -> Institution:
    district_id = await _district_for(session, principal, data.district_id)
    institution = Institution(district_id=district_id, name=data.name)
    session.add(institution)
    await session.flush()
    await add_event(
        session,
        infra.outbox,
        InstitutionRegistered(
            institution_id=institution.id, district_id=district_id, name=institution.name
        ),
    )
    return institution


async def get_institution(
    session: AsyncSession, *, principal: Principal, institution_id: uuid.UUID
) -> Institution:
    principal.require_scope("roster:read")
    institution = await session.get(Institution, institution_id)
    if institution is None:
        raise NotFound("No such institution.", message="not-found.institution")
    if principal.role is Role.INSTITUTION_ADMIN:
        ensure_in_scope(principal, "institution", district_id=None, institution_id=institution.id)
    elif institution.district_id != principal.district_id:
        raise Forbidden("This institution is outside your scope.", code="out-of-scope")
    return institution


def institutions_query(principal: Principal):
    principal.require_scope("roster:read")
    query = select(Institution)
    if principal.role is Role.INSTITUTION_ADMIN:
        return query.where(Institution.id == principal.institution_id)
    if principal.district_id is None:
        raise Forbidden("No district in scope.")
    return query.where(Institution.district_id == principal.district_id)


async def create_teacher(
    session: AsyncSession, *, principal: Principal, data: TeacherCreate
) -> Teacher:
    school = await session.get(School, data.school_id)
    if school is None:
        raise Unprocessable("The school does not exist.", code="unknown-school")
    if principal.role not in (Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN, Role.SERVICE):
        raise Forbidden("Only the bureau, a school admin or a roster system registers teachers.")
    principal.require_scope("roster:write")
    ensure_in_scope(principal, "school", district_id=school.district_id, school_id=school.id)
    scope_id = principal.school_id or school.district_id
    holder = None
    if data.id_number:
        holder = await id_number_holder(session, pii.lookup_hash(data.id_number), scope_id)
    elsewhere = bool(data.mobile) and await mobile_held_elsewhere(
        session, pii.lookup_hash(data.mobile), scope_id
    )
    return await register_teacher(
        session, school=school, data=data, holder=holder, mobile_elsewhere=elsewhere
    )


def in_scope(teacher: Teacher, scope_id: uuid.UUID) -> bool:
    """Whether the teacher is in the registrar's scope: its school, or its district."""
    return scope_id in (teacher.school_id, teacher.district_id)


async def id_number_holder(
    session: AsyncSession, digest: str, scope_id: uuid.UUID
) -> Teacher | None:
    """Who already has this identity number, if outside the registrar's scope; a teacher in
    its scope who has it (or claims it) is a 409, as the registrar can see that teacher.

    An answer naming a holder elsewhere would tell the registrar that the number exists in
    another school or district: the caller registers a held conflict instead and answers as
    for a new number."""
    holder = None
    found = await session.scalars(
        select(Teacher).where(
            or_(Teacher.id_number_hash == digest, Teacher.id_number_claim_hash == digest)
        )
    )
    for teacher in found:
        if in_scope(teacher, scope_id):
            raise Conflict(
                "A teacher with this identity number exists.", code="duplicate-id-number"
            )
        if teacher.id_number_hash == digest:
            holder = teacher
    return holder


async def mobile_held_elsewhere(
    session: AsyncSession, digest: str, scope_id: uuid.UUID, teacher_id: uuid.UUID | None = None
) -> bool:
    """Whether a teacher outside the registrar's scope has this mobile number as a login; a
    teacher of its scope who has it is a 409, as the registrar can see that teacher.

    As with identity numbers, a 409 for a number held elsewhere would tell the registrar it
    exists in another school or district: the number is kept on the new record instead,
    shown masked, but it is no login identifier (the holder keeps that)."""
    held = False
    for other in await session.scalars(select(Teacher).where(Teacher.mobile_hash == digest)):
        if other.id == teacher_id:
            continue
        if in_scope(other, scope_id):
            raise Conflict("Another teacher has this mobile number.", code="duplicate-mobile")
        held = True
    return held


async def register_teacher(
    session: AsyncSession,
    *,
    school: School,
    data: TeacherCreate,
    holder: Teacher | None = None,
    mobile_elsewhere: bool = False,
    login: bool = False,
    deferred: bool = False,
) -> Teacher:
    """Write a teacher whose caller was already authorised (the API or a roster import), and
    checked its identity number (`id_number_holder`): `holder`, a teacher outside the
    caller's scope who has the number, makes this a held conflict without a login by it.

    With `data.login` the gateway is asked, by an event in the same transaction, to make the
    teacher's login (a roster import asks for a chunk's logins in one event: `login_of`).
    `mobile_elsewhere`: a teacher outside the caller's scope has the mobile number as a login
    (`mobile_held_elsewhere`; the import checks a chunk at once): it is kept, not as a login.
    `deferred`: neither flushed nor
    announced; the caller writes a chunk's rows and events at once (`announce`).
    """
    teacher = Teacher(
        district_id=school.district_id,
        school_id=school.id,
        name=data.name,
        stage=data.stage.value,
        subject=data.subject,
        hired_on=data.hired_on,
        roles=sorted({role.value for role in data.roles}),
    )
    if data.id_number:
        digest = pii.lookup_hash(data.id_number)
        teacher.id_number_encrypted = pii.encrypt(data.id_number)
        teacher.id_number_masked = pii.mask(data.id_number)
        if holder is None:
            teacher.id_number_hash = digest
        else:  # the number stays the holder's login; this record waits for the bureaus
            teacher.id_number_claim_hash = digest
            teacher.id_number_holder_id = holder.id
    if data.mobile:
        _set_mobile(teacher, data.mobile, login=not mobile_elsewhere)
    session.add(teacher)
    if deferred:
        return teacher
    await session.flush()
    await add_event(session, infra.outbox, teacher_facts(TeacherRegistered, teacher))
    await key_id_numbers(session, [teacher])
    if login or data.login:
        await request_logins(session, [login_of(teacher)])
    return teacher


def login_of(teacher: Teacher) -> TeacherLogin:
    return TeacherLogin(
        teacher_id=teacher.id,
        school_id=teacher.school_id,
        district_id=teacher.district_id,
        name=teacher.name,
        id_number_hash=teacher.id_number_hash,
        id_number_masked=teacher.id_number_masked,
        mobile_hash=teacher.mobile_hash,
        mobile_masked=teacher.mobile_masked,
    )


async def request_logins(session: AsyncSession, logins: list[TeacherLogin]) -> None:
    """Ask the gateway for these logins; asking again only refreshes their identifiers."""
    if logins:
        await add_event(session, infra.outbox, TeacherLoginsRequested(logins=logins))


async def announce(
    session: AsyncSession, registered: list[Teacher], logins: list[TeacherLogin]
) -> None:
    """Write deferred teachers in one statement, then their events and their logins' event."""
    await session.flush()
    if registered:
        events = [teacher_facts(TeacherRegistered, t) for t in registered]
        await add_event(session, infra.outbox, *events)
        await key_id_numbers(session, registered)
    await request_logins(session, logins)


async def key_id_numbers(session: AsyncSession, teachers: list[Teacher]) -> None:
    """Tell the ledger the keyed hashes of these teachers' identity numbers (held conflicts
    have none): provincial files name teachers by 身份证号 (docs/ledger.md)."""
    keyed = [
        KeyedIdNumber(
            teacher_id=t.id,
            district_id=t.district_id,
            id_number_hash=t.id_number_hash,
            id_number_encrypted=t.id_number_encrypted,
        )
        for t in teachers
        if t.id_number_hash
    ]
    if keyed:
        await add_event(session, infra.outbox, TeacherIdNumbersKeyed(teachers=keyed))


def _set_mobile(teacher: Teacher, mobile: str | None, *, login: bool = True) -> None:
    """A mobile number is a login identifier (`mobile_hash`, unique) unless another teacher
    already logs in with it (`login` False): then it is only kept, encrypted and masked."""
    if mobile is None:
        teacher.mobile_encrypted = teacher.mobile_hash = teacher.mobile_masked = None
        return
    teacher.mobile_encrypted = pii.encrypt(mobile)
    teacher.mobile_hash = pii.lookup_hash(mobile) if login else None
    # 139****4958: how a phone number is shown in China.
    teacher.mobile_masked = pii.mask(mobile, keep_start=3, keep_end=4)


def teacher_facts(
    kind: type[TeacherRegistered] | type[TeacherUpdated], teacher: Teacher
) -> TeacherRegistered | TeacherUpdated:
    return kind(
        teacher_id=teacher.id,
        school_id=teacher.school_id,
        district_id=teacher.district_id,
        name=teacher.name,
        stage=teacher.stage,
        subject_taught=teacher.subject,
        hired_on=teacher.hired_on,
    )


async def get_teacher(
    session: AsyncSession,
    *,
    principal: Principal,
    teacher_id: uuid.UUID,
    needs: str = "roster:read",
) -> Teacher:
    """`needs`: the scope a service client must hold (roster:write when it updates)."""
    principal.require_scope(needs)
    teacher = await session.get(Teacher, teacher_id)
    if teacher is None:
        raise NotFound("No such teacher.", message="not-found.teacher")
    ensure_in_scope(
        principal,
        "teacher",
        district_id=teacher.district_id,
        school_id=teacher.school_id,
        teacher_id=teacher.id,
    )
    return teacher


async def update_teacher(
    session: AsyncSession, *, principal: Principal, teacher_id: uuid.UUID, data: TeacherUpdate
) -> Teacher:
    teacher = await get_teacher(
        session, principal=principal, teacher_id=teacher_id, needs="roster:write"
    )
    if principal.role not in (Role.BUREAU_ADMIN, Role.SCHOOL_ADMIN, Role.SERVICE):
        raise Forbidden("A teacher's record is kept by the school or the bureau.")
    changes = data.model_dump(exclude_unset=True)
    mobile_changed = "mobile" in changes
    if mobile_changed:
        mobile = changes.pop("mobile")
        elsewhere = mobile is not None and await mobile_held_elsewhere(
            session,
            pii.lookup_hash(mobile),
            principal.school_id or teacher.district_id,
            teacher.id,
        )
        _set_mobile(teacher, mobile, login=not elsewhere)
    for name, value in changes.items():
        if value is None and name != "hired_on":
            raise Unprocessable(f"{name} cannot be cleared.", code="required-field")
        if name == "roles":
            value = sorted({role.value for role in value})
        setattr(teacher, name, value.value if hasattr(value, "value") else value)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same mobile number
        raise Conflict("Another teacher has this mobile number.", code="duplicate-mobile") from exc
    if changes:
        await add_event(session, infra.outbox, teacher_facts(TeacherUpdated, teacher))
    if mobile_changed:
        await add_event(
            session,
            infra.outbox,
            TeacherMobileChanged(
                teacher_id=teacher.id,
                school_id=teacher.school_id,
                district_id=teacher.district_id,
                mobile_hash=teacher.mobile_hash,
                mobile_masked=teacher.mobile_masked,
            ),
        )
    return teacher


def teachers_query(principal: Principal):
    principal.require_scope("roster:read")
    query = select(Teacher)
    match principal.role:
        case Role.TEACHER:
            return query.where(Teacher.id == principal.teacher_id)
        case Role.SCHOOL_ADMIN:
            return query.where(Teacher.school_id == principal.school_id)
        case Role.BUREAU_ADMIN | Role.SERVICE:
            query = query.where(Teacher.district_id == principal.district_id)
            if principal.school_id:
                query = query.where(Teacher.school_id == principal.school_id)
            return query
    raise Forbidden("An institution lists trainees through its programs' rosters.")


def id_number_conflicts_query(principal: Principal):
    """Teachers held because another teacher has their identity number, for the bureau of
    either side: the one whose school registered the number and the one whose teacher has
    it. Resolving one is a transfer (not yet built)."""
    principal.require(Role.BUREAU_ADMIN)
    holder = aliased(Teacher)
    return (
        select(Teacher, holder)
        .join(holder, holder.id == Teacher.id_number_holder_id)
        .where(
            or_(
                Teacher.district_id == principal.district_id,
                holder.district_id == principal.district_id,
            )
        )
    )
