"""Personal data at rest: database files and the data directory are their owner's only,
the development key lives apart from the data, production needs SHIXUN_PII_KEY."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from shared import pii
from shared.config import database_url_for
from shared.db import Database, ensure_database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def fresh_key() -> Iterator[None]:
    """The key is read once per process; read it again here, and again after."""
    pii._key.cache_clear()
    yield
    pii._key.cache_clear()


async def test_sqlite_files_are_0600_in_a_0700_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("SHIXUN_DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = database_url_for("ledger")
    await ensure_database(url)
    database = Database(url)
    try:
        async with database.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x int)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        await database.dispose()
    assert mode(data) == 0o700
    files = [p for p in data.iterdir() if p.name.startswith("ledger.db")]
    assert files and {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_the_development_key_is_made_apart_from_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_key: None
) -> None:
    monkeypatch.setenv("SHIXUN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SHIXUN_SECRETS_DIR", raising=False)
    monkeypatch.delenv("SHIXUN_PII_KEY", raising=False)
    sealed = pii.encrypt("110105199001011234")
    key = tmp_path / "secrets" / "pii.key"
    assert key.exists() and mode(key) == 0o600 and mode(key.parent) == 0o700
    assert not (tmp_path / "data" / "pii.key").exists()
    pii._key.cache_clear()
    assert pii.decrypt(sealed) == "110105199001011234"


def test_production_refuses_to_start_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_key: None
) -> None:
    monkeypatch.setenv("SHIXUN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHIXUN_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("SHIXUN_ENV", "production")
    monkeypatch.delenv("SHIXUN_PII_KEY", raising=False)
    with pytest.raises(pii.MissingKey):
        pii.check_key()
    assert not (tmp_path / "secrets" / "pii.key").exists()
    monkeypatch.setenv("SHIXUN_PII_KEY", "too-short")
    with pytest.raises(ValueError):
        pii.check_key()
    monkeypatch.setenv("SHIXUN_PII_KEY", "A" * 43)
    pii.check_key()


async def test_enrolment_does_not_start_in_production_without_the_key(
    monkeypatch: pytest.MonkeyPatch, fresh_key: None
) -> None:
    from services.enrolment.app import create_app

    monkeypatch.setenv("SHIXUN_ENV", "production")
    monkeypatch.delenv("SHIXUN_PII_KEY", raising=False)
    app = create_app()
    with pytest.raises(pii.MissingKey):
        async with app.router.lifespan_context(app):
            pass
