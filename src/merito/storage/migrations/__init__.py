"""Alembic migrations of the platform database; run them with ``merito.storage.db.migrate``."""
