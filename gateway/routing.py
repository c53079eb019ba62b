"""Which service answers which public path (API.md). First match wins."""

from __future__ import annotations

import re

ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern), service)
    for pattern, service in (
        (r"^/v1/teachers/[^/]+/(hours|ledger|transcript|province-discrepancies)$", "ledger"),
        (r"^/v1/teachers/[^/]+/(pending-evaluations|training-results)$", "feedback"),
        (r"^/v1/institutions/[^/]+/scorecard$", "feedback"),
        (r"^/v1/(follow-ups|appraisal-templates)(/.*)?$", "feedback"),
        (r"^/v1/reports/institution-ranking$", "feedback"),
        (r"^/v1/(schools|institutions|teachers)(/.*)?$", "enrolment"),
        (r"^/v1/programs/[^/]+/(budget|budget/approval|expenses|final-accounts)$", "budget"),
        (r"^/v1/programs/[^/]+/(ratings|feedback-summary)$", "feedback"),
        (r"^/v1/programs(/.*)?$", "enrolment"),
        (r"^/v1/catalogue(/.*)?$", "enrolment"),
        (r"^/v1/enrolments/[^/]+/assessment$", "feedback"),
        (r"^/v1/(enrolments|leave-requests|sessions)(/.*)?$", "enrolment"),
        (r"^/v1/(ledger|policies)(/.*)?$", "ledger"),
        (r"^/v1/reports/(compliance|province-discrepancies)$", "ledger"),
        (r"^/v1/reports/budget-execution$", "budget"),
        (r"^/v1/funds(/.*)?$", "budget"),
        # Each service's operator endpoints (dead letters); the gateway's own it answers.
        *((rf"^/v1/ops/{s}(/.*)?$", s) for s in ("enrolment", "ledger", "budget", "feedback")),
    )
]


def service_for(path: str) -> str | None:
    for pattern, service in ROUTES:
        if pattern.match(path):
            return service
    return None
