"""Authorization rules of the feedback service's endpoints (none routed yet)."""

from tests.authz.matrix import Rule

RULES: dict[str, Rule] = {}
