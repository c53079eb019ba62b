"""Rules of the matrix, one module per service; add a rule with every endpoint you add."""

from tests.authz.matrix import Rule
from tests.authz.rules import budget, enrolment, feedback, gateway, ledger

RULES: dict[str, Rule] = {
    **gateway.RULES,
    **enrolment.RULES,
    **ledger.RULES,
    **budget.RULES,
    **feedback.RULES,
}
