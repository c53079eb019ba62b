"""shared.jws accepts exactly the tokens PyJWT accepted for us, and refuses the rest."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from shared import jws

KEY = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())
AUD, ISS = "shixun:enrolment", "shixun"
NOW = time.time()


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "sub": "t1", "role": "teacher", "iss": ISS, "aud": [AUD, "shixun:gateway"],
        "iat": int(NOW) - 10, "exp": int(NOW) + 86_400, "typ": "access",
    }  # fmt: skip
    return {k: v for k, v in (base | changes).items() if v is not None}


def token(payload: dict[str, Any], key: ec.EllipticCurvePrivateKey = KEY, **header: Any) -> str:
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": "k1", **header})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pyjwt_accepts(value: str) -> bool:
    try:
        jwt.decode(
            value, KEY.public_key(), algorithms=["ES256"], audience=AUD, issuer=ISS,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )  # fmt: skip
    except jwt.PyJWTError:
        return False
    return True


def ours_accepts(value: str) -> bool:
    try:
        jws.decode(value, KEY.public_key(), audience=AUD, issuer=ISS)
    except jws.InvalidToken:
        return False
    return True


def swap_payload(value: str, payload: dict[str, Any]) -> str:
    head, _, sig = value.split(".")
    return f"{head}.{b64(json.dumps(payload).encode())}.{sig}"


GOOD = token(claims())
CASES = {
    "valid": GOOD,
    "audience as a string": token(claims(aud=AUD)),
    "expired": token(claims(exp=int(NOW) - 1)),
    "not yet valid": token(claims(nbf=int(NOW) + 3600)),
    "issued in the future": token(claims(iat=int(NOW) + 3600)),
    "another audience": token(claims(aud=["shixun:ledger"])),
    "another issuer": token(claims(iss="someone")),
    "no sub": token(claims(sub=None)),
    "no exp": token(claims(exp=None)),
    "no aud": token(claims(aud=None)),
    "exp as text": token(claims(exp="tomorrow")),
    "signed by another key": token(claims(), OTHER),
    "payload swapped, signature kept": swap_payload(GOOD, claims(role="bureau_admin")),
    "signature cut short": GOOD[:-4],
    "signature of junk": GOOD.rsplit(".", 1)[0] + ".!!!!",
    "alg none": b64(b'{"alg":"none","kid":"k1"}') + "." + GOOD.split(".")[1] + ".",
    "alg HS256 header": jwt.encode(claims(), "s" * 32, algorithm="HS256"),
    "two segments": ".".join(GOOD.split(".")[:2]),
    "four segments": GOOD + ".x",
    "header not JSON": b64(b"nope") + "." + GOOD.split(".", 1)[1],
    "empty": "",
}


@pytest.mark.parametrize("case", CASES)
def test_the_verdict_is_pyjwts(case: str) -> None:
    value = CASES[case]
    assert ours_accepts(value) is pyjwt_accepts(value)
    assert ours_accepts(value) is (case in ("valid", "audience as a string"))


def test_an_expired_token_is_told_apart() -> None:
    with pytest.raises(jws.ExpiredToken):
        jws.decode(CASES["expired"], KEY.public_key(), audience=AUD, issuer=ISS)


def test_claims_and_header_come_back_as_signed() -> None:
    assert jws.decode(GOOD, KEY.public_key(), audience=AUD, issuer=ISS) == jwt.decode(
        GOOD, KEY.public_key(), algorithms=["ES256"], audience=AUD, issuer=ISS
    )
    assert jws.header_of(GOOD) == jwt.get_unverified_header(GOOD)
