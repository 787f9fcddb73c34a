"""Schema migrations of the labels store: an upgrade keeps every label, on SQLite and PostgreSQL.

The pre-migration store is not rebuilt from today's models (they describe the head schema):
``tests/db/legacy_labels/`` holds what the code before migrations produced, frozen at commit
b0897b7: the DDL its ``create_all`` emitted per dialect, and a real ``labels.sqlite`` it wrote
through ``record_decision`` and ``undo_last``.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, inspect, text

from db import Decision, LabelEvent, current_labels, events, make_engine, make_sessionmaker, record_decision
from db.migrations import (
    HEAD_REVISION,
    MIGRATIONS_DIR,
    V1_COLUMNS,
    LabelStoreSchemaError,
    current_revision,
    downgrade,
    upgrade,
)
from db.models import Base, UTCDateTime
from tests.conftest import REPO
from tests.support.db_backends import StoreLocation, postgres_server, store  # noqa: F401 - pytest fixtures

LEGACY = Path(__file__).resolve().parent / "legacy_labels"

# label_events at revision 0001, to write rows the way the pre-migration ORM did (same UTC type).
V1_TABLE = Table(
    "label_events", MetaData(),
    Column("id", Integer, primary_key=True), Column("project", String), Column("left_id", String),
    Column("right_id", String), Column("type", String), Column("decision", String),
    Column("analyst", String), Column("created_at", UTCDateTime()), Column("model_version", String),
    Column("score", Float), Column("note", Text), Column("undoes_id", Integer),
)

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
V1_EVENTS = [  # ids, times to the microsecond, a float that is not round in binary, a tricky note
    LabelEvent(1, "films", "f1", "m10", "film", Decision.ACCEPT, "ana", T0, "v3", 0.1 + 0.2, None, None),
    LabelEvent(2, "films", "f2", "m11", "film", Decision.REJECT, "ana", T0.replace(second=1),
               None, None, 'same name, "other" year;\nsecond line; émigré ✓', None),
    LabelEvent(3, "films", "f2", "m11", "film", Decision.UNDO, "ana", T0.replace(second=2), None, None, None, 2),
    LabelEvent(4, "films", "f2", "m11", "film", Decision.ACCEPT, "ben", T0.replace(second=3), "v3", 1e-300, "", None),
    LabelEvent(9, "music", "s1", "t1", "song", Decision.SKIP, "cy", T0.replace(microsecond=999999), None, -0.0, None, None),
]


def insert_v1_events(engine, rows: list[LabelEvent]) -> None:
    """Write ``rows`` with their ids, leaving the store as if the old code had assigned them."""
    with engine.begin() as conn:
        conn.execute(V1_TABLE.insert(), [
            {c: (getattr(e, c).value if c == "decision" else getattr(e, c)) for c in V1_COLUMNS} for e in rows
        ])
        if conn.dialect.name == "postgresql":  # explicit ids do not move the SERIAL sequence on
            conn.execute(text("SELECT setval(pg_get_serial_sequence('label_events', 'id'), max(id)) FROM label_events"))


def stored_rows(engine) -> list[tuple]:
    """The stored revision-0001 columns of every event, as the driver returns them (SQLite: with storage class)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            columns = ", ".join(f"typeof({c}), {c}" for c in V1_COLUMNS)
        else:
            columns = ", ".join(f"{c}, {c}::text" for c in V1_COLUMNS)  # ::text: the exact stored value
        return [tuple(r) for r in conn.execute(text(f"SELECT {columns} FROM label_events ORDER BY label_events.id"))]


def resolution_flags(engine) -> list:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT resolution FROM label_events ORDER BY id")).scalars())


def run_frozen_ddl(engine) -> None:
    """Create label_events exactly as ``create_all`` did before migrations existed."""
    script = (LEGACY / f"create_all_v1.{engine.dialect.name}.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    with engine.begin() as conn:
        for statement in filter(str.strip, body.split(";")):
            conn.exec_driver_sql(statement)


def schema_of(engine) -> dict:
    """Everything a migration could get wrong about label_events, as reflected by the database."""
    with engine.connect() as conn:
        insp = inspect(conn)
        described = {
            "columns": [(c["name"], c["type"].compile(dialect=conn.dialect), c["nullable"], c["default"])
                        for c in insp.get_columns("label_events")],
            "pk": insp.get_pk_constraint("label_events")["constrained_columns"],
            "fks": sorted((f["name"], tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                          for f in insp.get_foreign_keys("label_events")),
            "uniques": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints("label_events")),
            "checks": sorted((c["name"], c["sqltext"]) for c in insp.get_check_constraints("label_events")),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in insp.get_indexes("label_events")),
        }
        if conn.dialect.name == "sqlite":  # SQLite keeps the CREATE statements verbatim: compare them too
            described["sql"] = sorted(conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'label_events'").all())
    return described


def drop_everything(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        conn.exec_driver_sql("DROP TABLE IF EXISTS label_events")


@pytest.fixture
def plain_engine(store: StoreLocation):
    """An engine that does not migrate on its own, to set up a store at a chosen revision."""
    engine = create_engine(store.url)
    yield engine
    engine.dispose()


# --- the revisions themselves -----------------------------------------------------------------------


def test_revision_0001_is_exactly_the_pre_migration_schema(plain_engine):
    run_frozen_ddl(plain_engine)
    before_migrations = schema_of(plain_engine)
    drop_everything(plain_engine)
    assert upgrade(plain_engine, "0001") == "0001"
    assert schema_of(plain_engine) == before_migrations
    assert [c[0] for c in before_migrations["columns"]] == list(V1_COLUMNS)


def test_head_revision_matches_the_models(plain_engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    assert upgrade(plain_engine) == HEAD_REVISION
    with plain_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    migrated = schema_of(plain_engine)
    drop_everything(plain_engine)
    Base.metadata.create_all(plain_engine)
    assert migrated["columns"] == schema_of(plain_engine)["columns"]
    columns = {c[0]: c[:3] for c in migrated["columns"]}
    assert columns["resolution"] == ("resolution", "BOOLEAN", False)
    assert columns["batch_id"] == ("batch_id", "VARCHAR(32)", True)


def test_revisions_form_one_chain_ending_at_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [HEAD_REVISION]
    assert [s.revision for s in scripts.walk_revisions()] == ["0004", "0003", "0002", "0001"]


# --- upgrading stores that hold labels ---------------------------------------------------------------


def test_sqlite_file_written_before_migrations_is_upgraded_keeping_every_event(tmp_path):
    """The real file the pre-migration code wrote (record_decision, undo_last) opens with today's code."""
    path = shutil.copy(LEGACY / "labels_v1.sqlite", tmp_path / "labels.sqlite")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall() == []
    url = f"sqlite:///{path}"
    raw = create_engine(url)
    before = stored_rows(raw)

    engine = make_engine(url)
    try:
        assert current_revision(engine) == HEAD_REVISION
        assert stored_rows(raw) == before
        assert resolution_flags(raw) == [0] * 6
        Session = make_sessionmaker(engine)
        with Session.begin() as s:
            log = list(reversed(events(s, project="films")))
            labels = {(lab.left_id, lab.decision, lab.analyst) for lab in current_labels(s, project="films")}
            added = record_decision(s, project="films", left_id="f9", right_id="m19", type="film",
                                    decision="accept", analyst="cy", resolution=True)
        assert [(e.id, e.decision.value, e.analyst, e.undoes_id, e.resolution) for e in log] == [
            (1, "accept", "ana", None, False), (2, "reject", "ana", None, False), (3, "skip", "ben", None, False),
            (4, "undo", "ana", 2, False), (5, "accept", "ben", None, False),
        ]
        assert (log[0].model_version, log[0].score) == ("v1", 0.9731)
        assert log[1].note == 'looks alike, "different" year; ünïcode\nsecond line'
        assert [e.created_at.isoformat() for e in log[:2]] == [
            "2026-11-23T17:14:29.546061+00:00", "2026-11-23T17:14:29.561236+00:00"]
        assert labels == {("f1", Decision.ACCEPT, "ana"), ("f2", Decision.ACCEPT, "ben"), ("f3", Decision.SKIP, "ben")}
        assert added.id == 7 and added.resolution is True  # ids go on after the music event (6)
    finally:
        engine.dispose()
        raw.dispose()


def test_store_made_by_create_all_before_migrations_is_stamped_then_upgraded(store, plain_engine):
    run_frozen_ddl(plain_engine)
    insert_v1_events(plain_engine, V1_EVENTS)
    before = stored_rows(plain_engine)

    engine = make_engine(store.url)
    try:
        assert current_revision(engine) == HEAD_REVISION
        with plain_engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD_REVISION]
        assert stored_rows(plain_engine) == before
        assert [bool(flag) for flag in resolution_flags(plain_engine)] == [False] * len(V1_EVENTS)
        with make_sessionmaker(engine).begin() as s:
            assert events(s, project="films") + events(s, project="music") == list(reversed(V1_EVENTS[:4])) + [V1_EVENTS[4]]
    finally:
        engine.dispose()


def test_upgrade_from_0001_keeps_every_event_and_downgrade_goes_back(store, plain_engine):
    upgrade(plain_engine, "0001")
    schema_at_0001 = schema_of(plain_engine)
    insert_v1_events(plain_engine, V1_EVENTS)
    at_0001 = stored_rows(plain_engine)

    engine = make_engine(store.url)  # the app opening the store upgrades it
    try:
        assert current_revision(engine) == HEAD_REVISION
        assert stored_rows(plain_engine) == at_0001
        assert [bool(flag) for flag in resolution_flags(plain_engine)] == [False] * len(V1_EVENTS)
        Session = make_sessionmaker(engine)
        with Session.begin() as s:
            assert events(s, project="films")[::-1] == V1_EVENTS[:4]
            settled = record_decision(s, project="films", left_id="f1", right_id="m10", type="film",
                                      decision="reject", analyst="dee", resolution=True)
        with_settled = stored_rows(plain_engine)

        assert downgrade(engine, "0001") == "0001"
        engine.dispose()  # pooled connections may still know the dropped column
        assert schema_of(plain_engine) == schema_at_0001
        assert stored_rows(plain_engine) == with_settled  # every event kept, the new one too

        assert upgrade(engine) == HEAD_REVISION  # and up again: the flag was dropped with the column
        with Session.begin() as s:
            assert events(s, project="films", limit=1)[0] == LabelEvent(
                settled.id, "films", "f1", "m10", "film", Decision.REJECT, "dee", settled.created_at,
                None, None, None, None, resolution=False)
    finally:
        engine.dispose()


# --- stores this mualign must not touch ----------------------------------------------------------------


def test_store_from_a_newer_mualign_is_refused_unchanged(store, plain_engine):
    make_engine(store.url).dispose()
    insert_v1_events(plain_engine, V1_EVENTS[:1])
    with plain_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    before = stored_rows(plain_engine)
    with pytest.raises(LabelStoreSchemaError, match=r"at schema revision '0042'.*newest is '0004'.*newer mualign"):
        make_engine(store.url)
    assert current_revision(plain_engine) == "0042"
    assert stored_rows(plain_engine) == before


def test_foreign_label_events_table_is_refused_unchanged(store, plain_engine):
    with plain_engine.begin() as conn:
        conn.execute(text("CREATE TABLE label_events (id INTEGER PRIMARY KEY, verdict VARCHAR)"))
    with pytest.raises(LabelStoreSchemaError, match=r"label_events.*columns are id, verdict \(expected id, project"):
        make_engine(store.url)
    with plain_engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == {"label_events"}  # not even stamped


def test_servers_opening_a_fresh_store_at_once_migrate_it_once(store):
    """Four app servers (processes) start together on an empty database: all of them work.

    Processes, not threads: what keeps them apart is the database's lock (BEGIN IMMEDIATE,
    PostgreSQL's advisory lock); threads of one process already queue on a Python lock.
    """
    code = ("import sys; from db import make_engine; from db.migrations import current_revision; "
            "print('ready', flush=True); sys.stdin.readline(); print(current_revision(make_engine(sys.argv[1])))")
    servers = [subprocess.Popen([sys.executable, "-c", code, store.url], cwd=REPO, text=True, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    try:
        assert [server.stdout.readline() for server in servers] == ["ready\n"] * 4  # all imported
        for server in servers:  # then all go at once
            server.stdin.write("go\n")
            server.stdin.flush()
        results = [server.communicate(timeout=120) for server in servers]
    finally:
        for server in servers:
            server.kill()
    assert [(server.returncode, out.strip(), err) for server, (out, err) in zip(servers, results)] == [
        (0, HEAD_REVISION, "")] * 4
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM label_events")).scalar() == 0
    finally:
        engine.dispose()


def test_threads_opening_a_fresh_store_at_once_all_work(store):
    """Engines made at once in one process (Alembic's context is process-wide) all migrate cleanly."""
    together = threading.Barrier(4)
    engines, errors = [], []

    def server() -> None:
        try:
            together.wait(timeout=60)
            engines.append(make_engine(store.url))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=server, daemon=True) for _ in range(4)]  # daemon: a hang must not block exit
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == [] and len(engines) == 4
        assert {current_revision(e) for e in engines} == {HEAD_REVISION}
    finally:
        for e in engines:
            e.dispose()


# --- packaging -------------------------------------------------------------------------------------------


def test_every_db_package_ships():
    """A wheel holds only the packages pyproject's find rule includes: the revisions must be among them."""
    from setuptools import find_packages

    include = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]["find"]["include"]
    listed = set(find_packages(where=str(REPO), include=include))
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for top in ("db", "core", "cli", "ui")
               for p in (REPO / top).rglob("__init__.py")}
    assert {"db.migrations", "db.migrations.versions", "core.project", "ui"} <= on_disk
    assert on_disk <= listed


def test_store_opens_from_any_directory_without_alembic_ini(tmp_path):
    code = ("import sys; from db import make_engine; from db.migrations import current_revision; "
            "print(current_revision(make_engine(sys.argv[1])))")
    out = subprocess.run([sys.executable, "-c", code, f"sqlite:///{tmp_path / 'labels.sqlite'}"],
                         capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.strip() == HEAD_REVISION
    assert not list(tmp_path.glob("*.ini"))
