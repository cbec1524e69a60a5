"""Alembic environment: runs online on the connection ``merito.storage.db.migrate`` passes in.

There is no alembic.ini: ``migrate`` builds the configuration in code. To write a new revision,
see docs/decisions/0004-storage.md.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import merito.storage  # noqa: F401  (imports every table module)
from merito.storage.tables import Base


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through merito.storage.db.migrate(engine)")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
