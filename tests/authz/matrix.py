"""The authorization matrix: every endpoint × every role × own scope / foreign scope.

A rule says, for one operation of the merged OpenAPI document, which roles may use it on
records of their own scope and which also on other records of their district (DOMAIN.md,
"Who may see what"). Roles not named are refused everywhere; nobody sees across districts.
The test builds each request from a `Binding` (the ids of one side of a small world:
school, teacher, institution, program, enrolment) and a token of the role: "own" is side A,
"foreign" side B (for the bureau, side A seen from another district), "other-district" a
caller of another district looking at side A, and "own-without-scope" a service client of
side A whose token lacks the scope the rule `needs`.

Engineers extend it by adding a rule to `tests/authz/rules/<service>.py` for every endpoint
they add; an endpoint without a rule fails `test_every_endpoint_has_a_rule`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from shared.auth import OPS_SCOPE, Role

ROLES = tuple(Role)


class Scope(StrEnum):
    OWN = "own"
    FOREIGN = "foreign"  # the other side of the same district (for the bureau: another district)
    OTHER_DISTRICT = "other-district"  # a caller of another district: refused everywhere
    WITHOUT_GRANT = "own-without-scope"  # a service client in scope but not granted `needs`


class Kind(StrEnum):
    ITEM = "item"  # one record or action: allowed → answered, refused → 403/404
    LIST = "list"  # a listing: allowed → the record is listed, refused → 403 or not listed
    SELF = "self"  # about the caller only (me, logout): no foreign side
    PUBLIC = "public"  # no token needed (token endpoint, health)
    # The deployment's own records (dead letters), of no district: for a bureau admin holding
    # the `ops` scope (the world's do), refused to one without it ("own-without-scope").
    OPERATOR = "operator"


@dataclass(frozen=True)
class Binding:
    district_id: uuid.UUID
    school_id: uuid.UUID
    teacher_id: uuid.UUID
    institution_id: uuid.UUID
    program_id: uuid.UUID
    enrolment_id: uuid.UUID
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        if name in self.extra:
            return self.extra[name]
        return getattr(self, name)


@dataclass(frozen=True)
class Rule:
    """Who may use one operation. `own` roles may act in their scope, `both` also outside it."""

    kind: Kind = Kind.ITEM
    own: frozenset[Role] = frozenset()
    both: frozenset[Role] = frozenset()
    body: Callable[[Binding], dict[str, Any]] | None = None
    query: Callable[[Binding], dict[str, Any]] | None = None
    path: Callable[[Binding], dict[str, Any]] | None = None  # path values not named in Binding
    # A multipart upload instead of a JSON body: {field: (filename, content, content type)}.
    files: Callable[[Binding], dict[str, Any]] | None = None
    record: str | None = None  # LIST: which binding id must (not) appear in the items
    # The scope a service client (policy.SCOPES), or for Kind.OPERATOR the bureau, must hold.
    needs: str | None = None
    refused: frozenset[int] = frozenset({403, 404})
    # Body fields a client must never set here (server-assigned), besides any unknown field.
    forbidden_fields: tuple[str, ...] = ("id", "created_at")
    # Known departures of a service from this rule, reported to its owner: the case is a
    # strict xfail, so fixing the service makes the test fail until the entry is removed.
    deviations: dict[tuple[Role, Scope], str] = field(default_factory=dict)

    def allows(self, role: Role, scope: Scope) -> bool:
        if scope is Scope.OTHER_DISTRICT:
            return False
        if scope is Scope.WITHOUT_GRANT:
            return self.needs is None and role in self.own | self.both
        if role in self.both:
            return True
        return role in self.own and scope is Scope.OWN


def rule(
    kind: Kind = Kind.ITEM,
    *,
    own: tuple[Role, ...] = (),
    both: tuple[Role, ...] = (),
    **options: Any,
) -> Rule:
    return Rule(kind=kind, own=frozenset(own), both=frozenset(both), **options)


def operator_rules(part: str) -> dict[str, Rule]:
    """A part's dead-letter endpoints. The world records one unreadable dead letter in each
    part (`dead_letter_<part>` in `extra`): its replay is refused as such (422), not hidden."""
    base = f"/v1/ops/{part}/dead-letters"
    return {
        f"GET {base}": rule(Kind.OPERATOR, own=(Role.BUREAU_ADMIN,), needs=OPS_SCOPE),
        f"POST {base}/{{dead_letter_id}}/replay": rule(
            Kind.OPERATOR,
            own=(Role.BUREAU_ADMIN,),
            needs=OPS_SCOPE,
            path=lambda b: {"dead_letter_id": b.get(f"dead_letter_{part}")},
        ),
    }


def fill_path(template: str, binding: Binding, rule: Rule) -> str:
    values = rule.path(binding) if rule.path else {}
    out = template
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        name = out[start + 1 : end]
        value = values[name] if name in values else binding.get(name)
        out = out[:start] + str(value) + out[end + 1 :]
    return out


async def listed(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, Any]
) -> tuple[int, set[str]]:
    """Status of the first page and the ids on every page (following next_cursor)."""
    ids: set[str] = set()
    cursor = None
    first_status = 0
    for _ in range(100):
        page_params = {**params, "limit": 200} | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, headers=headers, params=page_params)
        first_status = first_status or response.status_code
        if response.status_code != 200:
            return response.status_code, ids
        body = response.json()
        ids |= {str(item.get("id")) for item in body["items"]}
        cursor = body.get("next_cursor")
        if not cursor:
            break
    return first_status, ids


def operations(document: dict[str, Any]) -> set[str]:
    """'METHOD /path' of every operation in an OpenAPI document."""
    methods = {"get", "post", "put", "patch", "delete"}
    return {
        f"{method.upper()} {path}"
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in methods
    }


# Short names for the rule tables.
T, S, N, B, M = (
    Role.TEACHER,
    Role.SCHOOL_ADMIN,
    Role.INSTITUTION_ADMIN,  # N for iNstitution (I reads as 1)
    Role.BUREAU_ADMIN,
    Role.SERVICE,
)
