"""Transactional outbox, its relay to JetStream, and the idempotent consumer inbox."""
