"""Personal data (identity and phone numbers): encrypted at rest, shown masked.

AES-GCM with a key from SHIXUN_PII_KEY (urlsafe base64 of 32 bytes). Without it, a key file
is made once in the secrets directory (SHIXUN_SECRETS_DIR, apart from the data directory, so a
copy of the data is not a copy of the key), which is fine for development and nothing else:
with SHIXUN_ENV=production a part refuses to start without SHIXUN_PII_KEY (check_key). A
keyed hash (HMAC) allows looking a number up without decrypting every row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.config import common, private_dir, secrets_dir


class MissingKey(RuntimeError):
    pass


def _decode_key(text: str | bytes) -> bytes:
    if isinstance(text, str):
        text = text.strip().encode()
    key = base64.urlsafe_b64decode(text.strip() + b"=" * (-len(text.strip()) % 4))
    if len(key) != 32:
        raise ValueError("SHIXUN_PII_KEY must be 32 bytes, urlsafe base64")
    return key


def _development_key() -> bytes:
    settings = common()
    path = secrets_dir(settings) / "pii.key"
    old = settings.shixun_data_dir / "pii.key"  # where earlier versions made it
    private_dir(path.parent)
    if not path.exists() and old.exists():
        old.replace(path)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.urlsafe_b64encode(os.urandom(32)))
    return _decode_key(path.read_bytes())


@lru_cache(maxsize=1)
def _key() -> bytes:
    configured = os.environ.get("SHIXUN_PII_KEY")
    if configured:
        return _decode_key(configured)
    if common().shixun_env == "production":
        raise MissingKey(
            "SHIXUN_ENV=production needs SHIXUN_PII_KEY (32 bytes, urlsafe base64); "
            "no key file is made in production."
        )
    return _development_key()


def check_key() -> None:
    """At start: the key is there and well-formed, or the part does not start."""
    _key()


def seal(data: bytes) -> bytes:
    """Bytes encrypted at rest (an uploaded file holding identity numbers)."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_key()).encrypt(nonce, data, b"shixun-pii-file")


def unseal(sealed: bytes) -> bytes:
    return AESGCM(_key()).decrypt(sealed[:12], sealed[12:], b"shixun-pii-file")


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


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of a secret of the given purpose (an activation code, say), kept apart from
    lookup hashes of personal data by the purpose prefix."""
    message = f"{purpose}\0{value}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()
