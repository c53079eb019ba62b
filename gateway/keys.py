"""The gateway's ES256 signing key and the JWKS the services verify tokens with."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.policy import token_parts
from shared import jws
from shared.auth import ALGORITHM, Principal, audience_of


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class MissingSigningKey(RuntimeError):
    pass


def signing_key(
    key_file: Path | None, *, data_dir: Path, production: bool
) -> ec.EllipticCurvePrivateKey:
    """The key tokens are signed with.

    In production it is the configured file (a Secret every replica mounts) and nothing else:
    a key made by each replica would sign tokens the others' JWKS does not hold, so one
    request in three would fail. In development one is made in the data directory.
    """
    if production:
        if key_file is None or not key_file.is_file():
            raise MissingSigningKey(
                "SHIXUN_ENV=production needs SHIXUN_GATEWAY_JWT_KEY_FILE, the PEM of the "
                f"ES256 key shared by every gateway replica (given: {key_file}); "
                "no key is made in production."
            )
        return _load_key(key_file)
    return load_or_create_key(key_file or data_dir / "jwt-signing-key.pem")


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return key


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The key from its PEM file; a first start makes one (0600) so tokens survive restarts."""
    if path.exists():
        return _load_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_key(path)  # another process made it first
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


class Signer:
    def __init__(self, key: ec.EllipticCurvePrivateKey, *, issuer: str, audience: str) -> None:
        self.key = key
        self.issuer = issuer
        self.audience = audience
        numbers = key.public_key().public_numbers()
        self.public_jwk: dict[str, Any] = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }
        # RFC 7638 thumbprint as the key id, so a rotated key gets a new kid by itself.
        canonical = json.dumps(self.public_jwk, separators=(",", ":"), sort_keys=True)
        self.kid = _b64(hashlib.sha256(canonical.encode()).digest())

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self.public_jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}]}

    def access_token(
        self, principal: Principal, *, ttl_seconds: int, now: int | None = None, typ: str = "access"
    ) -> str:
        """An access token; with another `typ` one that no service accepts (they require
        "access"), such as the "activation" token that may only set the first password."""
        now = int(time.time()) if now is None else now
        claims = {
            **principal.claims(),
            "iss": self.issuer,
            "aud": [audience_of(part, self.audience) for part in token_parts(principal)],
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
            "typ": typ,
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def verify(self, token: str, *, typ: str) -> Principal | None:
        """The principal of a token this signer made with `typ`, or None."""
        try:
            claims = jws.decode(
                token,
                self.key.public_key(),
                audience=audience_of("gateway", self.audience),
                issuer=self.issuer,
            )
        except jws.InvalidToken:
            return None
        return Principal.from_claims(claims) if claims.get("typ") == typ else None
