"""Authorization rules of the gateway's own endpoints."""

import uuid

from shared.auth import Role
from shared.events.ledger import EntryPosted
from tests.authz.matrix import B, Kind, M, N, Rule, S, T, operator_rules, rule

EVERYONE = tuple(Role)
# The bureau names a record of its district in the body; from another district the gateway
# answers that the reference is unknown there (422), never what it is.
REFERENCE_REFUSED = frozenset({403, 404, 422})

RULES: dict[str, Rule] = {
    "GET /healthz": rule(Kind.PUBLIC),
    "GET /readyz": rule(Kind.PUBLIC),
    "POST /v1/auth/token": rule(Kind.PUBLIC),
    "POST /v1/auth/revoke": rule(Kind.PUBLIC),
    "GET /v1/auth/oidc/start": rule(Kind.PUBLIC),
    "GET /v1/auth/oidc/callback": rule(Kind.PUBLIC),
    "POST /v1/auth/logout": rule(Kind.SELF, own=EVERYONE),
    "GET /v1/me": rule(Kind.SELF, own=EVERYONE),
    "GET /v1/me/dashboard": rule(Kind.SELF, own=(T,)),
    "POST /v1/accounts": rule(
        own=(B,),
        body=lambda b: {
            "username": f"m-{uuid.uuid4().hex[:10]}",
            "password": "matrix-password",
            # The side's teacher has a login already (a second one is a 409): a school admin.
            "role": "school_admin",
            "school_id": str(b.school_id),
        },
        refused=REFERENCE_REFUSED,
        forbidden_fields=("id", "district_id", "scopes"),
    ),
    "POST /v1/service-accounts": rule(
        own=(B,),
        body=lambda b: {
            "name": "矩阵系统",
            "scopes": ["hours:read"],
            "school_id": str(b.school_id),
        },
        refused=REFERENCE_REFUSED,
        forbidden_fields=("id", "district_id", "client_secret"),
    ),
    "GET /v1/service-accounts": rule(Kind.SELF, own=(B,)),
    # Logins: a school admin manages its teachers', the bureau its district's. Each side's
    # teacher has a login (conftest.py, `add_logins`), its id in `extra` as `login_id`.
    "GET /v1/accounts": rule(Kind.LIST, own=(S, B), record="login_id"),
    "POST /v1/accounts/activation-codes": rule(
        own=(S, B), body=lambda b: {"school_id": str(b.school_id)}
    ),
    **{
        f"POST /v1/accounts/{{account_id}}/{action}": rule(
            own=(S, B), path=lambda b: {"account_id": b.get("login_id")}
        )
        for action in ("reset", "disable", "enable", "unlock")
    },
    # The world's people are tokens without a password: the current one given is wrong (400).
    "POST /v1/me/password": rule(
        Kind.SELF,
        own=(T, S, N, B),
        body=lambda b: {"current_password": "not the password", "new_password": "a passphrase"},
    ),
    # The path names no record of the world: every caller gets 404 or 403, never a 2xx.
    "DELETE /v1/service-accounts/{account_id}": rule(path=lambda b: {"account_id": uuid.uuid4()}),
    # Webhooks belong to who made them; deliveries are bounded by the owner's scope.
    "POST /v1/webhooks": rule(
        Kind.SELF,
        own=(S, B, M),
        body=lambda b: {"url": "https://example.org/h", "event_types": [EntryPosted.subject]},
        forbidden_fields=("id", "district_id", "school_id", "secret"),
        needs="events:subscribe",
    ),
    "GET /v1/webhooks": rule(Kind.SELF, own=(S, B, M), needs="events:subscribe"),
    "GET /v1/webhooks/{webhook_id}/deliveries": rule(own=(S, B, M), needs="events:subscribe"),
    # The world holds no delivery, so this only asserts that nobody reaches one it does not
    # own; tests/gateway/test_webhooks.py covers the owner redelivering.
    "POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": rule(
        path=lambda b: {"delivery_id": uuid.uuid4()}
    ),
    "DELETE /v1/webhooks/{webhook_id}": rule(own=(S, B, M), needs="events:subscribe"),
    **operator_rules("gateway"),
}
