"""The labels store: an append-only log of analysts' decisions, on SQLite and PostgreSQL.

Tests that take ``Session`` (or ``store``) run on both backends (``tests/support/db_backends.py``):
a real ``labels.sqlite`` file per test, and a schema of its own on the PostgreSQL server named
by ``MUALIGN_TEST_POSTGRES_URL``. Tests of backend-specific settings (SQLite pragmas and
locking, PostgreSQL isolation and reconnects) take the backend they are about.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from db import (
    HISTORY_COLUMNS,
    Decision,
    LabelEvent,
    LabelEventRow,
    PairLabel,
    ProgressRow,
    current_labels,
    default_url,
    derive_current,
    events,
    history_csv,
    label_of,
    make_engine,
    make_sessionmaker,
    progress,
    record_decision,
    undo_last,
)
from tests.conftest import REPO
from tests.support.db_backends import StoreLocation, postgres_server, store  # noqa: F401 - pytest fixtures

P = "films"  # the project most tests write to


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return tmp_path / "project"


@pytest.fixture
def engine(store: StoreLocation):
    eng = make_engine(store.url)
    yield eng
    eng.dispose()


@pytest.fixture
def Session(engine):  # noqa: N802 - a session factory, named like the SQLAlchemy docs do
    return make_sessionmaker(engine)


@pytest.fixture
def sqlite_engine(project_dir: Path):
    """A SQLite store in ``project_dir``, for tests of SQLite's own settings and files."""
    project_dir.mkdir()
    eng = make_engine(default_url(project_dir))
    yield eng
    eng.dispose()


def decide(Session, left, right, decision, analyst="ana", *, type="film", project=P, **extra) -> LabelEvent:
    """One analyst action in its own transaction, as the review page does it."""
    with Session.begin() as s:
        return record_decision(s, project=project, left_id=left, right_id=right, type=type,
                               decision=decision, analyst=analyst, **extra)


def undo(Session, analyst="ana", project=P) -> LabelEvent | None:
    with Session.begin() as s:
        return undo_last(s, project=project, analyst=analyst)


def current(Session, project=P) -> dict[tuple[str, str], Decision]:
    with Session.begin() as s:
        return {(lab.left_id, lab.right_id): lab.decision for lab in current_labels(s, project=project)}


def row_count(Session) -> int:
    with Session.begin() as s:
        return s.scalar(select(func.count()).select_from(LabelEventRow))


# --- recording and current labels -------------------------------------------------------------


def test_record_returns_event_and_sets_current_label(Session):
    event = decide(Session, "f1", "m10", Decision.ACCEPT, model_version="v3", score=0.92, note="same year")
    assert (event.project, event.left_id, event.right_id, event.type) == (P, "f1", "m10", "film")
    assert event.decision is Decision.ACCEPT and event.analyst == "ana" and event.undoes_id is None
    assert (event.model_version, event.score, event.note) == ("v3", 0.92, "same year")
    assert event.created_at.tzinfo is not None and event.created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - event.created_at) < timedelta(minutes=1)

    with Session.begin() as s:
        [label] = current_labels(s, project=P)
    assert label == PairLabel(project=P, left_id="f1", right_id="m10", type="film", decision=Decision.ACCEPT,
                              analyst="ana", decided_at=event.created_at, model_version="v3",
                              note="same year", event_id=event.id)


def test_decision_accepts_its_word_and_strips_analyst(Session):
    event = decide(Session, "f1", "m10", "reject", analyst="  ana ")
    assert event.decision is Decision.REJECT and event.analyst == "ana"
    assert str(Decision.REJECT) == "reject"


def test_latest_decision_wins(Session):
    decide(Session, "f1", "m10", Decision.ACCEPT)
    decide(Session, "f1", "m10", Decision.REJECT, analyst="ben")
    decide(Session, "f2", "m11", Decision.ACCEPT)
    assert current(Session) == {("f1", "m10"): Decision.REJECT, ("f2", "m11"): Decision.ACCEPT}
    with Session.begin() as s:
        assert label_of(s, project=P, left_id="f1", right_id="m10").analyst == "ben"
        assert label_of(s, project=P, left_id="f1", right_id="m11") is None


def test_skip_is_a_current_label(Session):
    decide(Session, "f1", "m10", Decision.SKIP)
    assert current(Session) == {("f1", "m10"): Decision.SKIP}


def test_resolution_is_stored_per_event_and_defaults_to_false(Session):
    """A decision from the conflict queue is flagged; the flag never changes which label stands."""
    ana = decide(Session, "f1", "m10", Decision.ACCEPT)
    ben = decide(Session, "f1", "m10", Decision.REJECT, analyst="ben")
    settled = decide(Session, "f1", "m10", Decision.ACCEPT, analyst="cy", resolution=True)
    assert (ana.resolution, ben.resolution, settled.resolution) == (False, False, True)
    with Session.begin() as s:
        assert [e.resolution for e in events(s, project=P)] == [True, False, False]  # as stored, newest first
        assert label_of(s, project=P, left_id="f1", right_id="m10").event_id == settled.id
    assert undo(Session, analyst="cy") == settled  # the undone event comes back with its flag
    with Session.begin() as s:
        [undo_event, *_] = events(s, project=P)
        assert undo_event.decision is Decision.UNDO and undo_event.resolution is False
        assert label_of(s, project=P, left_id="f1", right_id="m10").event_id == ben.id
        rows = list(csv.DictReader(io.StringIO(history_csv(s, project=P), newline="")))
    assert [r["resolution"] for r in rows] == ["false", "false", "true", "false"]


# --- undo ---------------------------------------------------------------------------------------


def test_undo_restores_previous_decision_for_that_pair(Session):
    first = decide(Session, "f1", "m10", Decision.ACCEPT)
    second = decide(Session, "f1", "m10", Decision.REJECT)
    undone = undo(Session)
    assert undone == second
    with Session.begin() as s:
        label = label_of(s, project=P, left_id="f1", right_id="m10")
    assert label.decision is Decision.ACCEPT and label.event_id == first.id


def test_undo_appends_an_event_and_deletes_nothing(Session):
    target = decide(Session, "f1", "m10", Decision.ACCEPT, model_version="v3")
    undo(Session)
    assert row_count(Session) == 2
    with Session.begin() as s:
        newest, oldest = events(s, project=P)
    assert oldest == target
    assert newest.decision is Decision.UNDO and newest.undoes_id == target.id
    assert (newest.left_id, newest.right_id, newest.type, newest.analyst) == ("f1", "m10", "film", "ana")
    assert newest.id > target.id


def test_repeated_undo_walks_back_across_pairs(Session):
    a = decide(Session, "f1", "m10", Decision.ACCEPT)
    b = decide(Session, "f2", "m11", Decision.REJECT)
    c = decide(Session, "f3", "m12", Decision.SKIP)
    assert [undo(Session).id for _ in range(2)] == [c.id, b.id]
    assert current(Session) == {("f1", "m10"): Decision.ACCEPT}
    assert undo(Session).id == a.id
    assert current(Session) == {}


def test_undo_with_nothing_left_returns_none(Session):
    assert undo(Session) is None  # empty store
    decide(Session, "f1", "m10", Decision.ACCEPT)
    assert undo(Session) is not None
    assert undo(Session) is None
    assert row_count(Session) == 2  # the None call wrote nothing


def test_undo_by_one_analyst_leaves_others_events(Session):
    ana = decide(Session, "f1", "m10", Decision.ACCEPT, analyst="ana")
    ben = decide(Session, "f2", "m11", Decision.REJECT, analyst="ben")
    assert undo(Session, analyst="ana") == ana
    assert undo(Session, analyst="ana") is None
    assert current(Session) == {("f2", "m11"): Decision.REJECT}
    assert undo(Session, analyst="ben") == ben


def test_undo_of_a_superseded_event_keeps_the_newer_label(Session):
    decide(Session, "f1", "m10", Decision.ACCEPT, analyst="ana")
    decide(Session, "f1", "m10", Decision.REJECT, analyst="ben")
    undo(Session, analyst="ana")
    assert current(Session) == {("f1", "m10"): Decision.REJECT}


# --- validation and rollback --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"decision": "maybe"}, "unknown decision 'maybe'"),
        ({"decision": Decision.UNDO}, "use undo_last"),
        ({"analyst": "   "}, "analyst must be a non-empty string"),
        ({"analyst": ""}, "analyst must be a non-empty string"),
        ({"analyst": "\x00ana"}, "analyst must not contain a NUL"),
        ({"left_id": ""}, "left_id must be"),
        ({"right_id": " "}, "right_id must be"),
        ({"type": ""}, "type must be"),
        ({"project": ""}, "project must be"),
        ({"score": float("nan")}, "score must be a finite number"),
        ({"resolution": 1}, "resolution must be True or False"),
        ({"resolution": "yes"}, "resolution must be True or False"),
    ],
)
def test_invalid_input_raises_and_writes_nothing(Session, changes, match):
    kwargs = dict(project=P, left_id="f1", right_id="m10", type="film", decision="accept", analyst="ana")
    kwargs.update(changes)
    with pytest.raises(ValueError, match=match):
        with Session.begin() as s:
            record_decision(s, **kwargs)
    assert row_count(Session) == 0


def test_failed_action_rolls_back_whole(Session):
    with pytest.raises(ValueError):
        with Session.begin() as s:
            record_decision(s, project=P, left_id="f1", right_id="m10", type="film", decision="accept", analyst="ana")
            record_decision(s, project=P, left_id="f2", right_id="m11", type="film", decision="nope", analyst="ana")
    assert row_count(Session) == 0


def test_database_itself_guards_the_log(Session):
    """Writes that bypass db.labels still cannot break the log's invariants."""
    target = decide(Session, "f1", "m10", Decision.ACCEPT)
    now = datetime.now(timezone.utc)
    base = dict(project=P, left_id="f1", right_id="m10", type="film", analyst="ana", created_at=now)
    bad_rows = [
        LabelEventRow(**base, decision="undo", undoes_id=99999),  # foreign key: no such event
        LabelEventRow(**base, decision="maybe"),  # unknown decision
        LabelEventRow(**{**base, "analyst": "  "}, decision="accept"),  # blank analyst
        LabelEventRow(**base, decision="accept", undoes_id=target.id),  # undoes_id on a label
        LabelEventRow(**base, decision="undo"),  # undo without target
    ]
    for row in bad_rows:
        with pytest.raises(IntegrityError):
            with Session.begin() as s:
                s.add(row)
    undo(Session)
    with pytest.raises(IntegrityError):  # the same event cannot be undone twice
        with Session.begin() as s:
            s.add(LabelEventRow(**base, decision="undo", undoes_id=target.id))
    assert row_count(Session) == 2


def test_naive_datetimes_are_refused(Session):
    with pytest.raises(Exception, match="naive datetime"):
        with Session.begin() as s:
            s.add(LabelEventRow(project=P, left_id="f1", right_id="m10", type="film", analyst="ana",
                                decision="accept", created_at=datetime(2024, 1, 1)))
            s.flush()


# --- reading ------------------------------------------------------------------------------------


def test_events_newest_first_with_filters(Session):
    a = decide(Session, "f1", "m10", Decision.ACCEPT, analyst="ana")
    b = decide(Session, "f2", "m11", Decision.REJECT, analyst="ben")
    c = decide(Session, "f3", "m12", Decision.SKIP, analyst="ana")
    with Session.begin() as s:
        assert events(s, project=P) == [c, b, a]
        assert events(s, project=P, analyst="ana") == [c, a]
        assert events(s, project=P, limit=1) == [c]
        assert events(s, project=P, limit=0) == []
        with pytest.raises(ValueError, match="limit"):
            events(s, project=P, limit=-1)


def test_progress_counts_current_labels(Session):
    decide(Session, "f1", "m10", Decision.ACCEPT, analyst="ana")
    decide(Session, "f2", "m11", Decision.ACCEPT, analyst="ana")
    decide(Session, "f3", "m12", Decision.ACCEPT, analyst="ana")
    decide(Session, "f3", "m12", Decision.REJECT, analyst="ana")  # relabelled: counts once, as reject
    decide(Session, "p1", "q10", Decision.ACCEPT, analyst="ben", type="person")
    decide(Session, "p2", "q11", Decision.SKIP, analyst="ben", type="person")
    decide(Session, "p3", "q12", Decision.ACCEPT, analyst="ben", type="person")
    undo(Session, analyst="ben")  # p3 no longer labelled
    with Session.begin() as s:
        rows = progress(s, project=P)
    assert rows == [
        ProgressRow("film", "ana", Decision.ACCEPT, 2),
        ProgressRow("film", "ana", Decision.REJECT, 1),
        ProgressRow("person", "ben", Decision.ACCEPT, 1),
        ProgressRow("person", "ben", Decision.SKIP, 1),
    ]


def test_history_csv_round_trips(Session):
    tricky = 'looks right, but "Matrix" differs\nsecond line; émigré'
    first = decide(Session, "f1", "m10", Decision.ACCEPT, note=tricky, model_version="v3", score=0.125)
    second = decide(Session, "f2", "m11", Decision.REJECT)
    undo(Session)
    with Session.begin() as s:
        text_out = history_csv(s, project=P)
        log = list(reversed(events(s, project=P)))

    reader = csv.DictReader(io.StringIO(text_out, newline=""))
    assert tuple(reader.fieldnames) == HISTORY_COLUMNS
    rows = list(reader)
    assert [int(r["event_id"]) for r in rows] == [e.id for e in log]  # oldest first
    assert rows[0]["note"] == tricky
    assert (rows[0]["model_version"], float(rows[0]["score"]), rows[0]["undoes_id"]) == ("v3", 0.125, "")
    assert datetime.fromisoformat(rows[0]["created_at"]) == first.created_at
    assert rows[0]["created_at"].endswith("+00:00")
    assert (rows[1]["decision"], rows[1]["note"], rows[1]["score"]) == ("reject", "", "")
    assert (rows[2]["decision"], rows[2]["undoes_id"]) == ("undo", str(second.id))
    assert {r["project"] for r in rows} == {P}


def test_projects_are_isolated(Session):
    decide(Session, "f1", "m10", Decision.ACCEPT, project="a")
    decide(Session, "f1", "m10", Decision.REJECT, project="b")
    assert current(Session, project="a") == {("f1", "m10"): Decision.ACCEPT}
    assert current(Session, project="b") == {("f1", "m10"): Decision.REJECT}
    assert current(Session, project="c") == {}
    assert undo(Session, project="b") is not None
    assert current(Session, project="a") == {("f1", "m10"): Decision.ACCEPT}
    assert undo(Session, project="b") is None  # project a's event is not b's to undo
    with Session.begin() as s:
        assert [e.project for e in events(s, project="a")] == ["a"]
        assert "b," not in history_csv(s, project="a")


# --- the pure derivation --------------------------------------------------------------------------


def _event(id, left, right, decision, *, minute, undoes_id=None, project=P):
    return LabelEvent(id=id, project=project, left_id=left, right_id=right, type="film", decision=decision,
                      analyst="ana", created_at=datetime(2024, 5, 1, 12, minute, tzinfo=timezone.utc),
                      model_version=None, score=None, note=None, undoes_id=undoes_id)


def test_derive_current_by_hand():
    log = [
        _event(1, "f1", "m10", Decision.ACCEPT, minute=0),
        _event(2, "f2", "m11", Decision.ACCEPT, minute=1),
        _event(3, "f1", "m10", Decision.REJECT, minute=2),
        _event(4, "f1", "m10", Decision.UNDO, minute=3, undoes_id=3),  # f1 back to accept
        _event(5, "f3", "m12", Decision.SKIP, minute=4),
        _event(6, "f3", "m12", Decision.UNDO, minute=5, undoes_id=5),  # f3 has no label left
        _event(7, "f2", "m11", Decision.REJECT, minute=6),
        _event(8, "f1", "m10", Decision.ACCEPT, minute=7, project="other"),  # other project, own key
    ]
    got = [(lab.project, lab.left_id, lab.decision, lab.event_id) for lab in derive_current(log)]
    assert got == [(P, "f1", Decision.ACCEPT, 1), (P, "f2", Decision.REJECT, 7), ("other", "f1", Decision.ACCEPT, 8)]
    assert derive_current(reversed(log)) == derive_current(log)  # input order does not matter
    assert derive_current([]) == []


def test_derive_current_orders_by_decided_at_then_id():
    log = [_event(5, "f1", "m10", Decision.ACCEPT, minute=9), _event(2, "f2", "m11", Decision.ACCEPT, minute=9),
           _event(9, "f3", "m12", Decision.ACCEPT, minute=1)]
    assert [lab.event_id for lab in derive_current(log)] == [9, 2, 5]


def test_dataclasses_validate_decision():
    with pytest.raises(ValueError, match="unknown decision"):
        _event(1, "f1", "m10", "maybe", minute=0)
    with pytest.raises(ValueError, match="undoes_id"):
        _event(1, "f1", "m10", Decision.UNDO, minute=0)
    with pytest.raises(ValueError, match="resolution must be True or False"):
        LabelEvent(1, P, "f1", "m10", "film", Decision.ACCEPT, "ana", datetime.now(timezone.utc),
                   None, None, None, None, resolution=None)
    with pytest.raises(ValueError, match="cannot be 'undo'"):
        PairLabel(P, "f1", "m10", "film", Decision.UNDO, "ana", datetime.now(timezone.utc), None, None, 1)
    assert _event(1, "f1", "m10", "skip", minute=0).decision is Decision.SKIP


# --- restart and concurrency, on both backends ------------------------------------------------------


def test_labels_survive_restart(store):
    engine = make_engine(store.url)
    Session = make_sessionmaker(engine)
    decide(Session, "f1", "m10", Decision.ACCEPT)
    second = decide(Session, "f2", "m11", Decision.REJECT, note="n")
    decide(Session, "f3", "m12", Decision.SKIP)
    undo(Session)
    with Session.begin() as s:
        before = current_labels(s, project=P)
    engine.dispose()

    engine = make_engine(store.url)  # a new app process opening the same store
    try:
        Session = make_sessionmaker(engine)
        with Session.begin() as s:
            assert current_labels(s, project=P) == before
        assert [lab.decision for lab in before] == [Decision.ACCEPT, Decision.REJECT]
        assert before[1].decided_at == second.created_at and before[1].decided_at.tzinfo is not None
        assert undo(Session) == second  # the undo history survived too
    finally:
        engine.dispose()


@pytest.mark.parametrize("engines", ["shared engine", "engine per writer"])
def test_concurrent_writers_all_land(store, engines):
    """Two analysts (threads, own sessions) each read-then-write 50 times into one store."""
    shared = make_engine(store.url)
    made = [shared] if engines == "shared engine" else [make_engine(store.url), make_engine(store.url)]
    factories = [make_sessionmaker(made[i % len(made)]) for i in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def analyst(name: str, Session) -> None:
        try:
            start.wait()
            for i in range(50):
                with Session.begin() as s:
                    # read first, then write: the pattern a deferred BEGIN turns into "database is locked"
                    label_of(s, project=P, left_id=f"{name}-{i}", right_id="r")
                    record_decision(s, project=P, left_id=f"{name}-{i}", right_id="r", type="film",
                                    decision=Decision.ACCEPT, analyst=name)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=analyst, args=(name, f)) for name, f in zip(("ana", "ben"), factories)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        with make_sessionmaker(shared).begin() as s:
            labels = current_labels(s, project=P)
            assert len(events(s, project=P)) == 100
        assert Counter(lab.analyst for lab in labels) == {"ana": 50, "ben": 50}
    finally:
        for eng in {*made, shared}:
            eng.dispose()


def test_racing_undos_of_one_analyst_undo_different_events(store):
    """Two tabs (two app servers) of one analyst press undo at the same moment, ten times.

    Every undo must succeed and undo a different event, as if they had come one after the
    other. SQLite gets this from BEGIN IMMEDIATE; on PostgreSQL under READ COMMITTED both
    would pick the same latest event and the second would fail on the unique ``undoes_id``,
    unless ``undo_last`` takes the per-analyst lock (``db.session.lock_analyst``).
    """
    engines = [make_engine(store.url), make_engine(store.url)]
    factories = [make_sessionmaker(e) for e in engines]
    decided = [decide(factories[0], f"f{i}", "m10", Decision.ACCEPT) for i in range(20)]
    decide(factories[0], "f0", "m10", Decision.REJECT, analyst="ben")  # another analyst: never undone
    together = threading.Barrier(2)
    undone: list[LabelEvent | None] = []
    errors: list[BaseException] = []

    def tab(Session) -> None:
        try:
            for _ in range(10):
                together.wait(timeout=60)
                with Session.begin() as s:
                    undone.append(undo_last(s, project=P, analyst="ana"))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            together.abort()

    threads = [threading.Thread(target=tab, args=(f,), daemon=True) for f in factories]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert sorted(e.id for e in undone) == sorted(e.id for e in decided)
        assert current(factories[0]) == {("f0", "m10"): Decision.REJECT}
        assert undo(factories[1]) is None
    finally:
        for eng in engines:
            eng.dispose()


# --- SQLite settings: files, pragmas, locking --------------------------------------------------------


def test_default_url_is_absolute_labels_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = default_url("rel dir")
    assert url == "sqlite:///" + str(tmp_path / "rel dir" / "labels.sqlite")
    (tmp_path / "rel dir").mkdir()
    engine = make_engine(url)
    try:
        assert (tmp_path / "rel dir" / "labels.sqlite").is_file()
    finally:
        engine.dispose()


def test_sqlite_pragmas_in_effect_on_every_connection(sqlite_engine):
    for _ in range(2):  # a second, fresh connection gets them too
        with sqlite_engine.connect() as conn:
            conn.invalidate()  # force a new DBAPI connection next round
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_transactions_take_the_write_lock_at_begin(sqlite_engine, project_dir):
    """BEGIN IMMEDIATE: an open session holds the write lock even before it writes."""
    Session = make_sessionmaker(sqlite_engine)
    other = sqlite3.connect(project_dir / "labels.sqlite", timeout=0, isolation_level=None)
    try:
        with Session.begin() as s:
            s.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the session committed
        other.execute("ROLLBACK")
    finally:
        other.close()


# --- PostgreSQL settings: isolation, reconnects ------------------------------------------------------


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_postgresql_isolation_is_read_committed_whatever_the_server_default(store):
    """The undo lock relies on READ COMMITTED; a server default of SERIALIZABLE must not win."""
    url = make_url(store.url)
    options = url.query["options"] + " -cdefault_transaction_isolation=serializable"
    server_says_serializable = url.update_query_dict({"options": options})
    raw = create_engine(server_says_serializable)
    engine = make_engine(server_says_serializable)
    try:
        with raw.connect() as conn:
            assert conn.execute(text("SHOW transaction_isolation")).scalar() == "serializable"
        with make_sessionmaker(engine).begin() as s:
            assert s.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
    finally:
        raw.dispose()
        engine.dispose()


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_postgresql_pool_survives_dropped_connections(store, postgres_server):
    """After the server drops the pooled connection (restart, idle timeout), the next action works.

    ``pool_pre_ping`` is what makes it work: the same steps with it turned off fail.
    """

    def drop_pooled_connection(engine) -> None:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with postgres_server.connect() as admin:  # the timeout (PostgreSQL >= 14) waits until it is gone
            assert admin.execute(text("SELECT pg_terminate_backend(:pid, 20000)"), {"pid": pid}).scalar()

    engine = make_engine(store.url)
    unpinged = make_engine(store.url, pool_pre_ping=False)
    try:
        Session, Unpinged = make_sessionmaker(engine), make_sessionmaker(unpinged)
        decide(Session, "f1", "m10", Decision.ACCEPT)
        decide(Unpinged, "f2", "m11", Decision.ACCEPT)
        drop_pooled_connection(engine)
        drop_pooled_connection(unpinged)
        assert decide(Session, "f3", "m12", Decision.REJECT).decision is Decision.REJECT
        with pytest.raises(OperationalError):
            decide(Unpinged, "f4", "m13", Decision.REJECT)
        assert set(current(Session)) == {("f1", "m10"), ("f2", "m11"), ("f3", "m12")}
    finally:
        engine.dispose()
        unpinged.dispose()


# --- other backends and layering -------------------------------------------------------------------


def test_schema_compiles_for_postgresql():
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    ddl = str(CreateTable(LabelEventRow.__table__).compile(dialect=postgresql.dialect()))
    assert "created_at TIMESTAMP WITH TIME ZONE NOT NULL" in ddl
    assert "FOREIGN KEY(undoes_id) REFERENCES label_events (id)" in ddl


def test_import_db_stays_light():
    code = "import sys, db; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    loaded = set(out.stdout.split())
    assert "sqlalchemy" in loaded
    assert loaded.isdisjoint({"torch", "dgl", "streamlit", "pandas", "numpy", "core", "pages"})
