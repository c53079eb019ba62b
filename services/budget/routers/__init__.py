"""HTTP of the budget service, by area."""
