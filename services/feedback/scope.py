"""Who may see and act on a program's feedback (DOMAIN.md, "Who may see what")."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import ProgramProjection, TeacherProjection
from shared.access import in_scope
from shared.auth import Principal, Role
from shared.errors import Forbidden, NotFound


def runs_program(principal: Principal, program: ProgramProjection) -> bool:
    """The program's institution, its school for school-based programs, or the bureau."""
    match principal.role:
        case Role.INSTITUTION_ADMIN:
            return program.institution_id is not None and (
                program.institution_id == principal.institution_id
            )
        case Role.SCHOOL_ADMIN:
            return program.school_id is not None and program.school_id == principal.school_id
        case Role.BUREAU_ADMIN:
            return program.district_id == principal.district_id
    return False


async def get_program(session: AsyncSession, program_id: uuid.UUID) -> ProgramProjection:
    program = await session.get(ProgramProjection, program_id)
    if program is None:
        raise NotFound("No such program.", code="unknown-program")
    return program


def ensure_runs(principal: Principal, program: ProgramProjection, doing: str) -> None:
    if not runs_program(principal, program):
        raise Forbidden(
            f"Only the program's institution (or school) and the bureau may {doing}.",
            code="out-of-scope",
        )


async def authorize_teacher(
    session: AsyncSession, principal: Principal, teacher_id: uuid.UUID
) -> None:
    """A teacher reads their own; the school and bureau read those in their scope."""
    if principal.role is Role.TEACHER and principal.teacher_id == teacher_id:
        return
    teacher = await session.get(TeacherProjection, teacher_id)
    if principal.role is Role.TEACHER:
        raise Forbidden("A teacher sees only their own evaluations.", code="out-of-scope")
    if teacher is None:
        raise NotFound("No such teacher.", message="not-found.teacher")
    principal.require_scope("evaluations:read")
    if not in_scope(
        principal,
        district_id=teacher.district_id,
        school_id=teacher.school_id,
        teacher_id=teacher_id,
    ):
        raise Forbidden("This teacher is outside your scope.", code="out-of-scope")
