"""Ledger: append-only hours entries, requirement policies, compliance, transcripts."""
