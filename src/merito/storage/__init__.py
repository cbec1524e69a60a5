"""Storage adapters: SQLAlchemy tables, engines and migrations, and the encrypted key store.

Only ``merito.bootstrap`` (and the contract tests) import this package; services see the
Protocols in ``merito.domain.ports_storage``.
"""

from merito.storage.db import create_engine_for, integrity_as_conflict, migrate, session_factory
from merito.storage.keystore import KeyStore

__all__ = ["KeyStore", "create_engine_for", "integrity_as_conflict", "migrate", "session_factory"]
