"""Alembic environment of the labels store, run only through ``db.migrations``.

There is no ``alembic.ini``: ``db.migrations`` builds the Alembic config in code and passes an
open connection inside a transaction it owns, so the legacy check, the stamp and every upgrade
step commit or roll back together. Offline (``--sql``) mode is not supported.
"""

from __future__ import annotations

from alembic import context

from db.models import Base

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "the labels store migrations run through db.migrations.upgrade(engine) (or by opening the "
        "store with db.make_engine), which passes a connection; the alembic command line and "
        "--sql mode are not set up for them"
    )

context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
