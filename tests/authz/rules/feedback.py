"""Authorization rules of the feedback service's endpoints (R24–R29, DOMAIN.md "Who may see what").

A teacher sees and gives their own evaluations; a school admin reads those of its teachers;
an institution assesses the trainees of the programs it runs and reads their feedback and
follow-ups; the bureau everything of its district. No integration of a service client needs
evaluations (the scope catalogue grants none), so clients are refused here.

The world's programs end in ten days: an allowed rating, assessment or follow-up answer gets
422 (window not open), a refused caller 403/404, before any state is checked.
"""

from tests.authz.matrix import B, Binding, Kind, N, Rule, S, T, operator_rules, rule


def template_body(b: Binding) -> dict:
    return {
        "name": "矩阵考评方案",
        "term_weeks": 20,
        "rounds": [
            {
                "key": "classroom",
                "name": "课堂能力",
                "first_week": 1,
                "last_week": 13,
                "respondent": "group",
            }
        ],
    }


SCORES = {"overall": 5, "format": 4, "instructors": 5, "management": 4, "comments": "很好"}
ASSESSMENT = {"attitude": 5, "assignments": 4, "attendance_rate": "1.0", "passed": True}
ANSWERS = {"answers": {"applied": 4, "student_effect": 3, "what_changed": "课堂提问更有层次"}}

RULES: dict[str, Rule] = {
    # R25: only an attendee rates, and never in someone else's name.
    "POST /v1/programs/{program_id}/ratings": rule(
        own=(T,),
        body=lambda b: SCORES,
        forbidden_fields=("id", "created_at", "teacher_id", "enrolment_id", "program_id"),
    ),
    # R24: the program's institution (its school for school-based programs) or the bureau;
    # the world's programs are institutions', so a school admin is refused.
    "POST /v1/enrolments/{enrolment_id}/assessment": rule(
        own=(N, B),
        body=lambda b: ASSESSMENT,
        forbidden_fields=(
            "id",
            "created_at",
            "late",
            "assessed_by",
            "teacher_id",
            "program_id",
            "institution_id",
        ),
    ),
    # A teacher's own to-do list and yearly results (R6, R29): the teacher, the school,
    # the bureau. An institution sees only its own programs' trainees, not all of a teacher's.
    "GET /v1/teachers/{teacher_id}/pending-evaluations": rule(own=(T, S, B)),
    "GET /v1/teachers/{teacher_id}/training-results": rule(own=(T, S, B)),
    # R27: the trainee answers; the school and the program's institution (which owes the
    # follow-up service) and the bureau read it.
    "GET /v1/follow-ups/{task_id}": rule(own=(T, S, N, B)),
    "POST /v1/follow-ups/{task_id}/responses": rule(
        own=(T,),
        body=lambda b: ANSWERS,
        forbidden_fields=("id", "created_at", "task_id", "teacher_id", "program_id"),
    ),
    # R26/R17: the program's institution and the bureau. A trainee only after rating it,
    # which the world's trainee has not (tests/feedback/test_scorecards.py covers after).
    "GET /v1/programs/{program_id}/feedback-summary": rule(own=(N, B)),
    "GET /v1/institutions/{institution_id}/scorecard": rule(own=(N, B)),
    # The ranking of the district's institutions is the bureau's.
    "GET /v1/reports/institution-ranking": rule(Kind.SELF, own=(B,)),
    # R28: a school's templates are its own; the bureau sees and makes district-wide ones.
    "POST /v1/appraisal-templates": rule(
        Kind.SELF,
        own=(S, B),
        body=template_body,
        forbidden_fields=("id", "created_at", "school_id", "district_id"),
    ),
    "GET /v1/appraisal-templates": rule(Kind.LIST, own=(S, B), record="template_id"),
    "GET /v1/appraisal-templates/{template_id}": rule(own=(S, B)),
    "GET /v1/appraisal-templates/{template_id}/schedule": rule(
        own=(S, B), query=lambda b: {"term_starts_on": "2026-09-01"}
    ),
    **operator_rules("feedback"),
}
