"""The catalogue speaks for every message: a code raised anywhere, a field of any request, an
import row's mistake. A new one without its Chinese fails here."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

from shared import errors, i18n, messages
from shared.office_values import CellError

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROBLEM_CLASSES = {
    cls.__name__: cls.code
    for cls in (
        errors.Problem,
        errors.BadRequest,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.TooLarge,
        errors.Unprocessable,
        errors.Unavailable,
        errors.DatabaseUnavailable,
    )
}


def _sources() -> list[pathlib.Path]:
    return [
        p
        for part in ("services", "gateway", "shared")
        for p in (ROOT / part).rglob("*.py")
        if "migrations" not in p.parts
    ]


def raised_codes() -> dict[str, str]:
    """Every problem code the code base can answer, with where it is raised."""
    found: dict[str, str] = {}
    for path in _sources():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):  # a Problem subclass's own code
                for item in node.body:
                    if not isinstance(item, ast.Assign):
                        continue
                    target, value = item.targets[0], item.value
                    pairs = (
                        zip(target.elts, value.elts, strict=False)
                        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
                        else [(target, value)]
                    )
                    for name, constant in pairs:
                        if getattr(name, "id", "") == "code" and isinstance(constant, ast.Constant):
                            found.setdefault(constant.value, f"{path}:{item.lineno}")
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            # Any class called with a code (a Problem of a module's own), and the helpers.
            named_class = bool(name) and name[0].isupper()
            if not named_class and name not in ("problem_response", "problem_body"):
                continue
            for keyword in node.keywords:
                if keyword.arg in ("code", "message") and isinstance(keyword.value, ast.Constant):
                    found.setdefault(keyword.value.value, f"{path}:{node.lineno}")
            if name in PROBLEM_CLASSES:
                found.setdefault(PROBLEM_CLASSES[name], f"{path}:{node.lineno}")
            if name == "problem_body" and len(node.args) > 1:
                code = node.args[1]
                if isinstance(code, ast.Constant):
                    found.setdefault(code.value, f"{path}:{node.lineno}")
    return found


def test_every_problem_code_has_its_chinese_detail() -> None:
    codes = raised_codes()
    assert len(codes) > 100  # the scan finds the suite's codes, not nothing
    missing = {code: where for code, where in codes.items() if code not in messages.PROBLEMS}
    assert not missing, f"add these codes to shared/messages.py PROBLEMS: {missing}"


def test_every_code_is_written_in_chinese() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for code, text in messages.PROBLEMS.items():
        assert han.search(text) or text == "{detail}", code


async def test_every_field_of_every_request_has_a_label(suite) -> None:
    """The merged OpenAPI document of the gateway: every parameter and request body field."""
    names: set[str] = set()
    spec = (await suite.gateway.get("/openapi.json")).json()
    schemas = spec.get("components", {}).get("schemas", {})

    def fields_of(schema: dict, depth: int = 0) -> None:
        if depth > 6:
            return
        if "$ref" in schema:
            fields_of(schemas[schema["$ref"].rsplit("/", 1)[-1]], depth + 1)
            return
        for part in ("anyOf", "oneOf", "allOf"):
            for option in schema.get(part, []):
                fields_of(option, depth + 1)
        if "items" in schema:
            fields_of(schema["items"], depth + 1)
        for name, prop in schema.get("properties", {}).items():
            names.add(name)
            fields_of(prop, depth + 1)

    for path in spec["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                names.add(parameter["name"].lower())
            for media in operation.get("requestBody", {}).get("content", {}).values():
                fields_of(media.get("schema", {}))
    assert len(names) > 50
    missing = sorted(n for n in names if n not in messages.FIELDS)
    assert not missing, f"add these fields to shared/messages.py FIELDS: {missing}"


def test_every_row_error_and_validation_type_speaks_both_languages() -> None:
    for table in (messages.ROWS, messages.VALIDATION, messages.WARNINGS):
        for key, (zh, en) in table.items():
            assert zh and en, key
            assert i18n.placeholders(zh) == i18n.placeholders(en), key
    keys = set(
        re.findall(r'CellError\("([a-z-]+)"', (ROOT / "shared/office_values.py").read_text())
    )
    source = (ROOT / "services/enrolment").glob("roster_*.py")
    for path in source:
        keys |= set(re.findall(r'"code": "([a-z-]+)"', path.read_text()))
        keys |= set(re.findall(r'refuse\(header, "\w+", "([a-z-]+)"', path.read_text()))
        keys |= set(re.findall(r'_error\(header, "\w+", "([a-z-]+)"', path.read_text()))
    assert {"date", "id-number-check", "school-unknown", "changed"} <= keys
    assert keys <= set(messages.ROWS), keys - set(messages.ROWS)
    assert CellError("date").key in messages.ROWS


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5", "en"),
        ("en;q=0.3, zh-TW;q=0.8", "zh"),
        ("de", "zh"),
        ("garbage;;q=x", "zh"),
    ],
)
def test_the_language_is_chosen_from_accept_language(header: str | None, language: str) -> None:
    assert i18n.negotiate(header) == language
