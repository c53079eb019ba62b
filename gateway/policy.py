"""The gateway's rules as data: scopes a machine may hold, lockout, rate limits, webhook retries.

Each policy carries a version so a change of numbers is a visible, reviewable change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.auth import PARTS, Principal, Role


@dataclass(frozen=True)
class ScopeCatalogue:
    """What a service account may be given ("Who may see what": limited to its integration)."""

    version: str
    scopes: dict[str, str]


SCOPES = ScopeCatalogue(
    version="scopes/1",
    scopes={
        "hours:read": "read teachers' hours and ledgers within the account's district or school",
        "hours:import": "import hours from the provincial platform",
        "roster:read": "read schools, teachers, enrolments, programs and institutions in scope",
        "roster:write": "create and update teachers of the account's district or school",
        "events:subscribe": "subscribe webhooks to events within the account's scope",
    },
)


# Which services a client's token is good for, by its scopes: a token leaked from a client
# that reads hours opens the ledger, not the directory (docs/gateway.md, "Tokens").
# People's tokens name every part; every token names the gateway (/v1/me, webhooks).
SCOPE_PARTS: dict[str, tuple[str, ...]] = {
    "hours:read": ("ledger",),
    "hours:import": ("ledger",),
    "roster:read": ("enrolment",),
    "roster:write": ("enrolment",),
    "events:subscribe": (),
    "budget:read": ("budget",),
    "budget:write": ("budget",),
    "evaluations:read": ("feedback",),
}


def token_parts(principal: Principal) -> tuple[str, ...]:
    if principal.role is not Role.SERVICE:
        return PARTS
    wanted = {part for scope in principal.scopes for part in SCOPE_PARTS.get(scope, ())}
    return tuple(p for p in PARTS if p == "gateway" or p in wanted)


@dataclass(frozen=True)
class LockoutPolicy:
    """After `failures` wrong passwords or secrets in a row an account is locked a while."""

    version: str
    failures: int
    minutes: int


@dataclass(frozen=True)
class RateLimitPolicy:
    """Token buckets: a steady rate per minute and a burst, per account and per client address."""

    version: str
    account_per_minute: int
    account_burst: int
    client_per_minute: int
    client_burst: int
    # Accounts an operator exempts for bulk work (setting up a district's accounts, say);
    # every person keeps the per-account limit.
    unlimited_accounts: frozenset[str] = frozenset()


DEFAULT_RATE_LIMITS = RateLimitPolicy(
    version="rate/1",
    account_per_minute=600,
    account_burst=120,
    client_per_minute=3000,
    client_burst=600,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Webhook deliveries back off exponentially; after `max_attempts` a delivery is failed
    (kept in the log and redeliverable), never dropped silently."""

    version: str
    base_seconds: float
    factor: float
    cap_seconds: float
    max_attempts: int

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed try."""
        return min(self.base_seconds * self.factor ** max(attempts - 1, 0), self.cap_seconds)


DEFAULT_RETRY = RetryPolicy(
    version="webhook-retry/1", base_seconds=5, factor=2, cap_seconds=3600, max_attempts=20
)


def _common_passwords() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "common-passwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip().lower() for x in lines if x.strip() and not x.startswith("#"))


@dataclass(frozen=True)
class PasswordPolicy:
    """What a password people choose must be: long enough and not one of the commonest.

    Length beats composition rules (NIST SP 800-63B 5.1.1.2): no "one capital, one digit";
    a check against passwords attackers try first instead.
    """

    version: str
    min_length: int
    max_length: int
    common: frozenset[str]

    def problem(self, password: str, *, identifiers: tuple[str | None, ...] = ()) -> str | None:
        """Why the password is refused, or None."""
        if len(password) < self.min_length:
            return f"A password has at least {self.min_length} characters."
        if len(password) > self.max_length:
            return f"A password has at most {self.max_length} characters."
        if password.strip().lower() in self.common or len(set(password)) == 1:
            return "This password is among the commonest ones; choose another."
        if any(i and i.lower() in password.lower() for i in identifiers):
            return "A password must not contain the username."
        return None


DEFAULT_PASSWORDS = PasswordPolicy(
    version="passwords/1", min_length=8, max_length=200, common=_common_passwords()
)


@dataclass(frozen=True)
class ActivationPolicy:
    """One-time activation codes of new or reset logins."""

    version: str
    code_days: int  # a code not used within this many days expires
    token_minutes: int  # the restricted token a code gives lives this long


DEFAULT_ACTIVATION = ActivationPolicy(version="activation/1", code_days=30, token_minutes=10)
