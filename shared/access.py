"""Scope checks of DOMAIN.md, "Who may see what", in one place for every service."""

from __future__ import annotations

import uuid

from shared.auth import Principal, Role
from shared.errors import Forbidden


def in_scope(
    principal: Principal,
    *,
    district_id: uuid.UUID | None,
    school_id: uuid.UUID | None = None,
    institution_id: uuid.UUID | None = None,
    teacher_id: uuid.UUID | None = None,
) -> bool:
    """Whether the principal may see a record that belongs to these owners.

    A record names what it belongs to; a school admin sees a record of its school, an
    institution admin one of its institution, a teacher one of its own, the bureau anything
    of its district. A service account is bounded by its district and, if set, its school.
    """
    match principal.role:
        case Role.BUREAU_ADMIN:
            return district_id is not None and district_id == principal.district_id
        case Role.SCHOOL_ADMIN:
            return school_id is not None and school_id == principal.school_id
        case Role.INSTITUTION_ADMIN:
            return institution_id is not None and institution_id == principal.institution_id
        case Role.TEACHER:
            return teacher_id is not None and teacher_id == principal.teacher_id
        case Role.SERVICE:
            if district_id is None or district_id != principal.district_id:
                return False
            return principal.school_id is None or principal.school_id == school_id
    return False


def ensure_in_scope(principal: Principal, what: str = "record", **owners: uuid.UUID | None) -> None:
    if not in_scope(principal, **owners):
        raise Forbidden(f"This {what} is outside your scope.", code="out-of-scope")
