"""Label-store backends for the db tests: each test runs once on SQLite and once on PostgreSQL.

Import the ``store`` fixture into a test module (``from tests.support.db_backends import store``) and
open it with ``make_engine(store.url)``. Each test gets an empty store of its own:

- SQLite: a fresh ``labels.sqlite`` file in the test's temp dir (a file, not ``sqlite://``,
  because WAL and locking only exist for files).
- PostgreSQL: the server named by ``MUALIGN_TEST_POSTGRES_URL``
  (``postgresql+psycopg://user:password@host:port/dbname``; ``.ci/postgres.sh`` starts a
  throwaway one). Each test gets its own schema, created before and dropped after, and the URL
  it receives selects that schema through ``search_path``, so ``make_engine(store.url)`` sees
  an empty database and leaves the others alone. The role needs CREATE on the database.

Without ``MUALIGN_TEST_POSTGRES_URL`` the PostgreSQL variants are skipped with a reason saying
how to run them, unless ``MUALIGN_REQUIRE_POSTGRES=1`` (CI), where that is a failure. A URL
that is set but does not connect is always a failure: whoever set it meant the tests to use it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from db import default_url

POSTGRES_URL_VARIABLE = "MUALIGN_TEST_POSTGRES_URL"
REQUIRE_VARIABLE = "MUALIGN_REQUIRE_POSTGRES"
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class PostgresSetting:
    """What the environment asks of the PostgreSQL variants."""

    url: str | None
    required: bool

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> PostgresSetting:
        """Read the two variables; an unclear ``MUALIGN_REQUIRE_POSTGRES`` is an error, not a guess."""
        required = environ.get(REQUIRE_VARIABLE, "").strip()
        if required not in ("", "0", "1"):
            raise ValueError(f"{REQUIRE_VARIABLE} must be 1, 0 or unset, got {required!r}")
        url = environ.get(POSTGRES_URL_VARIABLE, "").strip() or None
        if url is not None and make_url(url).get_backend_name() != "postgresql":
            raise ValueError(
                f"{POSTGRES_URL_VARIABLE} must be a PostgreSQL URL (postgresql+psycopg://user:password@host:port/db), "
                f"got {make_url(url).render_as_string(hide_password=True)!r}"
            )
        return cls(url=url, required=required == "1")

    def missing_reason(self) -> str | None:
        """Why the PostgreSQL variants cannot run, or ``None`` when a URL is set."""
        if self.url is not None:
            return None
        return (f"PostgreSQL label-store tests need {POSTGRES_URL_VARIABLE}=postgresql+psycopg://...; "
                f"`source .ci/postgres.sh && postgres_start` starts a throwaway server and sets it")


@dataclass(frozen=True)
class StoreLocation:
    """An empty labels store for one test: the backend's name and the URL to open it with."""

    backend: str
    url: str


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Engine]:
    """An engine on the test server's database (no schema chosen), checked to connect once."""
    try:
        setting = PostgresSetting.from_environ(os.environ)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    reason = setting.missing_reason()
    if reason is not None:
        if setting.required:
            pytest.fail(f"{REQUIRE_VARIABLE}=1 but {POSTGRES_URL_VARIABLE} is not set: {reason}", pytrace=False)
        pytest.skip(reason)
    engine = create_engine(setting.url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        shown = make_url(setting.url).render_as_string(hide_password=True)
        pytest.fail(f"{POSTGRES_URL_VARIABLE}={shown}: cannot connect: {exc.orig}", pytrace=False)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreLocation]:
    """An empty labels store on each backend in turn (see the module docstring)."""
    if request.param == "sqlite":
        directory = tmp_path / "store"
        directory.mkdir()
        yield StoreLocation("sqlite", default_url(directory))
        return
    server: Engine = request.getfixturevalue("postgres_server")
    schema = f"mualign_test_{uuid.uuid4().hex[:12]}"
    with server.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = server.url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield StoreLocation("postgresql", url.render_as_string(hide_password=False))
    finally:
        with server.begin() as connection:
            # A test that leaked an open transaction would make the drop wait forever; fail instead.
            connection.execute(text("SET LOCAL lock_timeout = '20s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
