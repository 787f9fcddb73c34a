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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from db.models import Base

LABELS_FILENAME = "labels.sqlite"

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
)


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
    """Create an engine for the labels store and create its tables if missing.

    Parameters
    ----------
    url : str or sqlalchemy.URL
        Any SQLAlchemy database URL. SQLite URLs (file or memory) get the pragmas and
        ``BEGIN IMMEDIATE`` described in this module's docstring; other backends are used as
        they come.
    **engine_kwargs
        Passed on to ``sqlalchemy.create_engine`` (e.g. ``echo=True``, pool settings).

    Returns
    -------
    Engine
        Ready to use; ``Base.metadata.create_all`` has run, so a fresh file works at once.
    """
    engine = create_engine(url, **engine_kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    Base.metadata.create_all(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory; frame each analyst action with ``with factory.begin() as s:``.

    ``expire_on_commit=False``: ``db.labels`` already copies rows into frozen dataclasses, and
    this keeps a caller that inspects an ORM object after commit from triggering a surprise
    reload (which would open a new transaction and, on SQLite, take the write lock).
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


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
