"""RFC 9457 problem details: every error a client sees is application/problem+json."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://shixun.dev/problems/"

log = structlog.get_logger()


class Problem(Exception):
    """A domain error that becomes a problem+json response."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,  # the type's last segment, as a field clients read
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body

    def response(self, instance: str | None = None) -> JSONResponse:
        """The problem+json answer, wherever it is raised: an endpoint or a middleware."""
        return JSONResponse(
            self.body(instance),
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


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    code: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
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


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": [str(p) for p in err.get("loc", ())],
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"location": [], "message": "invalid input"}
        where = ".".join(first["location"][1:]) or ".".join(first["location"])
        return problem_response(
            422,
            "Invalid input",
            f"{where}: {first['message']}" if where else first["message"],
            code="validation",
            instance=request.url.path,
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
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if not _cannot_connect(exc):
            return await _unexpected(request, exc)
        log.warning("database unavailable", path=request.url.path, error=str(exc.orig))
        return DatabaseUnavailable().response(instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem_response(
            500,
            "Internal error",
            "An unexpected error occurred; it has been logged with the request id.",
            code="internal",
            instance=request.url.path,
        )
