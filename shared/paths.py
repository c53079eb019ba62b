"""Request paths taken as sent: split on their slashes, decoded once, checked, encoded once.

Splitting before decoding means `%2f`, `%25` and `%2e%2e` can never change which endpoint a
path names, and a path whose decoded form a service would read differently (an encoded
slash, a dot segment, a control character, bytes that are not UTF-8) is refused here as a
problem instead of reaching an HTTP client or a database as something else.
"""

from __future__ import annotations

from urllib.parse import quote, unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import BadRequest, NotFound, Problem

# RFC 3986 pchar beside the unreserved characters (which quote() never escapes).
SEGMENT_SAFE = "!$&'()*+,;=:@"


def _is_control(char: str) -> bool:
    return char < " " or "\x7f" <= char <= "\x9f"


def path_segments(raw_path: bytes) -> list[str]:
    """The segments of a raw request path, each percent-decoded once."""
    if not raw_path.startswith(b"/"):
        raise BadRequest("A request path must start with '/'.", code="path-invalid")
    segments = []
    for part in raw_path[1:].split(b"/"):
        try:
            text = unquote_to_bytes(part).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("A request path must be UTF-8.", code="path-invalid") from None
        if any(_is_control(char) for char in text):
            raise BadRequest(
                "A request path may not contain control characters.", code="path-invalid"
            )
        if "/" in text or text in (".", ".."):
            # A service would read these as other segments than the ones sent.
            raise NotFound(
                "No endpoint has an encoded slash or a dot segment.", message="not-found.endpoint"
            )
        segments.append(text)
    return segments


def raw_path_of(scope: Scope) -> bytes:
    # ASGI servers may leave raw_path out; the decoded path, encoded again, stands in.
    raw = scope.get("raw_path")
    return raw if raw else quote(scope["path"], safe="/" + SEGMENT_SAFE).encode("ascii")


def decoded_path(segments: list[str]) -> str:
    return "/" + "/".join(segments)


def encoded_path(segments: list[str]) -> str:
    return "/" + "/".join(quote(s, safe=SEGMENT_SAFE) for s in segments)


class RefuseOddPathMiddleware:
    """Answers a path that path_segments() refuses with its problem, for every endpoint."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                path_segments(raw_path_of(scope))
            except Problem as error:
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)
