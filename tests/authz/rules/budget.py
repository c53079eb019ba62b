"""Authorization rules of the budget service's endpoints (pools, program budgets, report).

DOMAIN.md "Who may see what": funds are a school's (its admin, only its own) and the
bureau's (everything in its district); an institution sees the budgets of the programs it
runs, never pools; a teacher no money at all. The world's programs are district-level, not
school-based, so a school admin is refused their budgets too.

Service clients: budget asks for `budget:read` / `budget:write`, which the gateway's scope
catalogue (gateway/policy.py, scopes/1) does not offer, so no client may hold them yet and
every service client is refused here. Once the catalogue offers them, add M to `own` of
the pool, report and budget-reading rules with `needs="budget:read"`, and of the writing
rules with `needs="budget:write"`.
"""

import datetime as dt
import uuid

from tests.authz.matrix import B, Binding, Kind, N, Rule, S, operator_rules, rule

# A year of its own, so the pools these requests open never meet the world's (2090).
FUNDS_YEAR = 2091


def public_funds_body(b: Binding) -> dict:
    return {
        "fiscal_year": FUNDS_YEAR,
        "source": "public_funds",
        "school_id": str(b.school_id),
        "basis_fen": 1_000_000_00,
    }


def payment_body(b: Binding) -> dict:
    # Nothing is owed in the world: the allowed get a 422 (overpayment), the others a refusal.
    return {"id": str(uuid.uuid4()), "institution_id": str(b.institution_id), "amount_fen": 1}


def budget_body(b: Binding) -> dict:
    return {"pool_id": str(b.get("bureau_pool_id")), "lines": {"transport": 1000_00}}


def expense_body(b: Binding) -> dict:
    # One fen on the planned transport line: the allowed spend it, the others are refused.
    return {
        "id": str(uuid.uuid4()),
        "category": "transport",
        "amount_fen": 1,
        "spent_on": dt.date.today().isoformat(),
    }


# `id` is a client-chosen idempotency key in these bodies, not server-assigned.
CLIENT_IDS = ("created_at", "district_id")

RULES: dict[str, Rule] = {
    # A school admin opens its school's public-funds pool (R20), the bureau any of its
    # district's; the allowed get a 201, or a 409 once that pool exists.
    "POST /v1/funds": rule(
        own=(S, B),
        body=public_funds_body,
        forbidden_fields=(*CLIENT_IDS, "owner_kind", "school_share_fen", "rule"),
    ),
    "GET /v1/funds": rule(Kind.LIST, own=(S, B), record="pool_id"),
    "GET /v1/funds/{pool_id}": rule(own=(S, B)),
    "GET /v1/funds/{pool_id}/journal": rule(own=(S, B)),
    # Paying an institution from a pool: whoever holds the pool (its school, the bureau).
    "POST /v1/funds/{pool_id}/payments": rule(
        own=(S, B), body=payment_body, forbidden_fields=(*CLIENT_IDS, "pool_id")
    ),
    # Program budgets: the bureau and the program's institution write and read them.
    "PUT /v1/programs/{program_id}/budget": rule(
        own=(N, B), body=budget_body, forbidden_fields=("id", "created_at", "version")
    ),
    "GET /v1/programs/{program_id}/budget": rule(own=(N, B)),
    # Approving a budget's version is the bureau's alone (the world's budgets are at 1).
    "POST /v1/programs/{program_id}/budget/approval": rule(
        own=(B,), body=lambda b: {"version": 1}, forbidden_fields=("program_id", "pool_id")
    ),
    "POST /v1/programs/{program_id}/expenses": rule(
        own=(N, B), body=expense_body, forbidden_fields=(*CLIENT_IDS, "program_id")
    ),
    # The expenses of one program: the listing is refused as a whole outside the scope.
    "GET /v1/programs/{program_id}/expenses": rule(own=(N, B)),
    "GET /v1/programs/{program_id}/final-accounts": rule(own=(N, B)),
    # Budget execution of a school: the bureau of its district and the school itself.
    "GET /v1/reports/budget-execution": rule(
        own=(S, B), query=lambda b: {"year": 2090, "school_id": str(b.school_id)}
    ),
    **operator_rules("budget"),
}
