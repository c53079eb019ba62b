"""Authorization rules of the enrolment service's endpoints (directory, programs, enrolments).

DOMAIN.md "Who may see what": a teacher sees its own enrolments; a school admin its school's
teachers, quotas and enrolments (and the district's published offer); an institution the
programs it runs and their trainees; the bureau everything in its district. Service clients
read the roster with `roster:read` and write it with `roster:write`; no scope grants them
quotas, leave requests, attendance or reports.

The world's programs are published district programs run by an institution: their
enrolments are confirmed and each has a pending leave request (conftest.py,
`add_enrolment_requests`), so several allowed requests answer 409 for the state.
"""

import datetime as dt
import uuid

from tests.authz.matrix import B, Binding, Kind, M, N, Rule, S, T, operator_rules, rule


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


def attendance_body(b: Binding) -> dict:
    # The program is published, not running: the allowed get a 409, the others a refusal.
    session_on = dt.date.today() + dt.timedelta(days=10)
    return {"session_on": session_on.isoformat(), "present": [str(b.enrolment_id)], "absent": []}


def session_body(b: Binding) -> dict:
    day = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    return {
        "starts_at": f"{day}T09:00:00+08:00",
        "ends_at": f"{day}T11:00:00+08:00",
        "place": "报告厅",
    }


def teacher_body(b: Binding) -> dict:
    return {
        "name": f"矩阵{uuid.uuid4().hex[:4]}",
        "school_id": str(b.school_id),
        "stage": "primary",
        "subject": "语文",
    }


RULES: dict[str, Rule] = {
    "POST /v1/schools": rule(
        own=(B,),
        body=lambda b: {"name": "矩阵学校", "stage": "primary", "district_id": str(b.district_id)},
    ),
    "GET /v1/schools": rule(Kind.LIST, own=(S, B, M), record="school_id", needs="roster:read"),
    "GET /v1/schools/{school_id}": rule(own=(S, B, M), needs="roster:read"),
    "POST /v1/institutions": rule(
        own=(B,), body=lambda b: {"name": "矩阵机构", "district_id": str(b.district_id)}
    ),
    # Institutions are the district's public offer: every role of the district sees them all.
    # Clients read institutions and programs with roster:read only (not hours:read alone).
    "GET /v1/institutions": rule(
        Kind.LIST, own=(N, B), both=(T, S, M), record="institution_id", needs="roster:read"
    ),
    "GET /v1/institutions/{institution_id}": rule(own=(N, B), both=(T, S, M), needs="roster:read"),
    "POST /v1/teachers": rule(own=(S, B, M), body=teacher_body, needs="roster:write"),
    "GET /v1/teachers": rule(
        Kind.LIST,
        own=(T, S, B, M),
        record="teacher_id",
        query=lambda b: {"school_id": str(b.school_id)},
        needs="roster:read",
    ),
    "GET /v1/teachers/{teacher_id}": rule(own=(T, S, B, M), needs="roster:read"),
    # Identity numbers held in conflict: the bureau only, as resolving one moves a teacher.
    "GET /v1/teachers/id-number-conflicts": rule(Kind.LIST, own=(B,), record="held_teacher_id"),
    "PATCH /v1/teachers/{teacher_id}": rule(
        own=(S, B, M),
        body=lambda b: {"subject": "语文"},
        forbidden_fields=("school_id", "id"),
        needs="roster:write",
    ),
    "POST /v1/programs": rule(own=(N, B), body=program_body),
    # Published programs are the district's offer: schools and teachers see them all.
    "GET /v1/programs": rule(
        Kind.LIST, own=(N, B), both=(T, S, M), record="program_id", needs="roster:read"
    ),
    "GET /v1/programs/{program_id}": rule(own=(N, B), both=(T, S, M), needs="roster:read"),
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
    ),
    "GET /v1/enrolments/{enrolment_id}": rule(own=(T, S, N, B, M), needs="roster:read"),
    # A teacher's enrolments with their programs (the home screen): whoever sees them in
    # GET /v1/enrolments, by the same predicate.
    "GET /v1/teachers/{teacher_id}/enrolments": rule(
        Kind.LIST, own=(T, S, N, B, M), record="enrolment_id", needs="roster:read"
    ),
    # The catalogue is the district's published offer, by the visibility of GET /v1/programs.
    "GET /v1/catalogue": rule(
        Kind.LIST,
        own=(N, B),
        both=(T, S, M),
        record="program_id",
        query=lambda b: {"institution_id": str(b.institution_id)},
        needs="roster:read",
    ),
    "GET /v1/catalogue/{program_id}": rule(own=(N, B), both=(T, S, M), needs="roster:read"),
    # Ranked by the caller's own hours gaps: a teacher's only.
    "GET /v1/catalogue/for-me": rule(Kind.SELF, own=(T,)),
    "POST /v1/enrolments/{enrolment_id}/complete": rule(
        own=(N, B), body=lambda b: {"attendance_rate": "1.000", "passed": True}
    ),
    # R7: the school sets how many of its teachers may be away at once, or its bureau.
    "PATCH /v1/schools/{school_id}": rule(
        own=(S, B),
        body=lambda b: {"max_away": None},
        forbidden_fields=("id", "created_at", "name", "district_id"),
    ),
    # Roster imports: into the caller's own school or district, so no foreign side. An empty
    # file: the allowed get a 422 (import-empty), the others a refusal.
    "POST /v1/teachers/imports": rule(
        Kind.SELF,
        own=(S, B, M),
        files=lambda b: {"file": ("roster.csv", b"", "text/csv")},
        needs="roster:write",
    ),
    # An import job: its school's admin (here its requester) and the bureau of its district;
    # its error report the same (it holds the refused rows' identity numbers).
    "GET /v1/teachers/imports/{import_id}": rule(
        own=(S, B), path=lambda b: {"import_id": b.get("roster_import_id")}
    ),
    "GET /v1/teachers/imports/{import_id}/errors": rule(
        own=(S, B), path=lambda b: {"import_id": b.get("roster_import_id")}
    ),
    # The empty template: whoever may import.
    "GET /v1/teachers/imports/template": rule(Kind.SELF, own=(S, B, M), needs="roster:write"),
    # R8 report on one school: its admin and its bureau; another school is refused.
    "GET /v1/teachers/training-gaps": rule(
        own=(S, B), query=lambda b: {"school_id": str(b.school_id)}
    ),
    # Whoever runs the program edits it; a published program changes only capacity.
    "PATCH /v1/programs/{program_id}": rule(
        own=(N, B),
        body=lambda b: {"capacity": 10},
        forbidden_fields=("id", "created_at", "status", "district_id", "seats_taken"),
    ),
    # R3: the bureau allots seats; an empty allotment leaves the world as it is.
    "PUT /v1/programs/{program_id}/quotas": rule(
        own=(B,), body=lambda b: {"quotas": []}, forbidden_fields=("program_id", "allotted")
    ),
    # A school admin sees its own school's quota of any program of the district's offer.
    "GET /v1/programs/{program_id}/quotas": rule(own=(N, B), both=(S,)),
    # Attendance is taken by whoever runs the program.
    "POST /v1/programs/{program_id}/attendance": rule(own=(N, B), body=attendance_body),
    # Trainees of a program: its runners; a school admin its own school's trainees on any
    # program it sees (an empty roster on the foreign side, not a refusal).
    "GET /v1/programs/{program_id}/roster": rule(own=(N, B), both=(S,)),
    "GET /v1/programs/{program_id}/participation": rule(own=(N, B), both=(S,)),
    # Selection (R2): `recommend` of a confirmed enrolment; the school of the teacher and the
    # bureau get a 409, the others a refusal.
    "POST /v1/enrolments/{enrolment_id}/{action}": rule(
        own=(S, B), path=lambda b: {"action": "recommend"}
    ),
    # R4: the trainee, its school or the bureau files a leave request; one is pending, so
    # the allowed get a 409.
    "POST /v1/enrolments/{enrolment_id}/leave-requests": rule(
        own=(T, S, B),
        body=lambda b: {"kind": "leave", "reason": "矩阵测试请假"},
        forbidden_fields=("id", "created_at", "status", "school_approved"),
    ),
    "GET /v1/leave-requests/{leave_id}": rule(own=(T, S, N, B)),
    # The school decides as school (the institution as institution): the school admin
    # approves once, then gets a 409; approving leaves the request pending for the
    # institution, so the world's enrolment stays confirmed.
    "POST /v1/leave-requests/{leave_id}/decisions": rule(
        own=(S,),
        body=lambda b: {"party": "school", "approve": True},
        forbidden_fields=("id", "created_at", "status", "leave_id"),
    ),
    # A lottery's draw is public to whoever sees the program (it is there to be checked):
    # its runners, and the district's schools and teachers; clients with roster:read.
    "GET /v1/programs/{program_id}/draw": rule(
        own=(N, B),
        both=(T, S, M),
        path=lambda b: {"program_id": b.get("lottery_program_id")},
        needs="roster:read",
    ),
    # Sessions: whoever runs the program schedules them (on the world's program, ten days
    # ahead) and shows the check-in code; whoever sees the program sees its sessions.
    "POST /v1/programs/{program_id}/sessions": rule(own=(N, B), body=session_body),
    "GET /v1/programs/{program_id}/sessions": rule(own=(N, B), both=(T, S, M), needs="roster:read"),
    "GET /v1/sessions/{session_id}/check-in-code": rule(own=(N, B)),
    # Only a trainee of the program checks in; a made-up code: the trainee gets a 422.
    "POST /v1/sessions/{session_id}/check-ins": rule(own=(T,), body=lambda b: {"code": "x"}),
    # A teacher's calendar: the teacher, its school, its bureau; no client.
    "GET /v1/teachers/{teacher_id}/sessions.ics": rule(own=(T, S, B)),
    **operator_rules("enrolment"),
}
