"""Storage adapters: SQLAlchemy tables, engines and migrations, and the encrypted key store.

The composition root and the services use it (docs/decisions/0005-services-on-the-orm.md);
the adapters (api, web, cli) never do.
"""

# every table module, so Base.metadata (migrations, conflict names) knows all tables
from merito.storage import (  # noqa: F401
    tables_accounts,
    tables_analytics,
    tables_anchoring,
    tables_assessment,
    tables_catalog,
    tables_delivery,
    tables_hiring,
    tables_integrations,
    tables_issuance,
    tables_ledger,
    tables_oauth,
    tables_pathways,
    tables_sharing,
    tables_skills,
    tables_trust,
    tables_wallet,
    tables_workforce,
)
from merito.storage.db import create_engine_for, integrity_as_conflict, migrate, session_factory
from merito.storage.keystore import KeyStore

__all__ = ["KeyStore", "create_engine_for", "integrity_as_conflict", "migrate", "session_factory"]
