"""Authorization rules of the enrolment service's endpoints (directory, programs, enrolments)."""

import datetime as dt
import uuid

from tests.authz.matrix import B, Binding, Kind, M, N, Rule, S, Scope, T, rule


def program_body(b: Binding) -> dict:
    now = dt.datetime.now(dt.UTC)
    today = dt.date.today()
    return {
        "title": "矩阵测试培训",
        "hours": "8.0",
        "capacity": 10,
        "mode": "centralized",
        "level": "district",
        "category": "self_selected",
        "institution_id": str(b.institution_id),
        "enrol_opens_at": (now - dt.timedelta(hours=1)).isoformat(),
        "enrol_closes_at": (now + dt.timedelta(days=7)).isoformat(),
        "starts_on": (today + dt.timedelta(days=10)).isoformat(),
        "ends_on": (today + dt.timedelta(days=11)).isoformat(),
    }


def teacher_body(b: Binding) -> dict:
    return {
        "name": f"矩阵{uuid.uuid4().hex[:4]}",
        "school_id": str(b.school_id),
        "stage": "primary",
        "subject": "语文",
    }


# Reported to enrolment: programs_query and can_see_program do not bound teachers and school
# admins to their district, so they see every district's published programs.
CROSS_DISTRICT_PROGRAMS = {
    (role, Scope.OTHER_DISTRICT): "a teacher or school admin sees other districts' programs"
    for role in (T, S)
}

# Reported to enrolment: a service client reads schools, teachers and enrolments of its scope
# without holding roster:read.
ROSTER_READ = {(M, Scope.WITHOUT_GRANT): "enrolment does not require roster:read of clients"}

RULES: dict[str, Rule] = {
    "POST /v1/schools": rule(
        own=(B,),
        body=lambda b: {"name": "矩阵学校", "stage": "primary", "district_id": str(b.district_id)},
    ),
    "GET /v1/schools": rule(
        Kind.LIST, own=(S, B, M), record="school_id", needs="roster:read", deviations=ROSTER_READ
    ),
    "GET /v1/schools/{school_id}": rule(own=(S, B, M), needs="roster:read", deviations=ROSTER_READ),
    "POST /v1/institutions": rule(
        own=(B,), body=lambda b: {"name": "矩阵机构", "district_id": str(b.district_id)}
    ),
    # Institutions are the district's public offer: every role of the district sees them all.
    "GET /v1/institutions": rule(Kind.LIST, own=(N, B), both=(T, S, M), record="institution_id"),
    "GET /v1/institutions/{institution_id}": rule(own=(N, B), both=(T, S, M)),
    "POST /v1/teachers": rule(own=(S, B, M), body=teacher_body, needs="roster:write"),
    "GET /v1/teachers": rule(
        Kind.LIST,
        own=(T, S, B, M),
        record="teacher_id",
        query=lambda b: {"school_id": str(b.school_id)},
        needs="roster:read",
        deviations=ROSTER_READ,
    ),
    "GET /v1/teachers/{teacher_id}": rule(
        own=(T, S, B, M), needs="roster:read", deviations=ROSTER_READ
    ),
    "PATCH /v1/teachers/{teacher_id}": rule(
        own=(S, B, M),
        body=lambda b: {"subject": "语文"},
        forbidden_fields=("school_id", "id"),
        needs="roster:write",
    ),
    "POST /v1/programs": rule(own=(N, B), body=program_body),
    # Published programs are the district's offer: schools and teachers see them all.
    "GET /v1/programs": rule(
        Kind.LIST,
        own=(N, B),
        both=(T, S, M),
        record="program_id",
        deviations=CROSS_DISTRICT_PROGRAMS,
    ),
    "GET /v1/programs/{program_id}": rule(
        own=(N, B),
        both=(T, S, M),
        deviations={
            (M, scope): "enrolment lists the district's programs to a school-bound client "
            "but refuses it each one (can_see_program vs programs_query)"
            for scope in (Scope.OWN, Scope.FOREIGN, Scope.WITHOUT_GRANT)
        }
        | CROSS_DISTRICT_PROGRAMS,
    ),
    # `submit` of a published program: the allowed get a 409, the others a refusal.
    "POST /v1/programs/{program_id}/{action}": rule(
        own=(N, B), path=lambda b: {"action": "submit"}
    ),
    "POST /v1/programs/{program_id}/enrolments": rule(
        own=(T, S, B), body=lambda b: {"teacher_id": str(b.teacher_id)}
    ),
    "GET /v1/enrolments": rule(
        Kind.LIST,
        own=(T, S, N, B, M),
        record="enrolment_id",
        query=lambda b: {"teacher_id": str(b.teacher_id)},
        needs="roster:read",
        deviations=ROSTER_READ,
    ),
    "GET /v1/enrolments/{enrolment_id}": rule(
        own=(T, S, N, B, M), needs="roster:read", deviations=ROSTER_READ
    ),
    "POST /v1/enrolments/{enrolment_id}/complete": rule(
        own=(N, B), body=lambda b: {"attendance_rate": "1.000", "passed": True}
    ),
}
