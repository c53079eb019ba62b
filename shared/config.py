"""Settings read from the environment, and where each service's database and NATS live."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DISTRICT_TZ = "Asia/Shanghai"
# The district the development bootstrap admin belongs to; fixed so every service agrees on it.
DEFAULT_DISTRICT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


class CommonSettings(BaseSettings):
    """Variables every service reads without a prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str | None = None
    nats_url: str | None = None
    shixun_nats_namespace: str = ""
    shixun_data_dir: Path = Path("data")
    # Development keys made on first use (pii.key), apart from the data they protect;
    # unset: "secrets" beside the data directory.
    shixun_secrets_dir: Path | None = None
    # "production": keys must come from the environment (SHIXUN_PII_KEY), none is made.
    shixun_env: str = "development"
    shixun_jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    shixun_jwt_issuer: str = "shixun-gateway"
    shixun_jwt_audience: str = "shixun"
    shixun_stream_replicas: int = 1
    shixun_log_json: bool = False
    # JSON and form bodies at every part; file uploads have their own (shared.edge.UPLOADS).
    shixun_max_body_bytes: int = 1024 * 1024
    # Bearer token Prometheus sends to /metrics (shared/operations.py says who may read it).
    shixun_metrics_token: str = ""


class ServiceSettings(BaseSettings):
    """Per-service variables, prefix SHIXUN_<NAME>_ (set by subclasses)."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str | None = None
    # Connections kept to PostgreSQL (SQLite always uses one).
    db_pool_size: int = 10
    relay_interval_seconds: float = 0.2
    relay_batch_size: int = 500
    outbox_retention_hours: float = 168.0
    consumer_max_deliver: int = 5
    consumer_ack_wait_seconds: float = 30.0


def secrets_dir(settings: CommonSettings) -> Path:
    return settings.shixun_secrets_dir or settings.shixun_data_dir.absolute().parent / "secrets"


def common() -> CommonSettings:
    return CommonSettings()


def database_url_for(service: str, override: str | None = None) -> str:
    """The database of one service.

    SHIXUN_<NAME>_DATABASE_URL wins; else DATABASE_URL names a server and the service uses
    its own database `shixun_<service>` on it; else a SQLite file under the data directory.
    """
    if override:
        return override
    settings = common()
    if settings.database_url:
        return server_database(settings.database_url, f"shixun_{service}")
    private_dir(settings.shixun_data_dir)
    path = (settings.shixun_data_dir / f"{service}.db").resolve()
    return f"sqlite+aiosqlite:///{path}"


def server_database(server_url: str, database: str) -> str:
    """Point a server URL at one database on it, normalising the driver to asyncpg."""
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+asyncpg")
    return url.set(database=database).render_as_string(hide_password=False)


def private_dir(path: Path) -> None:
    """A directory of the suite's own data or keys: its owner's only (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")
