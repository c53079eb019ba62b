"""HTTP of the directory: schools, institutions, teachers."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.enrolment import directory
from services.enrolment.models import Institution, School, Teacher
from services.enrolment.schemas import (
    IdNumberConflictRead,
    InstitutionCreate,
    InstitutionRead,
    SchoolCreate,
    SchoolRead,
    SchoolUpdate,
    TeacherCreate,
    TeacherRead,
    TeacherUpdate,
)
from shared.deps import Caller, Idem, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1", tags=["directory"])


@router.post("/schools", status_code=201, response_model=SchoolRead)
async def create_school(
    body: SchoolCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Register a school in the bureau's district (bureau only)."""
    if replay := await idem.replay():
        return replay
    school = await directory.create_school(session, principal=caller, data=body)
    return await idem.respond(201, SchoolRead.model_validate(school))


@router.get("/schools", response_model=Page[SchoolRead])
async def list_schools(session: Session, caller: Caller, paging: Paging) -> dict:
    """The schools the caller may see: the bureau's district, a school admin's own school."""
    rows = (await session.scalars(paginate(directory.schools_query(caller), School, paging))).all()
    return page_of(list(rows), paging, SchoolRead)


@router.get("/schools/{school_id}", response_model=SchoolRead)
async def get_school(school_id: uuid.UUID, session: Session, caller: Caller) -> School:
    """One school."""
    return await directory.get_school(session, principal=caller, school_id=school_id)


@router.patch("/schools/{school_id}", response_model=SchoolRead)
async def update_school(
    school_id: uuid.UUID, body: SchoolUpdate, session: Session, caller: Caller
) -> School:
    """Set how many of the school's teachers may be away on training at once (R7)."""
    return await directory.update_school(session, principal=caller, school_id=school_id, data=body)


@router.post("/institutions", status_code=201, response_model=InstitutionRead)
async def create_institution(
    body: InstitutionCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Register a training institution in the bureau's district (bureau only)."""
    if replay := await idem.replay():
        return replay
    institution = await directory.create_institution(session, principal=caller, data=body)
    return await idem.respond(201, InstitutionRead.model_validate(institution))


@router.get("/institutions", response_model=Page[InstitutionRead])
async def list_institutions(session: Session, caller: Caller, paging: Paging) -> dict:
    """The district's training institutions."""
    query = paginate(directory.institutions_query(caller), Institution, paging)
    return page_of(list((await session.scalars(query)).all()), paging, InstitutionRead)


@router.get("/institutions/{institution_id}", response_model=InstitutionRead)
async def get_institution(
    institution_id: uuid.UUID, session: Session, caller: Caller
) -> Institution:
    """One training institution."""
    return await directory.get_institution(session, principal=caller, institution_id=institution_id)


@router.post("/teachers", status_code=201, response_model=TeacherRead)
async def create_teacher(
    body: TeacherCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Register a teacher at a school (bureau, or the school's admin); the identity number is kept
    encrypted and shown masked."""
    if replay := await idem.replay():
        return replay
    teacher = await directory.create_teacher(session, principal=caller, data=body)
    return await idem.respond(201, TeacherRead.model_validate(teacher))


@router.get("/teachers", response_model=Page[TeacherRead])
async def list_teachers(
    session: Session, caller: Caller, paging: Paging, school_id: uuid.UUID | None = None
) -> dict:
    """The teachers the caller may see: the bureau's district, or a school admin's school."""
    query = directory.teachers_query(caller)
    if school_id:
        query = query.where(Teacher.school_id == school_id)
    rows = (await session.scalars(paginate(query, Teacher, paging))).all()
    return page_of(list(rows), paging, TeacherRead)


@router.get("/teachers/id-number-conflicts", response_model=Page[IdNumberConflictRead])
async def list_id_number_conflicts(session: Session, caller: Caller, paging: Paging) -> dict:
    """The bureau's held registrations: a teacher of its district registered with a number a
    teacher elsewhere has, or one of its teachers' numbers registered elsewhere."""
    query = paginate(directory.id_number_conflicts_query(caller), Teacher, paging)
    rows = [
        IdNumberConflictRead(
            id=held.id,
            district_id=held.district_id,
            school_id=held.school_id,
            id_number_masked=held.id_number_masked,
            holder_id=holder.id,
            holder_district_id=holder.district_id,
            holder_school_id=holder.school_id,
            created_at=held.created_at,
        )
        for held, holder in (await session.execute(query)).all()
    ]
    return page_of(rows, paging, IdNumberConflictRead)


@router.get("/teachers/{teacher_id}", response_model=TeacherRead)
async def get_teacher(teacher_id: uuid.UUID, session: Session, caller: Caller) -> Teacher:
    """One teacher (a teacher may read their own record)."""
    return await directory.get_teacher(session, principal=caller, teacher_id=teacher_id)


@router.patch("/teachers/{teacher_id}", response_model=TeacherRead)
async def update_teacher(
    teacher_id: uuid.UUID, body: TeacherUpdate, session: Session, caller: Caller
) -> Teacher:
    """Change a teacher's name, stage, subject, hire date or roles."""
    return await directory.update_teacher(
        session, principal=caller, teacher_id=teacher_id, data=body
    )
