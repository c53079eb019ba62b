from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIXUN_GATEWAY_", extra="ignore")

    database_url: str | None = None
    enrolment_url: str = "http://127.0.0.1:8001"
    ledger_url: str = "http://127.0.0.1:8002"
    budget_url: str = "http://127.0.0.1:8003"
    feedback_url: str = "http://127.0.0.1:8004"
    jwt_key_file: Path | None = Field(None, description="PEM of the ES256 signing key")
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    lockout_failures: int = 5
    lockout_minutes: int = 15
    upstream_timeout_seconds: float = 30.0

    def service_urls(self) -> dict[str, str]:
        return {
            "enrolment": self.enrolment_url,
            "ledger": self.ledger_url,
            "budget": self.budget_url,
            "feedback": self.feedback_url,
        }


class BootstrapSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIXUN_", extra="ignore")

    bootstrap_admin_password: str | None = None
    bootstrap_admin_username: str = "admin"
