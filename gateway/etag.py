"""ETags for GETs the app polls: a weak validator of the body, and If-None-Match → 304."""

from __future__ import annotations

import hashlib

from starlette.requests import Request


def etag_of(body: bytes) -> str:
    # Weak: the same content may come back with other header details (RFC 9110 8.8.1).
    return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(request: Request, etag: str) -> bool:
    return matches(request.headers.get("if-none-match"), etag)


def matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    # Weak comparison: W/ prefixes do not matter for If-None-Match.
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag.removeprefix("W/") in wanted
