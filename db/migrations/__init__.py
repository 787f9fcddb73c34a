"""Schema migrations of the labels store (Alembic), run in code when the store is opened.

Why migrations: labels are evidence analysts spent hours on, so a new mualign must change the
schema of an existing store in place, keeping every event, instead of needing a fresh database.
``db.session.make_engine`` calls ``upgrade(engine)`` so every app start and CLI run brings the
store to ``HEAD_REVISION``; there is no ``alembic.ini`` and nothing to run by hand.

Three kinds of store are recognised:

- empty (no ``label_events``): every revision runs, 0001 creates the table;
- made by mualign before migrations existed (``label_events`` present, no ``alembic_version``):
  it holds revision 0001's schema, so it is stamped 0001 (after checking its columns) and then
  upgraded like any other;
- stamped (``alembic_version`` present): the remaining revisions run. A revision this mualign
  does not know means a newer mualign wrote the store; that is an error, not a guess.

The check, the stamp and the upgrade run in one transaction: on SQLite ``BEGIN IMMEDIATE``
serialises two processes opening a store at once; on PostgreSQL a transaction-scoped advisory
lock does, and its DDL is transactional, so a failed step leaves the store as it was. Within one
process a lock serialises the threads too: ``alembic.context`` is a process-wide proxy to the
running migration, so two threads migrating at once (two engines made at once) would each run
their steps on the other's connection.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS_DIR = Path(__file__).resolve().parent
HEAD_REVISION = "0004"
FIRST_REVISION = "0001"

# Columns of label_events at revision 0001, i.e. what create_all made before migrations existed.
V1_COLUMNS = (
    "id", "project", "left_id", "right_id", "type", "decision", "analyst", "created_at",
    "model_version", "score", "note", "undoes_id",
)

# Key of the PostgreSQL advisory lock held while migrating: any constant bigint works; this one
# is the first 8 bytes of sha256(b"mualign labels store migrations"), unlikely to clash with
# another application's lock on a shared server.
_PG_MIGRATION_LOCK = 8539356419149270902


# Held while Alembic runs: its ``context`` module is one process-wide proxy (module docstring).
_ALEMBIC_IN_USE = threading.Lock()


class LabelStoreSchemaError(RuntimeError):
    """The database cannot be brought to the schema this mualign expects; nothing was changed."""


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the labels store behind ``engine`` to ``revision`` and return the revision it is at.

    Stores made before migrations existed are stamped ``0001`` first (see the module docstring).
    Everything happens in one transaction, and SQLite and PostgreSQL roll DDL back with it, so
    a failure leaves the store untouched.

    Raises
    ------
    LabelStoreSchemaError
        If the store is stamped with a revision this mualign does not know (a newer mualign
        wrote it), or holds a ``label_events`` table without ``alembic_version`` whose columns
        are not revision 0001's.
    """
    from alembic import command

    with _ALEMBIC_IN_USE, engine.begin() as connection:
        _lock(connection)
        _stamp_legacy_store(connection)
        _require_known_revision(connection)
        command.upgrade(_config(connection), revision)
        return _current(connection)


def downgrade(engine: Engine, revision: str) -> str:
    """Take the labels store back to ``revision`` (e.g. ``"0001"``) and return where it is.

    Downgrading can drop data the later revisions added (0002 -> 0001 drops ``resolution``,
    0003 -> 0002 the batch ids, 0004 -> 0003 the leases);
    events themselves are kept. Meant for rolling back a release, not for everyday use.
    """
    from alembic import command

    with _ALEMBIC_IN_USE, engine.begin() as connection:
        _lock(connection)
        _require_known_revision(connection)
        command.downgrade(_config(connection), revision)
        return _current(connection)


def current_revision(engine: Engine) -> str | None:
    """The revision the store is stamped with, or ``None`` if it has no ``alembic_version``."""
    with engine.connect() as connection:
        return _current(connection)


def _config(connection: Connection):
    from alembic.config import Config

    config = Config()
    # script_location goes through ConfigParser interpolation: a "%" in the path must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _lock(connection: Connection) -> None:
    """Serialise concurrent migrators (SQLite already holds its write lock: BEGIN IMMEDIATE)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def _stamp_legacy_store(connection: Connection) -> None:
    from alembic import command

    tables = set(inspect(connection).get_table_names())
    if "label_events" not in tables or "alembic_version" in tables:
        return
    columns = tuple(c["name"] for c in inspect(connection).get_columns("label_events"))
    if sorted(columns) != sorted(V1_COLUMNS):
        raise LabelStoreSchemaError(
            f"{_where(connection)}: table label_events has no alembic_version beside it, so it should "
            f"be a store made before migrations (revision {FIRST_REVISION}), but its columns are "
            f"{', '.join(columns)} (expected {', '.join(V1_COLUMNS)}); it was not made by mualign or "
            f"was changed by hand. Nothing was changed; back it up and fix or move it aside."
        )
    command.stamp(_config(connection), FIRST_REVISION)


def _require_known_revision(connection: Connection) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    stamped = _current(connection)
    if stamped is None:
        return
    try:
        ScriptDirectory.from_config(_config(connection)).get_revision(stamped)
    except CommandError:
        raise LabelStoreSchemaError(
            f"{_where(connection)}: the labels store is at schema revision {stamped!r}, which this "
            f"mualign does not know (its newest is {HEAD_REVISION!r}): a newer mualign has upgraded it. "
            f"Install that newer mualign; nothing was changed."
        ) from None


def _where(connection: Connection) -> str:
    return connection.engine.url.render_as_string(hide_password=True)
