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

A store that cannot be used raises :class:`LabelStoreError`, whose message says what is wrong in
plain words (not a URL, a directory that does not exist, not a database, read-only, a full disk),
instead of the driver's ``sqlite3.OperationalError`` and its SQL. For a SQLite file the engine
also remembers the file's identity (device and inode) once the store is open, and checks it
before every transaction: an app that ran on while someone deleted or replaced ``labels.sqlite``
would otherwise go on writing decisions into the unlinked file, and lose them all at the next
restart. It refuses instead (:class:`LabelStoreMovedError`) and never makes a new empty file in
its place mid-session.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
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

#: What SQLite says (``sqlite3.Error`` text, lower case) -> what the analyst is told; ``{store}``
#: is the store's file. Only failures of the store itself are translated: a constraint error or
#: "database is locked" is a different story and keeps its own exception.
SQLITE_FAILURES: tuple[tuple[str, str], ...] = (
    ("attempt to write a readonly database",
     "the label store {store} is read-only for this account, so nothing can be recorded. Make the file and "
     "its directory writable (SQLite keeps a -wal file beside it), or point --db at a writable store"),
    ("unable to open database file",
     "the label store {store} cannot be opened or created: check that its directory exists and that this "
     "account may write there, or point --db at another store"),
    ("is not a database",
     "{store} is not a SQLite database, so it cannot hold labels. Point --db at the right file, or move this "
     "file away and a new store is made in its place"),
    ("database or disk is full",
     "the disk that holds the label store {store} is full, so nothing was recorded. Free some space and try "
     "again; the labels already stored are kept"),
    ("disk i/o error",
     "reading or writing the label store {store} failed (disk I/O error), so nothing was recorded; the labels "
     "already stored are kept"),
)


class LabelStoreError(ValueError):
    """The labels store cannot be opened or written; the message says why, in plain words.

    A ``ValueError`` so that ``mualign`` exits with status 2 and the message, like any bad input.
    When it is raised during an analyst action, the action's transaction is rolled back: nothing
    was recorded, and nothing stored before was touched.
    """


class LabelStoreMovedError(LabelStoreError):
    """The store's SQLite file was deleted or replaced by another file after the store was opened."""


@dataclass(frozen=True)
class FileIdentity:
    """Which file a path named when the store was opened: ``os.stat``'s ``st_dev`` and ``st_ino``.

    A path names the same file as long as both stay equal; deleting the file (or moving another
    file onto its name) changes them, while writing to the file does not.
    """

    device: int
    inode: int

    @classmethod
    def of(cls, path: str | Path) -> FileIdentity | None:
        """The identity of the file at ``path`` now, or None when there is none."""
        try:
            info = os.stat(path)
        except OSError:
            return None
        return cls(info.st_dev, info.st_ino)


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


def parse_store_url(url: str | URL) -> URL:
    """``url`` as a SQLAlchemy ``URL``, or :class:`LabelStoreError` saying how to write one.

    Examples
    --------
    >>> parse_store_url("sqlite:////srv/labels.sqlite").get_backend_name()
    'sqlite'
    """
    if isinstance(url, URL):
        return url
    try:
        return make_url(url)
    except (ArgumentError, ValueError, TypeError):
        raise LabelStoreError(
            f"{url!r} is not a database URL; write it like sqlite:////absolute/path/labels.sqlite (a file) or "
            "postgresql+psycopg://user@host/dbname (a server)") from None


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL names (absolute), or None for an in-memory store or another backend.

    Both spellings are understood: ``sqlite:///path`` and the URI form
    ``sqlite:///file:path?mode=ro&uri=true``.

    Examples
    --------
    >>> sqlite_file("sqlite:////srv/films/labels.sqlite")
    PosixPath('/srv/films/labels.sqlite')
    >>> sqlite_file("sqlite:///file:/srv/films/labels.sqlite?mode=ro&uri=true")
    PosixPath('/srv/films/labels.sqlite')
    >>> sqlite_file("sqlite://") is None
    True
    """
    parsed = parse_store_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if str(parsed.query.get("uri", "")).lower() in ("true", "1") and database.startswith("file:"):
        parts = urllib.parse.urlsplit(database)
        if parts.query and "mode=memory" in parts.query:
            return None
        database = urllib.parse.unquote(parts.path)
    if database in ("", ":memory:"):
        return None
    return Path(os.path.abspath(database))


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
    LabelStoreError
        ``url`` is not a database URL, names a SQLite file in a directory that does not exist
        (or a directory), or the store cannot be opened or written (not a database, read-only,
        a full disk; see ``SQLITE_FAILURES``). The same error comes later from a session of the
        engine when a write fails that way, or when the SQLite file was deleted or replaced
        since this call (:class:`LabelStoreMovedError`).
    db.migrations.LabelStoreSchemaError
        If the database holds a store this mualign cannot upgrade (written by a newer mualign,
        or a ``label_events`` table it did not make); the store is left unchanged.
    """
    parsed = parse_store_url(url)
    path = sqlite_file(parsed)
    if path is not None:
        _require_place_for(path)
    if parsed.get_backend_name() == "postgresql":
        engine_kwargs = {**POSTGRESQL_ENGINE_DEFAULTS, **engine_kwargs}
    try:
        engine = create_engine(parsed, **engine_kwargs)
    except (ArgumentError, ImportError) as exc:  # an unknown backend, a driver that is not installed
        raise LabelStoreError(f"cannot use the label store {_shown(parsed)}: {exc}") from None
    store = _StoreFile(path) if path is not None else None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, store)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    if store is not None:
        store.remember()
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


class _StoreFile:
    """The SQLite file behind an engine, and the identity it had once the store was open."""

    def __init__(self, path: Path):
        self.path = path
        self.identity: FileIdentity | None = None

    def remember(self) -> None:
        self.identity = FileIdentity.of(self.path)

    def check(self) -> None:
        """Raise :class:`LabelStoreMovedError` if the path no longer names the file that was opened."""
        if self.identity is None:  # still opening it (migrations), or an identity we could not read
            return
        now = FileIdentity.of(self.path)
        if now == self.identity:
            return
        what = "deleted" if now is None else "replaced by another file"
        raise LabelStoreMovedError(
            f"the label store {self.path} was {what} while the app was running, so nothing was recorded "
            "(a decision written now would be lost with the old file). Put the file back and carry on, or "
            "restart the app to work with the file now at that path; restore older labels with "
            "`mualign labels import`")


def _require_place_for(path: Path) -> None:
    """A SQLite store needs an existing directory to live in; say so before SQLite says "unable to open"."""
    if path.is_dir():
        raise LabelStoreError(f"the label store {path} is a directory; name a file, e.g. {path / LABELS_FILENAME}")
    if not path.parent.is_dir():
        raise LabelStoreError(f"the label store {path} cannot be made: its directory {path.parent} does not exist "
                              "(create it first, or point --db at an existing directory)")


def _shown(url: URL) -> str:
    path = sqlite_file(url)
    return str(path) if path is not None else url.render_as_string(hide_password=True)


def plain_sqlite_failure(error: BaseException, store: str) -> str | None:
    """The plain message for a SQLite failure of the store itself (``SQLITE_FAILURES``), else None."""
    text_of_error = str(error).lower()
    for fragment, message in SQLITE_FAILURES:
        if fragment in text_of_error:
            return message.format(store=store)
    return None


def _configure_sqlite(engine: Engine, store: _StoreFile | None = None) -> None:
    """Attach the pragmas, the ``BEGIN IMMEDIATE`` hook, the file identity check and plain errors."""
    shown = str(store.path) if store is not None else "(in memory)"

    @event.listens_for(engine, "do_connect")
    def _on_do_connect(dialect: Any, connection_record: Any, cargs: list, cparams: dict) -> None:
        if store is None or store.identity is None:
            return
        store.check()
        if not cparams.get("uri"):
            # The store exists: open it read-write but never create it, so a file deleted after
            # the check above gives an error instead of a new empty store.
            cargs[0] = "file:" + urllib.parse.quote(str(store.path)) + "?mode=rw"
            cparams["uri"] = True

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        message = plain_sqlite_failure(context.original_exception, shown)
        if message is not None:
            raise LabelStoreError(message) from context.original_exception

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
        if store is not None:
            store.check()  # before every transaction: never write into a deleted or replaced file
        connection.exec_driver_sql("BEGIN IMMEDIATE")
