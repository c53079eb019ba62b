"""Budget: fund pools, a double-entry journal in fen, program budgets, expenses, accounts."""
