"""Input refused at the edge of every part (the gateway and each service), before any
endpoint reads it.

Size: a body beyond the part's limit is a 413 (checked on Content-Length before anything is
read, and counted while reading when the client streams), so nobody buffers or forwards
25 MB of JSON; the file uploads in UPLOADS get a larger limit of their own.

NUL: no text of this API holds U+0000 and PostgreSQL cannot store it, so a NUL in a query,
a JSON body or a form is a 400 rather than a database error (or, on SQLite, stored text)
behind it. Files (multipart, CSV, XLSX bodies) are left to their reader, which refuses NUL
in CSV.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import BadRequest, Problem, TooLarge

NUL = "Text may not contain NUL characters."
MB = 1024 * 1024
# Bodies of JSON and forms; SHIXUN_MAX_BODY_BYTES changes it for every part.
DEFAULT_MAX_BODY = 1 * MB
# File uploads, by path (the same table at the gateway and in the service that owns it).
UPLOADS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^/v1/teachers/imports$"), 21 * MB),  # a roster file of at most 20 MB
    (re.compile(r"^/v1/ledger/imports$"), 128 * MB),  # the provincial platform's export
    # The province's acknowledgement of a batch (a line per record reported).
    (re.compile(r"^/v1/ledger/province/batches/[^/]+/acknowledgement$"), 128 * MB),
)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def holds_nul(query: bytes, content_type: str, body: bytes) -> bool:
    if b"%00" in query:
        return True
    if content_type and "json" not in content_type and "form-urlencoded" not in content_type:
        return False  # a file (multipart, CSV, XLSX): its reader decides
    if b"\x00" in body:
        return True
    if content_type.startswith("application/x-www-form-urlencoded"):
        return b"%00" in body
    if b"\\u0000" in body:
        try:
            return _has_nul(json.loads(body))
        except ValueError:
            return False  # not JSON: the endpoint says what is wrong with it
    return False


def body_limit(path: str, default: int) -> int:
    return next((limit for pattern, limit in UPLOADS if pattern.match(path)), default)


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"The request body is larger than this endpoint's limit of {limit} bytes.",
        code="body-too-large",
        params={"limit_kb": limit // 1024},
        max_bytes=limit,
    )


def replaying(first: Message, receive: Receive) -> Receive:
    """`receive` for the app after a middleware has read the request's first message."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await receive()

    return replay


class EdgeMiddleware:
    """The body limit and the NUL check, as pure ASGI (no body is read twice)."""

    def __init__(self, app: ASGIApp, *, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
        except Problem as error:
            await error.response(instance=scope["path"])(scope, receive, send)
            return
        if body is None:  # no body, or the client went away: the app reads as usual
            await self.app(scope, receive, send)
            return
        message: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, replaying(message, receive), send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes | None:
        headers = dict(scope.get("headers") or [])
        query = scope.get("query_string", b"")
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            if holds_nul(query, "", b""):
                raise BadRequest(NUL, code="nul-character")
            return None
        limit = body_limit(scope["path"], self.max_body)
        if length is not None:
            if not length.isdigit():
                raise BadRequest("Content-Length must be a number.", code="bad-content-length")
            if int(length) > limit:
                raise _too_large(limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # a streamed body: stop reading at the limit
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if holds_nul(query, content_type, body):
            raise BadRequest(NUL, code="nul-character")
        return body
