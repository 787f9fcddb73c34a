"""Engines and sessions for the labels store.

A project's labels live by default in ``labels.sqlite`` inside the project directory; a team can
point several app servers at one server database (any SQLAlchemy URL, e.g.
``postgresql+psycopg://...``) and tell projects apart by the ``project`` column.

SQLite needs care when several analysts write at once, so every SQLite connection gets:

- ``PRAGMA foreign_keys=ON``: SQLite ignores foreign keys unless asked, per connection; the
  log's ``undoes_id`` must point at a real event.
- ``PRAGMA journal_mode=WAL``: readers (page renders) do not block the writer, nor it them.
- ``PRAGMA busy_timeout=30000``: a writer that finds the database locked waits up to 30 s
  instead of failing at once with "database is locked".
- ``PRAGMA synchronous=NORMAL``: the usual WAL setting; a committed label survives an app
  crash, and only an OS crash or power cut can lose the last few commits.
- transactions start with ``BEGIN IMMEDIATE``: the write lock is taken at BEGIN, where the busy
  timeout applies. With the driver's default deferred BEGIN, a transaction that read first and
  then writes must upgrade its lock, and SQLite fails that upgrade at once with "database is
  locked" (busy timeout or not) when another writer got there first. The price is that even
  read-only transactions queue behind writers; label transactions are short, so that is cheap.

The last point follows the SQLAlchemy SQLite dialect docs, "Enabling Non-Legacy SQLite
Transactional Modes": set the sqlite3 connection's ``isolation_level`` to ``None`` so the
driver never emits its own BEGIN, and emit ours from the engine's ``begin`` event.

PostgreSQL (``postgresql+psycopg://user:password@host:5432/dbname``) needs none of that: it
enforces foreign keys, never blocks readers, and makes a writer wait for a row lock instead of
failing. Its engines get:

- ``isolation_level="READ COMMITTED"``, set explicitly so a server configured with another
  default cannot change the store's behaviour. Each statement then sees everything committed
  before it started; together with the per-analyst advisory lock that ``db.labels`` takes
  (``lock_analyst``), two undos racing for one analyst run one after the other and undo two
  different events, as on SQLite. Under REPEATABLE READ or SERIALIZABLE the second would see a
  snapshot from before the first and fail (unique ``undoes_id``, or a serialization error) where
  the analyst expects it to walk further back.
- ``pool_pre_ping=True``: a team server restarts or drops idle connections; the pool tests a
  connection before handing it out, so the first click after a restart works instead of
  failing with "server closed the connection unexpectedly".

Every engine, whatever the backend, brings the schema to the newest revision when it is made
(``db.migrations.upgrade``), so an existing store keeps its labels across mualign upgrades.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from db.migrations import upgrade

LABELS_FILENAME = "labels.sqlite"

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
)

POSTGRESQL_ENGINE_DEFAULTS: dict[str, Any] = {
    "isolation_level": "READ COMMITTED",
    "pool_pre_ping": True,
}


def default_url(project_dir: str | Path) -> str:
    """Return the SQLite URL of ``labels.sqlite`` in ``project_dir`` (absolute path).

    The path is made absolute so the URL means the same file whatever the working directory of
    the app or CLI that opens it.

    Examples
    --------
    >>> default_url("/srv/projects/films")
    'sqlite:////srv/projects/films/labels.sqlite'
    """
    path = Path(project_dir).expanduser().resolve() / LABELS_FILENAME
    return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)


def make_engine(url: str | URL, **engine_kwargs: Any) -> Engine:
    """Create an engine for the labels store and migrate its schema to the newest revision.

    Parameters
    ----------
    url : str or sqlalchemy.URL
        Any SQLAlchemy database URL. SQLite URLs (file or memory) get the pragmas and
        ``BEGIN IMMEDIATE`` described in this module's docstring; PostgreSQL URLs get
        ``POSTGRESQL_ENGINE_DEFAULTS``; other backends are used as they come.
    **engine_kwargs
        Passed on to ``sqlalchemy.create_engine`` (e.g. ``echo=True``, pool settings); they
        override the PostgreSQL defaults.

    Returns
    -------
    Engine
        Ready to use: a fresh database gets the tables, an older store is upgraded in place
        with its labels kept (``db.migrations.upgrade``).

    Raises
    ------
    db.migrations.LabelStoreSchemaError
        If the database holds a store this mualign cannot upgrade (written by a newer mualign,
        or a ``label_events`` table it did not make); the store is left unchanged.
    """
    if make_url(url).get_backend_name() == "postgresql":
        engine_kwargs = {**POSTGRESQL_ENGINE_DEFAULTS, **engine_kwargs}
    engine = create_engine(url, **engine_kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory; frame each analyst action with ``with factory.begin() as s:``.

    ``expire_on_commit=False``: ``db.labels`` already copies rows into frozen dataclasses, and
    this keeps a caller that inspects an ORM object after commit from triggering a surprise
    reload (which would open a new transaction and, on SQLite, take the write lock).
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


def lock_analyst(session: Session, *, project: str, analyst: str) -> None:
    """Make one analyst's writes to one project take turns, until the transaction ends.

    ``db.labels`` calls this before reading what to undo or appending a decision. On
    PostgreSQL it takes a transaction-scoped advisory lock keyed by (project, analyst), so two
    undos from one analyst (two browser tabs, a double key press) run one after the other and
    the second sees the first's undo; other analysts are not held up. On SQLite the
    transaction already holds the database's write lock (``BEGIN IMMEDIATE``), so there is
    nothing to do; other backends get no extra locking.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"{project}\x00{analyst}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)  # pg advisory locks take a bigint
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _configure_sqlite(engine: Engine) -> None:
    """Attach the per-connection pragmas and the ``BEGIN IMMEDIATE`` hook to a SQLite engine."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Stop the sqlite3 driver emitting its own (deferred) BEGIN; _on_begin emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
