"""Every gateway replica signs with the one key a Secret provides; production makes none."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.keys import MissingSigningKey, Signer, signing_key
from shared import pii
from shared.auth import Principal, Role


@pytest.fixture
def production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data = tmp_path / "data"
    monkeypatch.setenv("SHIXUN_ENV", "production")
    monkeypatch.setenv("SHIXUN_DATA_DIR", str(data))
    monkeypatch.setenv("SHIXUN_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("SHIXUN_PII_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
    monkeypatch.delenv("SHIXUN_GATEWAY_JWT_KEY_FILE", raising=False)
    pii._key.cache_clear()
    yield data
    pii._key.cache_clear()


def secret_file(tmp_path: Path) -> Path:
    """The PEM as a Kubernetes Secret mounts it: read-only, made by the operator."""
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "jwt-signing-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o400)
    return path


def test_replicas_given_the_secret_accept_each_others_tokens(tmp_path: Path) -> None:
    pem = secret_file(tmp_path)
    replicas = [
        Signer(
            signing_key(pem, data_dir=tmp_path / f"data-{i}", production=True),
            issuer="shixun-gateway",
            audience="shixun",
        )
        for i in range(3)
    ]
    assert len({signer.kid for signer in replicas}) == 1
    principal = Principal(subject="admin", role=Role.BUREAU_ADMIN)
    for minted_by in replicas:
        token = minted_by.access_token(principal, ttl_seconds=60)
        for other in replicas:
            verified = other.verify(token, typ="access")
            assert verified is not None and verified.subject == "admin"
    assert not any((tmp_path / f"data-{i}").exists() for i in range(3))


def test_production_makes_no_key_of_its_own(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with pytest.raises(MissingSigningKey):
        signing_key(None, data_dir=data, production=True)
    with pytest.raises(MissingSigningKey):
        signing_key(tmp_path / "not-mounted.pem", data_dir=data, production=True)
    assert not data.exists() and not (tmp_path / "not-mounted.pem").exists()
    # Development still makes one on first start and keeps it.
    made = signing_key(None, data_dir=data, production=False)
    again = signing_key(None, data_dir=data, production=False)
    assert made.private_numbers() == again.private_numbers()


async def test_the_gateway_does_not_start_in_production_without_the_key(
    production: Path,
) -> None:
    from gateway.app import create_app

    app = create_app()
    with pytest.raises(MissingSigningKey):
        async with app.router.lifespan_context(app):
            pass
    assert not production.exists(), "it touched the data directory before refusing"


async def test_the_gateway_checks_the_pii_key_at_start(
    production: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gateway.app import create_app

    monkeypatch.setenv("SHIXUN_GATEWAY_JWT_KEY_FILE", str(secret_file(tmp_path)))
    monkeypatch.delenv("SHIXUN_PII_KEY")
    app = create_app()
    with pytest.raises(pii.MissingKey):
        async with app.router.lifespan_context(app):
            pass
    assert not production.exists()
