"""The language of an answer: zh-CN unless the caller asks for English.

Every message a person reads (a problem's title and detail, a validation message, a row
error of an import) is looked up in shared/messages.py by a stable key, in the language
chosen here from `Accept-Language` (the gateway forwards it to the services). Chinese is
the default: the suite's users are Chinese bureaus, schools and teachers; English is for
integrators who ask for it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Literal

from starlette.types import ASGIApp, Receive, Scope, Send

Language = Literal["zh", "en"]
DEFAULT: Language = "zh"
_current: ContextVar[Language] = ContextVar("language", default=DEFAULT)
_TAG = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def negotiate(accept_language: str | None) -> Language:
    """The caller's preferred language of the two the suite speaks (RFC 9110 weights)."""
    if not accept_language:
        return DEFAULT
    best: tuple[float, Language] | None = None
    for position, part in enumerate(accept_language.split(",")[:20]):
        match = _TAG.match(part)
        if not match:
            continue
        primary = match.group(1).lower()
        try:
            weight = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if primary not in ("zh", "en") or weight <= 0:
            continue
        # Earlier tags win ties, as a browser lists them in preference order.
        key = (weight - position * 1e-6, primary)
        if best is None or key[0] > best[0]:
            best = (key[0], primary)  # type: ignore[assignment]
    return best[1] if best else DEFAULT


def language_of(scope: Scope) -> Language:
    for name, value in scope.get("headers") or ():
        if name == b"accept-language":
            return negotiate(value.decode("latin-1"))
    return DEFAULT


def current() -> Language:
    return _current.get()


class LanguageMiddleware:
    """Sets the request's language for whatever runs inside it (pure ASGI, outermost)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _current.set(language_of(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


class _Params(dict):
    """Missing parameters render as nothing rather than failing an error answer."""

    def __missing__(self, key: str) -> str:
        return ""


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(template: str, params: Mapping[str, Any] | None = None) -> str:
    if not params:
        return template
    return template.format_map(_Params({k: _shown(v) for k, v in params.items()}))


def _shown(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return "、".join(str(v) for v in value)
    return value
