"""Personal data (identity and phone numbers): encrypted at rest, shown masked.

AES-GCM with a key from SHIXUN_PII_KEY (urlsafe base64 of 32 bytes). Without it, a key file
is made once under the data directory, which is fine for development and nothing else. A
keyed hash (HMAC) allows looking a number up without decrypting every row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.config import common


@lru_cache(maxsize=1)
def _key() -> bytes:
    configured = os.environ.get("SHIXUN_PII_KEY")
    if configured:
        key = base64.urlsafe_b64decode(configured + "=" * (-len(configured) % 4))
    else:
        path = common().shixun_data_dir / "pii.key"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.urlsafe_b64encode(os.urandom(32)))
        key = base64.urlsafe_b64decode(path.read_bytes().strip())
    if len(key) != 32:
        raise ValueError("SHIXUN_PII_KEY must be 32 bytes, urlsafe base64")
    return key


def encrypt(value: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key()).encrypt(nonce, value.encode(), b"shixun-pii")
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    raw = base64.urlsafe_b64decode(token)
    return AESGCM(_key()).decrypt(raw[:12], raw[12:], b"shixun-pii").decode()


def lookup_hash(value: str) -> str:
    return hmac.new(_key(), value.strip().upper().encode(), hashlib.sha256).hexdigest()


def mask(value: str, keep_start: int = 1, keep_end: int = 1) -> str:
    """Enough to tell two of a person's records apart, too little to guess the number from
    (region, birth date and sequence stay hidden)."""
    value = value.strip()
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]
