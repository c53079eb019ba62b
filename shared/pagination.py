"""Keyset pagination: `limit` and an opaque `cursor`, answering {"items", "next_cursor"}."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_

from shared.errors import BadRequest, LocalizedError

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="items per page"),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def _encode(created_at: datetime, row_id: Any) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor names; anything else a client sends is a 400, never a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(created, str) or not isinstance(row_id, str):
            raise TypeError("cursor parts are not text")
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise LocalizedError("翻页标记无效", "cursor time without a zone")
        return when, uuid.UUID(row_id)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRequest("The cursor is not one this API gave out.", code="bad-cursor") from exc


def paginate(query: Select, model: Any, params: PageParams) -> Select:
    """Order by (created_at, id) and start after the cursor; fetch one extra to see if more."""
    if params.cursor:
        created, row_id = _decode(params.cursor)
        query = query.where(
            or_(
                model.created_at > created,
                and_(model.created_at == created, model.id > row_id),
            )
        )
    return query.order_by(model.created_at, model.id).limit(params.limit + 1)


def page_of(rows: list[Any], params: PageParams, read: Any) -> dict[str, Any]:
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    cursor = _encode(rows[-1].created_at, rows[-1].id) if more and rows else None
    return {"items": [read.model_validate(r) for r in rows], "next_cursor": cursor}


# Keyset over any sort: the cursor names the sort it was made for and the last row's key.
def encode_key(sort: str, *values: Any) -> str:
    raw = json.dumps([sort, *(v.isoformat() if hasattr(v, "isoformat") else v for v in values)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_key(cursor: str, sort: str, length: int) -> list[Any]:
    """The key values of a cursor made for `sort`; a cursor of another sort is a 400 too."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(values, list) or len(values) != length + 1 or values[0] != sort:
            raise ValueError("cursor of another listing")
        return values[1:]
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise BadRequest(
            "翻页标记不是本接口给出的，请从第一页重新获取。", code="bad-cursor"
        ) from exc


UpdatedSince = Query(
    None,
    description="only what changed at or after this time (ISO 8601 with a zone): the app's sync",
)
