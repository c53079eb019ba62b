"""ES256 access tokens checked in one pass: the header, the signature, then the claims.

PyJWT (2.15) checks every character of each segment in a Python loop and parses the header
twice; on selection day each service meets 2,000 new tokens in a minute, and that was more
than half the cost of verifying one (docs/performance.md). This does what PyJWT did for our
tokens, with the alphabet checked by a compiled pattern. Only ES256 is accepted: the header's
`alg` must say so, whatever the key, so no token can choose its own algorithm.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

ALGORITHM = "ES256"
_SEGMENT = re.compile(rb"[A-Za-z0-9_-]*")
_ECDSA = ec.ECDSA(hashes.SHA256())
REQUIRED = ("exp", "sub", "iss", "aud")


class InvalidToken(Exception):
    """The token is malformed, forged, or not for us."""


class ExpiredToken(InvalidToken):
    """The token was valid until its `exp`."""


def _segment(data: bytes) -> bytes:
    if len(data) % 4 == 1 or not _SEGMENT.fullmatch(data):
        raise InvalidToken("not base64url")
    try:
        return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
    except binascii.Error as exc:
        raise InvalidToken("not base64url") from exc


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise InvalidToken("not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("not a JSON object")
    return value


def header_of(token: str) -> dict[str, Any]:
    """The header, unverified: it names the key (`kid`) to verify the token with."""
    head = token.encode().split(b".", 1)[0]
    return _json(_segment(head))


def decode(
    token: str,
    key: ec.EllipticCurvePublicKey,
    *,
    audience: str,
    issuer: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of an ES256 token signed by `key` for `audience` from `issuer`."""
    parts = token.encode().split(b".")
    if len(parts) != 3:
        raise InvalidToken("not three segments")
    head, body, signature = parts
    if _json(_segment(head)).get("alg") != ALGORITHM:
        raise InvalidToken("not ES256")
    raw = _segment(signature)
    if len(raw) != 64:
        raise InvalidToken("not an ES256 signature")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, head + b"." + body, _ECDSA)
    except InvalidSignature as exc:
        raise InvalidToken("bad signature") from exc
    claims = _json(_segment(body))
    _check(claims, audience=audience, issuer=issuer, now=time.time() if now is None else now)
    return claims


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"{name} is not a number")
    return float(value)


def _check(claims: dict[str, Any], *, audience: str, issuer: str, now: float) -> None:
    for name in REQUIRED:
        if name not in claims:
            raise InvalidToken(f"no {name}")
    expires = _number(claims, "exp")
    if expires is not None and expires <= now:
        raise ExpiredToken("expired")
    not_before = _number(claims, "nbf")
    if not_before is not None and not_before > now:
        raise InvalidToken("not yet valid")
    issued = _number(claims, "iat")
    if issued is not None and issued > now:
        raise InvalidToken("issued in the future")
    aud = claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise InvalidToken("aud is not a string or a list of strings")
    if audience not in audiences:
        raise InvalidToken("not for this audience")
    if claims["iss"] != issuer:
        raise InvalidToken("another issuer")
