from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.clients.services import UpstreamLimits
from gateway.policy import (
    DEFAULT_ACTIVATION,
    DEFAULT_PASSWORDS,
    DEFAULT_RATE_LIMITS,
    ActivationPolicy,
    LockoutPolicy,
    PasswordPolicy,
    RateLimitPolicy,
)


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
    # Federated login (统一身份认证): an OpenID provider; unset, the district uses passwords.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_redirect_uri: str | None = Field(
        None, description="the gateway's /v1/auth/oidc/callback as the provider reaches it"
    )
    oidc_scope: str = "openid"
    oidc_id_number_claim: str = Field("id_number", description="the claim with the 身份证号")
    password_min_length: int = DEFAULT_PASSWORDS.min_length
    activation_code_days: int = DEFAULT_ACTIVATION.code_days
    upstream_timeout_seconds: float = 30.0
    # Requests in flight to each service, and how many may wait how long before a 503.
    upstream_in_flight: int = UpstreamLimits.in_flight
    upstream_queue: int = UpstreamLimits.queue
    upstream_queue_seconds: float = UpstreamLimits.queue_seconds
    dashboard_timeout_seconds: float = 3.0
    cors_origins: list[str] = ["http://localhost:3000", "http://127.0.0.1:3000"]
    webhook_timeout_seconds: float = 10.0
    webhook_poll_seconds: float = 1.0
    # Hosts trusted as webhook targets although private or plain http (a school system on
    # the bureau's own network), comma-separated; empty: public https endpoints only.
    webhook_allow_hosts: Annotated[list[str], NoDecode] = []

    rate_account_per_minute: int = DEFAULT_RATE_LIMITS.account_per_minute
    rate_account_burst: int = DEFAULT_RATE_LIMITS.account_burst
    rate_client_per_minute: int = DEFAULT_RATE_LIMITS.client_per_minute
    rate_client_burst: int = DEFAULT_RATE_LIMITS.client_burst
    rate_unlimited_accounts: list[str] = Field(
        [], description="account ids (UUIDs) exempt from the per-account limit"
    )

    @field_validator("webhook_allow_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [h for h in (p.strip() for p in value.split(",")) if h]
        return value

    def webhook_hosts(self) -> frozenset[str]:
        return frozenset(h.lower().rstrip(".").strip("[]") for h in self.webhook_allow_hosts)

    def rate_limits(self) -> RateLimitPolicy:
        return RateLimitPolicy(
            version=DEFAULT_RATE_LIMITS.version,
            account_per_minute=self.rate_account_per_minute,
            account_burst=self.rate_account_burst,
            client_per_minute=self.rate_client_per_minute,
            client_burst=self.rate_client_burst,
            unlimited_accounts=frozenset(self.rate_unlimited_accounts),
        )

    def lockout(self) -> LockoutPolicy:
        return LockoutPolicy(
            version="lockout/1", failures=self.lockout_failures, minutes=self.lockout_minutes
        )

    def passwords(self) -> PasswordPolicy:
        return PasswordPolicy(
            version=DEFAULT_PASSWORDS.version,
            min_length=self.password_min_length,
            max_length=DEFAULT_PASSWORDS.max_length,
            common=DEFAULT_PASSWORDS.common,
        )

    def activation(self) -> ActivationPolicy:
        return ActivationPolicy(
            version=DEFAULT_ACTIVATION.version,
            code_days=self.activation_code_days,
            token_minutes=DEFAULT_ACTIVATION.token_minutes,
        )

    def upstream_limits(self) -> UpstreamLimits:
        return UpstreamLimits(
            in_flight=self.upstream_in_flight,
            queue=self.upstream_queue,
            queue_seconds=self.upstream_queue_seconds,
        )

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
