"""The label store's file and its failures: a vanished store refuses, and every failure is a plain message.

Issue 13 items 3 and 4. An app that ran on while ``labels.sqlite`` was deleted went on recording
into the unlinked file (and lost everything at the next restart); a read-only, full, missing or
foreign store gave SQLAlchemy's ``OperationalError`` with its SQL. Each case here must raise
``LabelStoreError`` (a ``ValueError``) with a message that names the store and what to do, record
nothing, and leave what was stored before intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import event

from db import current_labels, make_engine, make_sessionmaker, record_decision
from db.session import (
    FileIdentity,
    LabelStoreError,
    LabelStoreMovedError,
    default_url,
    plain_sqlite_failure,
    sqlite_file,
)

P = "films"


def _decide(Session, left_id: str = "f1", right_id: str = "m10", decision: str = "accept") -> None:
    with Session.begin() as session:
        record_decision(session, project=P, left_id=left_id, right_id=right_id, type="film",
                        decision=decision, analyst="ana")


def _labels(Session) -> set[tuple[str, str]]:
    with Session.begin() as session:
        return {(x.left_id, x.right_id) for x in current_labels(session, project=P)}


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "project" / "labels.sqlite"


@pytest.fixture
def Session(store_path: Path):
    store_path.parent.mkdir()
    engine = make_engine(default_url(store_path.parent))
    yield make_sessionmaker(engine)
    engine.dispose()


# --- item 3: the store's file vanishes or is replaced while the app runs ------------------------------


def test_a_deleted_store_refuses_to_record_and_is_not_made_anew(Session, store_path):
    _decide(Session)
    os.unlink(store_path)
    with pytest.raises(LabelStoreMovedError, match=rf"{store_path} was deleted .*nothing was recorded"):
        _decide(Session, "f2", "m11")
    with pytest.raises(LabelStoreMovedError):  # reading is refused too: no stale "6 decided"
        _labels(Session)
    assert not store_path.exists()  # no new empty store slipped in mid-session


def test_a_store_moved_back_into_place_works_again_with_every_label(Session, store_path):
    _decide(Session)
    aside = store_path.with_name("aside.sqlite")
    os.rename(store_path, aside)
    with pytest.raises(LabelStoreMovedError):
        _decide(Session, "f2", "m11")
    os.rename(aside, store_path)  # the same file again (same device and inode)
    _decide(Session, "f3", "m12")
    assert _labels(Session) == {("f1", "m10"), ("f3", "m12")}  # the refused decision is not there


def test_a_store_replaced_by_another_file_refuses(Session, store_path, tmp_path):
    _decide(Session)
    other = tmp_path / "other" / "labels.sqlite"
    other.parent.mkdir()
    make_engine(default_url(other.parent)).dispose()
    os.replace(other, store_path)
    with pytest.raises(LabelStoreMovedError, match="replaced by another file"):
        _decide(Session, "f2", "m11")


def test_a_new_engine_after_a_restart_opens_the_file_now_there(Session, store_path):
    _decide(Session)
    os.unlink(store_path)
    engine = make_engine(default_url(store_path.parent))  # a restart: a new store, knowingly
    try:
        restarted = make_sessionmaker(engine)
        _decide(restarted, "f2", "m11")
        assert _labels(restarted) == {("f2", "m11")}
    finally:
        engine.dispose()


def test_file_identity_is_device_and_inode(tmp_path):
    path = tmp_path / "x"
    path.write_text("a")
    first = FileIdentity.of(path)
    path.write_text("b")  # writing keeps the file
    assert FileIdentity.of(path) == first == FileIdentity(os.stat(path).st_dev, os.stat(path).st_ino)
    path.unlink()
    assert FileIdentity.of(path) is None


# --- item 4: a store that cannot be used says why, in plain words -------------------------------------


@pytest.mark.parametrize("url", ["not a url", "labels.sqlite", ""])
def test_a_db_that_is_not_a_url_is_refused_with_the_form_to_use(url):
    with pytest.raises(LabelStoreError, match="is not a database URL; write it like sqlite:////"):
        make_engine(url)


def test_a_db_in_a_missing_directory_is_refused_and_nothing_is_made(tmp_path):
    missing = tmp_path / "nowhere" / "labels.sqlite"
    with pytest.raises(LabelStoreError, match=rf"its directory {missing.parent} does not exist"):
        make_engine(f"sqlite:///{missing}")
    assert not missing.parent.exists()


def test_a_db_that_names_a_directory_is_refused(tmp_path):
    with pytest.raises(LabelStoreError, match="is a directory; name a file"):
        make_engine(f"sqlite:///{tmp_path}")


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    junk = tmp_path / "labels.sqlite"
    junk.write_text("these are my notes, not a database\n" * 200)
    before = junk.read_bytes()
    with pytest.raises(LabelStoreError, match=rf"{junk} is not a SQLite database"):
        make_engine(f"sqlite:///{junk}")
    assert junk.read_bytes() == before


def test_a_read_only_store_reads_but_refuses_to_record(Session, store_path):
    _decide(Session)
    # mode=ro makes SQLite treat the file as read-only whoever runs the test (root ignores chmod)
    engine = make_engine(f"sqlite:///file:{store_path}?mode=ro&uri=true")
    try:
        read_only = make_sessionmaker(engine)
        assert _labels(read_only) == {("f1", "m10")}
        with pytest.raises(LabelStoreError, match=rf"label store {store_path} is read-only"):
            _decide(read_only, "f2", "m11")
    finally:
        engine.dispose()
    assert _labels(Session) == {("f1", "m10")}


def test_a_full_disk_refuses_the_decision_and_keeps_the_stored_ones(Session, store_path):
    _decide(Session)
    engine = make_engine(default_url(store_path.parent))
    pages = os.path.getsize(store_path) // 4096

    @event.listens_for(engine, "connect")
    def _no_room_to_grow(dbapi_connection, record):  # SQLite's own "database or disk is full" (SQLITE_FULL)
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()  # drop the connection made before the listener
    full = make_sessionmaker(engine)
    try:
        with pytest.raises(LabelStoreError, match="disk that holds the label store .* is full, so nothing was recorded"):
            for i in range(2000):  # until the pages run out
                _decide(full, f"f{i}", "m" + "x" * 500)
    finally:
        engine.dispose()
    assert ("f1", "m10") in _labels(Session)


def test_plain_sqlite_failure_leaves_other_errors_alone():
    assert plain_sqlite_failure(Exception("database is locked"), "s") is None
    assert plain_sqlite_failure(Exception("UNIQUE constraint failed: label_events.undoes_id"), "s") is None
    assert "read-only" in plain_sqlite_failure(Exception("attempt to write a readonly database"), "s")


def test_sqlite_file_reads_both_url_forms(tmp_path):
    assert sqlite_file(default_url(tmp_path)) == tmp_path.resolve() / "labels.sqlite"
    assert sqlite_file(f"sqlite:///file:{tmp_path}/a%20b.sqlite?mode=ro&uri=true") == tmp_path / "a b.sqlite"
    assert sqlite_file("sqlite://") is None and sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://u@h/d") is None
