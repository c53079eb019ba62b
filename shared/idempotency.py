"""Idempotency-Key for creating and moving POSTs (the Stripe model).

The same key with the same body gets the first response again; the same key with another
body is a 409. The stored response commits in the same transaction as the change, so a
replay never sees a response whose change was rolled back.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, current_principal
from shared.db import request_session, utcnow
from shared.errors import BadRequest, Conflict

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class Idempotency:
    def __init__(
        self,
        *,
        key: str | None,
        fingerprint: str,
        principal: Principal,
        session: AsyncSession | None,
        table: Table,
    ) -> None:
        self.key = key
        self.fingerprint = fingerprint
        self.principal = principal
        self.session = session
        self.table = table

    async def replay(self) -> JSONResponse | None:
        """The stored response of an earlier request with this key, if there is one."""
        if self.key is None:
            return None
        row = (
            await self.session.execute(
                select(self.table).where(
                    self.table.c.principal == self.principal.subject, self.table.c.key == self.key
                )
            )
        ).first()
        if row is None:
            return None
        return stored_answer(self, row.fingerprint, row.status_code, row.body)

    async def respond(self, status_code: int, body: BaseModel | dict[str, Any]) -> JSONResponse:
        """Build the response and, under a key, store it with the change."""
        content = jsonable_encoder(body)
        if self.key is not None:
            # No savepoint: a duplicate key fails the whole request, which rolls back anyway.
            try:
                await self.session.execute(
                    insert(self.table).values(
                        principal=self.principal.subject,
                        key=self.key,
                        fingerprint=self.fingerprint,
                        status_code=status_code,
                        body=json.dumps(content),
                        created_at=utcnow(),
                    )
                )
            except IntegrityError as exc:
                raise key_in_flight() from exc
        return JSONResponse(content, status_code=status_code)


def key_in_flight() -> Conflict:
    """Another request with this key is being processed (its answer is not stored yet)."""
    return Conflict(
        "A request with this Idempotency-Key is being processed; retry it shortly.",
        code="idempotency-key-in-flight",
    )


def stored_answer(idem: Idempotency, fingerprint: str, status_code: int, body: str) -> JSONResponse:
    """The answer stored under the key, if it was given to this same request."""
    if fingerprint != idem.fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with a different request.",
            code="idempotency-key-reused",
        )
    return JSONResponse(
        json.loads(body), status_code=status_code, headers={"Idempotent-Replayed": "true"}
    )


def key_of(header: str | None) -> str | None:
    """The request's Idempotency-Key, if it sent one; a 400 if it is empty or too long."""
    if header is None:
        return None
    key = header.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.",
            code="bad-idempotency-key",
            params={"max_length": MAX_KEY_LENGTH},
        )
    return key


def fingerprint_of(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same one: a key reused with another is a 409."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(part)
    return digest.hexdigest()


# The header as a parameter, so that OpenAPI (and so generated clients) show it where it is
# accepted; its value is checked by key_of.
KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description=f"1 to {MAX_KEY_LENGTH} characters: the same key again answers the first "
        "answer (marked Idempotent-Replayed) without doing it twice; with another request, 409.",
    ),
]


async def idempotency(
    request: Request,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(request_session, scope="function"),
    header: KeyHeader = None,
) -> Idempotency:
    key = key_of(header)
    fingerprint = fingerprint_of(
        request.method, request.url.path, request.url.query, await request.body()
    )
    return Idempotency(
        key=key,
        fingerprint=fingerprint,
        principal=principal,
        session=session,
        table=request.app.state.idempotency_table,
    )
