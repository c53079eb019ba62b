"""Input refused at the edge for every endpoint, the gateway's own and the services'.

No text of this API holds U+0000 and PostgreSQL cannot store it, so a NUL in a query, a
JSON body or a form is a 400 here rather than a database error (a 500) behind it;
schemathesis found that on PostgreSQL. Binary uploads (multipart) are left alone.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import BadRequest, problem_response

NUL = "Text may not contain NUL characters."


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
    if content_type.startswith("multipart/"):
        return False
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


class RefuseNulMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; let the app see it
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if holds_nul(scope.get("query_string", b""), content_type, body):
            error = BadRequest(NUL, code="nul-character")
            response = problem_response(
                400, error.title, error.detail, code=error.code, instance=scope["path"]
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
