"""`POST /v1/programs/{id}/enrolments` on PostgreSQL, below FastAPI's routing and dependencies.

On selection day this one request is nearly all the traffic. Through FastAPI it crossed the
router (every route's pattern tried), a request object, the dependency graph (a session, the
principal, the key) and the response wrapping: a third of the enrolment process's CPU per
request, more than the endpoint itself (py-spy, docs/performance.md).

The lane sits inside the request log and the edge checks (body limit, NUL, odd paths), so
those apply as to every request. It takes only what it is sure of: a well-formed body and a
valid token (verified once per process, as the route's dependency does). It runs the rush
(`rush.enrol`), and its problems go through the app's own exception handlers. Anything else
(a body FastAPI would answer with 422, a token it refuses, SQLite, or a request the rush
hands over: a missing program, R2, R6, R7) goes on to the route, the general path through
the ORM.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.enrolment import rush
from services.enrolment.schemas import EnrolmentCreate
from shared.auth import TokenVerifier
from shared.db import Database
from shared.edge import replaying
from shared.errors import Problem
from shared.idempotency import HEADER, Idempotency, fingerprint_of, key_of

_PATH = re.compile(r"^/v1/programs/([0-9a-fA-F-]{32,36})/enrolments$")
_AUTHORIZATION, _KEY = b"authorization", HEADER.lower().encode()


class EnrolFastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            _PATH.match(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        state = scope["app"].state if match else None
        if state is None or state.database.sqlite:
            await self.app(scope, receive, send)
            return
        message = await receive()
        try:
            answer = await self._answer(scope, message, match.group(1), state)
        except Exception as exc:  # answered as the app answers it, or raised again
            answer = await _handled(scope, exc)
        if answer is not None:
            await answer(scope, receive, send)
            return
        await self.app(scope, replaying(message, receive), send)

    async def _answer(self, scope: Scope, message: Message, program: str, state: Any) -> Any:
        """The answer, or None for the route to take the request."""
        if message["type"] != "http.request" or message.get("more_body"):
            return None
        try:
            body = EnrolmentCreate.model_validate_json(message.get("body", b""))
            program_id = uuid.UUID(program)
        except (ValidationError, ValueError):
            return None  # the route says what is wrong, as its 422 always has
        headers = dict(scope["headers"])
        scheme, _, token = headers.get(_AUTHORIZATION, b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None  # the route says what is missing
        verifier: TokenVerifier = state.verifier
        try:
            principal = await verifier.verify(token.strip())  # once per token and process
        except Problem:
            return None  # the route says why the token is refused
        raw_key = headers.get(_KEY)
        idem = Idempotency(
            key=key_of(raw_key.decode("latin-1") if raw_key is not None else None),
            fingerprint=fingerprint_of(
                "POST",
                scope["path"],
                scope.get("query_string", b"").decode("latin-1"),
                message.get("body", b""),
            ),
            principal=principal,
            session=None,  # the rush stores and replays the answer in its own statements
            table=state.idempotency_table,
        )
        database: Database = state.database
        return await rush.enrol(
            database, idem, principal=principal, program_id=program_id, teacher_id=body.teacher_id
        )


async def _handled(scope: Scope, exc: Exception) -> Any:
    """The app's own answer to an exception (a Problem, a busy pool), or it propagates."""
    handlers = scope["app"].exception_handlers
    for kind in type(exc).__mro__:
        if kind in handlers:
            return await handlers[kind](Request(scope), exc)
    raise exc
