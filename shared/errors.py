"""RFC 9457 problem details: every error a client sees is application/problem+json."""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import i18n, messages

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://shixun.dev/problems/"

log = structlog.get_logger()


class Problem(Exception):
    """A domain error that becomes a problem+json response."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        message: str | None = None,
        **extra: Any,
    ) -> None:
        """`detail` is the English sentence; the Chinese one is the catalogue's for `message`
        or else `code` (shared/messages.py), filled from `params` and the extra members.
        `message` tells apart what one code covers ("not-found": which thing)."""
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.message = message
        self.params = params or {}
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(
        self, instance: str | None = None, language: i18n.Language | None = None
    ) -> dict[str, Any]:
        language = language or i18n.current()
        return problem_body(
            self.status,
            self.code,
            self.detail,
            language,
            english_title=self.title,
            instance=instance,
            params={**self.extra, **self.params},
            message=self.message,
            **self.extra,
        )

    def response(
        self, instance: str | None = None, language: i18n.Language | None = None
    ) -> JSONResponse:
        """The problem+json answer, wherever it is raised: an endpoint or a middleware."""
        return JSONResponse(
            self.body(instance, language),
            status_code=self.status,
            media_type=PROBLEM_JSON,
            headers=self.headers or None,
        )


class BadRequest(Problem):
    pass


class Unauthorized(Problem):
    status, code, title = 401, "unauthorized", "Not authenticated"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(Problem):
    status, code, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Conflict"


class TooLarge(Problem):
    """A body or file beyond a limit; refused before the work it would cost."""

    status, code, title = 413, "too-large", "Content too large"


class Unprocessable(Problem):
    """Well-formed input that a domain rule refuses."""

    status, code, title = 422, "rule-violated", "Refused by a rule"


class Unavailable(Problem):
    status, code, title = 503, "unavailable", "Service unavailable"


class DatabaseUnavailable(Unavailable):
    """The database takes no new connection, or one broke: the app retries with its key."""

    code = "database-unavailable"

    def __init__(self) -> None:
        super().__init__("The database cannot be reached just now; retry shortly.")
        self.headers = {"Retry-After": "2"}


_CHINESE = re.compile("[\u4e00-\u9fff]")


def problem_body(
    status: int,
    code: str,
    detail: str,
    language: i18n.Language,
    *,
    english_title: str | None = None,
    instance: str | None = None,
    params: dict[str, Any] | None = None,
    message: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A problem's members in `language`: `detail` is the English sentence, the Chinese one
    comes from the catalogue by `message` or `code`; `code` itself is a member clients
    branch on."""
    key = message if message in messages.PROBLEMS else code
    # A sentence raised in Chinese already names the values; the catalogue's is general.
    if language == "zh" and key in messages.PROBLEMS and not _CHINESE.search(detail):
        shown = dict(params or {})
        if "status_now" in shown:
            shown["status_now"] = messages.STATUSES.get(shown["status_now"], shown["status_now"])
        detail = i18n.render(messages.PROBLEMS[key], shown)
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": messages.title(status, language, english_title),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    code: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    language: i18n.Language | None = None,
    **extra: Any,
) -> JSONResponse:
    """`title` and `detail` in English; the Chinese ones come from the catalogue."""
    body = problem_body(
        status,
        code,
        detail,
        language or i18n.current(),
        english_title=title,
        instance=instance,
        params={**extra, **(params or {})},
        **extra,
    )
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _cannot_connect(exc: DBAPIError) -> bool:
    """A new connection was refused (the server is down, starting, or out of connections),
    as opposed to a statement that failed."""
    if exc.connection_invalidated:
        return True
    cause: BaseException | None = exc.orig
    while cause is not None:
        if isinstance(cause, OSError) or type(cause).__name__ in _CONNECT_FAILURES:
            return True
        cause = cause.__cause__
    return False


# asyncpg's names for a server that takes no new connection.
_CONNECT_FAILURES = frozenset(
    {"TooManyConnectionsError", "CannotConnectNowError", "ConnectionDoesNotExistError"}
)


def validation_errors(errors: Any, language: i18n.Language) -> list[dict[str, Any]]:
    """Pydantic's errors as sentences naming each field by its label, in `language`."""
    out = []
    for err in errors:
        location = [str(p) for p in err.get("loc", ())]
        out.append(
            {
                "location": location,
                "field": _field_path(location),
                "message": validation_message(err, language),
                "type": err.get("type", ""),
            }
        )
    return out


_SECTIONS = ("body", "query", "path", "header", "cookie")


def _field_path(location: list[str]) -> str:
    where = location[1:] if location[:1] and location[0] in _SECTIONS else location
    return ".".join(where)


def validation_message(err: Any, language: i18n.Language) -> str:
    """One error as "label: what is wrong"; the label is the nearest named field."""
    location = [str(p) for p in err.get("loc", ())]
    if language == "en":
        label = _field_path(location)
    else:
        named = [p for p in location if not p.isdigit() and p not in _SECTIONS]
        field = named[-1] if named else ""
        label = messages.field_label(field) if field else ""
        # Which item of a list is wrong ("lines.3"): told too.
        index = next((int(p) for p in reversed(location) if p.isdigit()), None)
        if label and index is not None and location.index(str(index)) > location.index(field):
            label += f"（第 {index + 1} 项）"
    kind = err.get("type", "")
    templates = messages.VALIDATION.get(kind, messages.UNKNOWN_VALIDATION)
    template = templates[0] if language == "zh" else templates[1]
    context = dict(err.get("ctx") or {})
    if "error" in context:
        context["error"] = _value_error(context["error"], language)
    if "expected" in context:
        expected = str(context["expected"]).replace("'", "")
        if language == "zh":
            expected = expected.replace(" or ", ", ").replace(", ", "、")
        context["expected"] = expected
    sentence = i18n.render(template, context)
    if not label:
        return sentence
    return f"{label}：{sentence}" if language == "zh" else f"{label}: {sentence}"


def _value_error(error: Any, language: i18n.Language) -> str:
    """A validator's own message: a LocalizedError carries both languages."""
    if isinstance(error, LocalizedError):
        return error.zh if language == "zh" else error.en
    text = str(error)
    if language == "zh" and text.isascii():
        return messages.UNKNOWN_VALIDATION[0]
    return text


class LocalizedError(ValueError):
    """A validator's refusal in both languages (Pydantic passes it on in `ctx`)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def _language(request: Request) -> i18n.Language:
    # Handlers of the outermost middleware run outside LanguageMiddleware: read the header.
    return i18n.negotiate(request.headers.get("accept-language"))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_middleware(i18n.LanguageMiddleware)  # added last: outermost, seen by all

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(instance=request.url.path, language=_language(request))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        language = _language(request)
        errors = validation_errors(exc.errors(), language)
        said = [e["message"] for e in errors[:5]] or [messages.UNKNOWN_VALIDATION[language == "en"]]
        detail = ("；" if language == "zh" else "; ").join(said)
        return problem_response(
            422,
            "Invalid input",
            detail,
            code="validation",
            instance=request.url.path,
            params={"detail": detail},
            language=language,
            errors=_json_safe(errors),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Not authenticated"}
        return problem_response(
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail),
            code={404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http"),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
            language=_language(request),
        )

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: Exception) -> JSONResponse:
        """Every database connection stayed busy past the pool's timeout: ask to retry."""
        detail = "Too many requests are waiting for the database; retry shortly."
        return problem_response(
            503,
            "Busy",
            detail,
            code="busy",
            instance=request.url.path,
            language=_language(request),
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if not _cannot_connect(exc):
            return await _unexpected(request, exc)
        log.warning("database unavailable", path=request.url.path, error=str(exc.orig))
        return DatabaseUnavailable().response(
            instance=request.url.path, language=_language(request)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem_response(
            500,
            "Internal error",
            "An unexpected error occurred; it has been logged with the request id.",
            code="internal",
            instance=request.url.path,
            language=_language(request),
        )
