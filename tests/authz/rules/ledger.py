"""Authorization rules of the ledger's endpoints."""

from tests.authz.matrix import B, M, Rule, S, T, rule

RULES: dict[str, Rule] = {
    # A teacher their own hours, a school its teachers', the bureau its district's, a client
    # with hours:read those of its school or district.
    "GET /v1/teachers/{teacher_id}/hours": rule(own=(T, S, B, M), needs="hours:read"),
    "GET /v1/teachers/{teacher_id}/ledger": rule(own=(T, S, B, M), needs="hours:read"),
}
