"""Every endpoint × every role × own scope / foreign scope, from the merged OpenAPI document."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.auth import Role
from tests.authz.conftest import World
from tests.authz.matrix import ROLES, Kind, Rule, Scope, fill_path, listed, operations
from tests.authz.rules import RULES
from tests.harness import Suite


async def _document(suite: Suite) -> dict[str, Any]:
    response = await suite.gateway.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert "x-missing-services" not in document["info"], document["info"]
    return document


async def test_every_endpoint_has_a_rule(suite: Suite) -> None:
    """A new endpoint without a rule fails here; so does a rule for an endpoint that is gone."""
    published = operations(await _document(suite))
    assert sorted(published - RULES.keys()) == [], "endpoints without an authorization rule"
    assert sorted(RULES.keys() - published) == [], "rules for endpoints that do not exist"


def _cases() -> list[Any]:
    cases = []
    for key, rule in RULES.items():
        if rule.kind is Kind.PUBLIC:
            continue
        for role in ROLES:
            scopes = [Scope.OWN]
            if rule.kind not in (Kind.SELF, Kind.OPERATOR):
                scopes += [Scope.FOREIGN, Scope.OTHER_DISTRICT]
            if role is Role.SERVICE or (rule.kind is Kind.OPERATOR and role is Role.BUREAU_ADMIN):
                scopes.append(Scope.WITHOUT_GRANT)
            for scope in scopes:
                deviation = rule.deviations.get((role, scope))
                marks = [pytest.mark.xfail(strict=True, reason=deviation)] if deviation else []
                cases.append(
                    pytest.param(key, role, scope, id=f"{key} | {role} | {scope}", marks=marks)
                )
    return cases


def refused_statuses(rule: Rule, role: Any) -> frozenset[int]:
    """A client's token names only the services its scopes concern (gateway/policy.py
    SCOPE_PARTS); any other service refuses it as not meant for it, with a 401."""
    statuses = frozenset({403}) if rule.kind is Kind.LIST else rule.refused
    return statuses | {401} if role is Role.SERVICE else statuses


@pytest.mark.parametrize(("key", "role", "scope"), _cases())
async def test_matrix(world: World, key: str, role: Any, scope: Scope) -> None:
    rule: Rule = RULES[key]
    method, template = key.split(" ", 1)
    headers, binding = world.case(role, scope)
    allowed = rule.allows(role, scope)
    client = world.suite.gateway
    query = rule.query(binding) if rule.query else {}
    if rule.kind is Kind.LIST:
        assert rule.record is not None
        status, ids = await listed(client, fill_path(template, binding, rule), headers, query)
        record = str(binding.get(rule.record))
        if allowed:
            assert status == 200 and record in ids, f"{role} should see its {rule.record}"
        else:
            assert status in refused_statuses(rule, role) or (
                status == 200 and record not in ids
            ), f"{role} sees a {rule.record} outside its scope ({status})"
        return
    response = await client.request(
        method,
        fill_path(template, binding, rule),
        headers=headers,
        params=query,
        json=rule.body(binding) if rule.body else None,
        files=rule.files(binding) if rule.files else None,
    )
    status = response.status_code
    if allowed:
        assert status < 500 and status not in (401, 403, 404), response.text
        if method == "GET":
            assert status == 200, response.text
    else:
        refused = refused_statuses(rule, role)
        assert status in refused, f"{role} was not refused: {status} {response.text}"


async def test_every_endpoint_but_the_public_ones_needs_a_token(suite: Suite) -> None:
    for key in sorted(operations(await _document(suite))):
        rule = RULES.get(key)
        if rule is None or rule.kind is Kind.PUBLIC:
            continue
        method, template = key.split(" ", 1)
        path = template
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
        response = await suite.gateway.request(method, path)
        assert response.status_code == 401, f"{key} answered {response.status_code} unauthenticated"


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _loose_objects(
    document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]
) -> list[str]:
    """Object schemas in a request body that would accept fields they do not declare."""
    ref = schema.get("$ref")
    if ref:
        if ref in seen:
            return []
        seen.add(ref)
    schema = _resolve(document, schema)
    found = []
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            found.append(where)
        for name, sub in schema.get("properties", {}).items():
            found += _loose_objects(document, sub, f"{where}.{name}", seen)
    for combinator in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(combinator, []):
            found += _loose_objects(document, sub, where, seen)
    if "items" in schema:
        found += _loose_objects(document, schema["items"], f"{where}[]", seen)
    return found


async def test_every_json_body_refuses_unknown_fields(suite: Suite) -> None:
    """Mass assignment: an input model that ignores extra fields fails here (extra="forbid")."""
    document = await _document(suite)
    loose = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema:
                loose += _loose_objects(document, schema, f"{method.upper()} {path}", set())
    assert loose == []


def _body_cases() -> list[Any]:
    cases = []
    for key, rule in RULES.items():
        if rule.body is None:
            continue
        role = next(r for r in ROLES if rule.allows(r, Scope.OWN))
        for field in ("zz_unexpected", *rule.forbidden_fields):
            cases.append(pytest.param(key, role, field, id=f"{key} | {field}"))
    return cases


@pytest.mark.parametrize(("key", "role", "field"), _body_cases())
async def test_a_field_the_caller_may_not_set_is_refused(
    world: World, key: str, role: Any, field: str
) -> None:
    rule = RULES[key]
    method, template = key.split(" ", 1)
    headers, binding = world.case(role, Scope.OWN)
    assert rule.body is not None
    body = {**rule.body(binding), field: str(uuid.uuid4())}
    response = await world.suite.gateway.request(
        method, fill_path(template, binding, rule), headers=headers, json=body
    )
    assert response.status_code == 422, f"{key} accepted {field}: {response.text}"
