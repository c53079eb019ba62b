"""Authorization rules of the ledger's endpoints.

Records the world's `ledger_world` (tests/authz/conftest.py) adds: `entry_id`, a school-based
entry of each side's teacher; `policy_id`, a policy version of the district effective far in
the future (so no year is judged by it); `import_id`, a provincial import of the district;
`batch_id`, a batch of hours reported to the province.
"""

import datetime as dt
import uuid

from tests.authz.matrix import B, Binding, Kind, M, N, Rule, S, T, operator_rules, rule

# Server-assigned fields of an entry: who recorded it and what it reverses are never the
# caller's to say, nor the credits, which follow from the policy.
ENTRY_FIELDS = ("id", "created_at", "recorded_by", "credits", "reverses_id", "program_id")


def entry_body(b: Binding) -> dict:
    return {
        "teacher_id": str(b.teacher_id),
        "source": "school_based",
        "reference": f"matrix-{uuid.uuid4().hex}",
        "hours": "2.0",
        "mode": "school_based",
        "level": "school",
        "category": "mandatory",
        "occurred_on": dt.date.today().isoformat(),
        "description": "矩阵校本研修",
    }


def policy_body(b: Binding) -> dict:
    return {"effective_from": "2099-01-01", "note": "矩阵", "rules": {}}


RULES: dict[str, Rule] = {
    # A teacher their own hours, a school its teachers', the bureau its district's, a client
    # with hours:read those of its school or district. An institution runs programs; a
    # teacher's whole ledger is not its business.
    "GET /v1/teachers/{teacher_id}/hours": rule(own=(T, S, B, M), needs="hours:read"),
    "GET /v1/teachers/{teacher_id}/ledger": rule(own=(T, S, B, M), needs="hours:read"),
    "GET /v1/teachers/{teacher_id}/transcript": rule(
        own=(T, S, B, M), needs="hours:read", query=lambda b: {"format": "xlsx"}
    ),
    # Manual recognition: the bureau, or a school for its own teachers' school-based hours
    # (docs/ledger.md). No scope of the catalogue lets a machine recognise hours.
    "POST /v1/ledger/entries": rule(own=(S, B), body=entry_body, forbidden_fields=ENTRY_FIELDS),
    # Reversing side A's school-based entry: the first allowed caller gets 201, the next 409.
    "POST /v1/ledger/entries/{entry_id}/reversal": rule(
        own=(S, B),
        body=lambda b: {"reason": "矩阵更正"},
        forbidden_fields=(*ENTRY_FIELDS, "teacher_id", "hours"),
    ),
    # Policies: the bureau publishes for its own district; everyone in the district reads
    # them (they are the district's public rules), nobody outside it.
    "POST /v1/policies": rule(
        Kind.SELF,
        own=(B,),
        body=policy_body,
        forbidden_fields=("id", "created_at", "district_id", "version", "published_by"),
    ),
    # A client reads its district's rules with hours:read (its token then names the ledger).
    "GET /v1/policies": rule(
        Kind.LIST, own=(B,), both=(T, S, N, M), record="policy_id", needs="hours:read"
    ),
    "GET /v1/policies/{policy_id}": rule(own=(B,), both=(T, S, N, M), needs="hours:read"),
    # Provincial imports name teachers of any school of the district: the bureau, or a
    # district-wide client with hours:import (tests/ledger/test_imports.py); the world's
    # clients are bound to a school, and a school's system does not import for the district.
    # Without a body the allowed get a 400 (empty file), the others a refusal.
    "POST /v1/ledger/imports": rule(Kind.SELF, own=(B,)),
    "GET /v1/ledger/imports": rule(Kind.LIST, own=(B,), record="import_id"),
    "GET /v1/ledger/imports/{import_id}": rule(own=(B,)),
    "GET /v1/ledger/imports/{import_id}/errors": rule(own=(B,)),
    # The exchange with the province is the district's, like imports: batches of reported
    # hours, their files (identity numbers in full) and the province's acknowledgements.
    # Allowed callers get 201 or 422 (nothing new to report), 400 for an empty file.
    "POST /v1/ledger/province/batches": rule(Kind.SELF, own=(B,)),
    "GET /v1/ledger/province/batches": rule(Kind.LIST, own=(B,), record="batch_id"),
    "GET /v1/ledger/province/batches/{batch_id}": rule(own=(B,)),
    "GET /v1/ledger/province/batches/{batch_id}/file": rule(own=(B,)),
    "POST /v1/ledger/province/batches/{batch_id}/acknowledgement": rule(own=(B,)),
    # Reconciliation with the province: a teacher their own years, a school its teachers',
    # the bureau its district's, a client with hours:read in its scope.
    "GET /v1/teachers/{teacher_id}/province-discrepancies": rule(
        own=(T, S, B, M), needs="hours:read"
    ),
    "GET /v1/reports/province-discrepancies": rule(
        own=(S, B, M),
        needs="hours:read",
        query=lambda b: {"school_id": str(b.school_id), "year": dt.date.today().year},
    ),
    # Entries out and the compliance report: the bureau for its district or one school of
    # it, a school for itself, a client with hours:read within its school or district.
    "GET /v1/ledger/export": rule(
        own=(S, B, M),
        needs="hours:read",
        query=lambda b: {"school_id": str(b.school_id), "format": "csv"},
    ),
    "GET /v1/reports/compliance": rule(
        own=(S, B, M), needs="hours:read", query=lambda b: {"school_id": str(b.school_id)}
    ),
    **operator_rules("ledger"),
}
