"""Authorization rules of the budget service's endpoints (none routed yet)."""

from tests.authz.matrix import Rule

RULES: dict[str, Rule] = {}
