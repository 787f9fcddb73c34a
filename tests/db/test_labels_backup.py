"""Backing up and restoring the label log (``db.backup``, ``mualign labels export|import``).

What must hold: every event comes back exactly (time to the microsecond, undo targets, every
field); importing a file twice adds nothing; a bad file, whatever is wrong with it, is refused
with ``path:line: problem`` and leaves the store exactly as it was. The stores are SQLite files
in temp dirs, as in ``test_db_labels.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from db import Decision, LabelEventRow, default_url, events, make_engine, make_sessionmaker, record_decision, undo_last
from db.backup import (
    FORMAT,
    MAX_LINE_BYTES,
    BackupEvent,
    LabelFileError,
    UnknownEntity,
    export_labels,
    format_label_lines,
    import_labels,
    read_label_file,
    unknown_entities,
)
from tests.conftest import REPO, write_tiny_project

P = "films"


# --------------------------------------------------------------------------------- helpers ---
class Store:
    """One labels store (a directory's ``labels.sqlite``, or a URL) with the few operations the tests need."""

    def __init__(self, where: Path | str):
        if isinstance(where, Path):
            where.mkdir(parents=True, exist_ok=True)
            where = default_url(where)
        self.engine = make_engine(where)
        self.Session = make_sessionmaker(self.engine)

    def decide(self, left, right, decision, analyst="ana", *, project=P, type="film", **extra):
        with self.Session.begin() as s:
            return record_decision(s, project=project, left_id=left, right_id=right, type=type,
                                   decision=decision, analyst=analyst, **extra)

    def undo(self, analyst="ana", project=P):
        with self.Session.begin() as s:
            return undo_last(s, project=project, analyst=analyst)

    def export(self, path: Path, project=P) -> bytes:
        with self.Session.begin() as s:
            export_labels(s, path, project=project)
        return path.read_bytes()

    def import_(self, source, project=P, **ids):
        with self.Session.begin() as s:
            return import_labels(s, source, project=project, **ids)

    def log(self, project=P):
        with self.Session.begin() as s:
            return list(reversed(events(s, project=project)))

    def snapshot(self) -> list[tuple]:
        """Every row of every project, as the database holds it."""
        with self.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text("SELECT * FROM label_events ORDER BY id"))]

    def dispose(self) -> None:
        self.engine.dispose()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store")
    yield s
    s.engine.dispose()


@pytest.fixture
def other(tmp_path):
    s = Store(tmp_path / "other")
    yield s
    s.engine.dispose()


def fill(store: Store) -> None:
    """A log with every kind of event and field: three analysts, relabels, undos, notes, scores."""
    store.decide("f1", "m10", Decision.ACCEPT, model_version="v3", score=0.92,
                 note='looks right, but "Matrix" differs\nsecond line; émigré \u2028 tab\t', resolution=False)
    store.decide("f2", "m11", Decision.REJECT, analyst="ben", score=-1e-300)
    store.decide("f1", "m10", Decision.REJECT, analyst="ben", note="")
    store.undo(analyst="ben")
    store.decide("f3", "m12", Decision.SKIP, analyst="cy", model_version="")
    store.decide("f1", "m10", Decision.ACCEPT, analyst="cy", resolution=True, note="settled")
    store.undo(analyst="ana")
    store.decide("p1", "q10", Decision.ACCEPT, type="person", score=1.0)


def content(log) -> list[tuple]:
    """Events without store ids: an undo names the position of the event it undoes."""
    position = {e.id: n for n, e in enumerate(log)}
    return [(e.created_at, e.left_id, e.right_id, e.type, e.decision, e.analyst, e.model_version, e.score,
             e.note, e.resolution, None if e.undoes_id is None else position[e.undoes_id]) for e in log]


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, values: list[dict]) -> Path:
    path.write_bytes(b"".join(json.dumps(v, ensure_ascii=False).encode() + b"\n" for v in values))
    return path


# ------------------------------------------------------------------------- round trips ---
def test_export_import_round_trips_every_field(store, other, tmp_path):
    fill(store)
    first = store.export(tmp_path / "a.jsonl")
    report = other.import_(tmp_path / "a.jsonl")
    assert (report.events_in_file, report.added, report.already_present) == (8, 8, 0)
    assert content(other.log()) == content(store.log())
    assert other.export(tmp_path / "b.jsonl") == first  # byte for byte
    source, restored = store.log(), other.log()
    assert [e.created_at.microsecond for e in restored] == [e.created_at.microsecond for e in source]
    assert restored[5].resolution is True and restored[1].score == -1e-300
    undo_of_ana = restored[6]
    assert undo_of_ana.decision is Decision.UNDO and undo_of_ana.undoes_id == restored[0].id


def test_file_format_is_self_describing_json_lines(store, tmp_path):
    fill(store)
    store.export(tmp_path / "a.jsonl")
    raw = (tmp_path / "a.jsonl").read_bytes()
    assert raw.endswith(b"\n") and "émigré".encode() in raw  # UTF-8, not \u escapes
    assert b"\\u2028" in raw and "\u2028".encode() not in raw  # str.splitlines would split there
    assert len(raw.decode().splitlines()) == 9
    header, *rows = lines_of(tmp_path / "a.jsonl")
    assert header == {"format": FORMAT, "version": 1, "project": P, "events": 8}
    assert [r["seq"] for r in rows] == list(range(1, 9))
    assert list(rows[0]) == ["seq", "created_at", "left_id", "right_id", "type", "decision", "analyst",
                             "model_version", "score", "note", "undoes", "resolution"]
    assert rows[3]["decision"] == "undo" and rows[3]["undoes"] == 3
    assert rows[6]["undoes"] == 1 and rows[5]["resolution"] is True
    assert rows[0]["created_at"].endswith("+00:00") and len(rows[0]["created_at"]) == 32  # microseconds


def test_importing_twice_adds_nothing(store, other, tmp_path):
    fill(store)
    store.export(tmp_path / "a.jsonl")
    other.import_(tmp_path / "a.jsonl")
    before = other.snapshot()
    report = other.import_(tmp_path / "a.jsonl")
    assert (report.added, report.already_present) == (0, 8)
    assert other.snapshot() == before


def test_import_merges_only_the_missing_events(store, other, tmp_path):
    fill(store)
    store.export(tmp_path / "old.jsonl")
    other.import_(tmp_path / "old.jsonl")
    store.decide("f2", "m11", Decision.ACCEPT, analyst="dee")
    store.undo(analyst="cy")  # undoes an event the other store already has
    store.export(tmp_path / "new.jsonl")
    report = other.import_(tmp_path / "new.jsonl")
    assert (report.added, report.already_present) == (2, 8)
    assert content(other.log()) == content(store.log())


def test_equal_events_are_told_apart_by_order(store, other, tmp_path):
    """Two events with identical content (same microsecond) are both kept, and matched one to one."""
    same = dict(project=P, left_id="f1", right_id="m10", type="film", decision="accept", analyst="ana",
                created_at=datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc))
    with store.Session.begin() as s:
        s.add_all([LabelEventRow(**same), LabelEventRow(**same)])
    store.export(tmp_path / "a.jsonl")
    assert other.import_(tmp_path / "a.jsonl").added == 2
    assert other.import_(tmp_path / "a.jsonl").added == 0
    with other.Session.begin() as s:
        s.add(LabelEventRow(**same))  # a third one: a file with two still adds none
    assert other.import_(tmp_path / "a.jsonl").added == 0


def test_import_goes_to_the_target_project_only(store, other, tmp_path):
    fill(store)
    other.decide("f1", "m10", Decision.REJECT, project="elsewhere")
    store.export(tmp_path / "a.jsonl")
    report = other.import_(tmp_path / "a.jsonl", project="renamed")
    assert (report.source_project, report.project, report.added) == (P, "renamed", 8)
    assert content(other.log(project="renamed")) == content(store.log())
    assert [e.decision for e in other.log(project="elsewhere")] == [Decision.REJECT]


def test_empty_project_exports_a_header_only(store, other, tmp_path):
    assert store.export(tmp_path / "a.jsonl") == b'{"format": "mualign-labels", "version": 1, "project": "films", "events": 0}\n'
    assert other.import_(tmp_path / "a.jsonl").added == 0


def test_export_replaces_the_file_only_once_written(store, tmp_path, monkeypatch):
    fill(store)
    target = tmp_path / "a.jsonl"
    target.write_text("the previous backup\n")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("db.backup.os.fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        store.export(target)
    assert target.read_text() == "the previous backup\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "store"]  # no .part left behind


# ------------------------------------------------------------------------ refused files ---
def _valid(store: Store, tmp_path: Path) -> list[dict]:
    fill(store)
    store.export(tmp_path / "valid.jsonl")
    return lines_of(tmp_path / "valid.jsonl")


def _edit_field(index, field, value):
    def edit(lines):
        lines[index] = {**lines[index], field: value}
        return lines
    return edit


def _drop_field(index, field):
    def edit(lines):
        lines[index] = {k: v for k, v in lines[index].items() if k != field}
        return lines
    return edit


# (what is wrong, how to make the file from the valid lines, the line the error names, its message)
BAD_FILES = [
    ("missing field", _drop_field(2, "analyst"), 3, "missing field(s) 'analyst'"),
    ("unknown field", _edit_field(1, "analist", "ana"), 2, "unknown field(s) 'analist'"),
    ("bad decision", _edit_field(2, "decision", "maybe"), 3, "unknown decision 'maybe'"),
    ("decision not text", _edit_field(2, "decision", 1), 3, "unknown decision 1"),
    ("undo pointing nowhere", _edit_field(4, "undoes", 99), 5, "undo points at event 99, which is not an earlier event"),
    ("undo pointing forward", _edit_field(4, "undoes", 6), 5, "undo points at event 6, which is not an earlier event"),
    ("undo of an undo", lambda ls: ls[:8] + [{**ls[7], "seq": 8, "undoes": 4, "left_id": "f1", "right_id": "m10"}]
     + [{**ls[8], "seq": 9}], 9, "which is itself an undo"),
    ("undo without target", _edit_field(4, "undoes", None), 5, "an undo must name the event it undoes"),
    ("undo for another pair", _edit_field(4, "left_id", "f2"), 5, "undo is for pair ('f2', 'm10') but event 3"),
    ("target on a label", _edit_field(1, "undoes", 1), 2, "\"undoes\" must be null on accept events"),
    ("undone twice", lambda ls: ls[:8] + [{**ls[4], "seq": 8}, {**ls[8], "seq": 9}], 9,
     "event 3 is undone twice (also by line 5)"),
    ("lines swapped", lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], 2, "expected 1, got 2"),
    ("line repeated", lambda ls: [*ls[:3], ls[2], *ls[3:]], 4, "expected 3, got 2"),
    ("naive time", _edit_field(1, "created_at", "2024-05-01T12:00:00"), 2, "\"created_at\" has no time zone"),
    ("not a time", _edit_field(1, "created_at", "yesterday"), 2, "\"created_at\" is not an ISO-8601 time"),
    ("blank analyst", _edit_field(1, "analyst", "  "), 2, "\"analyst\" must be a non-empty string"),
    ("id not text", _edit_field(1, "left_id", 17), 2, "\"left_id\" must be a non-empty string, got 17"),
    ("note not text", _edit_field(1, "note", ["a"]), 2, "\"note\" must be a string or null"),
    ("score text", _edit_field(1, "score", "0.5"), 2, "\"score\" must be a number or null, got '0.5'"),
    ("score bool", _edit_field(1, "score", True), 2, "\"score\" must be a number or null, got True"),
    ("score overflows", _edit_field(1, "score", 10 ** 400), 2, "\"score\" must be a finite number"),
    ("resolution text", _edit_field(1, "resolution", "yes"), 2, "\"resolution\" must be true or false"),
    ("event not object", lambda ls: [ls[0], [1, 2], *ls[2:]], 2, "expected a JSON object (an event), got [1, 2]"),
    ("newer version", _edit_field(0, "version", 2), 1, "labels format version 2; this mualign reads version 1"),
    ("other format", _edit_field(0, "format", "deepmatcher"), 1, "not a mualign labels file"),
    ("count too high", _edit_field(0, "events", 9), None, "the header announces 9 events but the file has 8"),
    ("blank project", _edit_field(0, "project", ""), 1, "\"project\" must be a non-empty string"),
    ("NUL analyst", _edit_field(1, "analyst", "\x00"), 2, "\"analyst\" holds a NUL character"),
]


@pytest.mark.parametrize(("what", "edit", "line", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_events_are_refused_and_store_untouched(store, other, tmp_path, what, edit, line, message):
    path = write_lines(tmp_path / "bad.jsonl", edit(_valid(store, tmp_path)))
    other.decide("f9", "m99", Decision.ACCEPT)
    before = other.snapshot()
    with pytest.raises(LabelFileError) as caught:
        other.import_(path)
    where = f"{path}:{line}: " if line else f"{path}: "
    assert any(str(p).startswith(where) and message in str(p) for p in caught.value.problems), str(caught.value)
    assert str(caught.value).startswith(f"{len(caught.value.problems)} problem")
    assert other.snapshot() == before


# Cases that need bytes a JSON writer would not produce.
RAW_FILES = [
    ("truncated mid-line", lambda raw: raw[:-40], 9, "no newline at the end of the last line: the file looks truncated"),
    ("truncated at a line end", lambda raw: raw[: raw.rindex(b"\n", 0, -1) + 1], None,
     "the header announces 8 events but the file has 7"),
    ("empty file", lambda raw: b"", None, "empty file: not a mualign labels file"),
    ("binary", lambda raw: bytes(range(255, -1, -1)) * 4, 1, "not UTF-8 text (byte 0xff at column 1)"),
    ("gzip", lambda raw: b"\x1f\x8b\x08\x00" + raw, 1, "not UTF-8 text (byte 0x8b at column 2)"),
    ("UTF-16", lambda raw: raw.decode().encode("utf-16"), 1, "not UTF-8 text (byte 0xff at column 1)"),
    ("Latin-1 note", lambda raw: raw.decode().encode("latin-1", errors="replace"), 2, "not UTF-8 text (byte 0xe9"),
    ("CSV history", lambda raw: b"event_id,created_at,project\n1,2024,films\n", 1, "not JSON: Expecting value"),
    ("blank line", lambda raw: raw.replace(b"\n", b"\n\n", 2).replace(b"\n\n", b"\n", 1), 3,
     "empty line: every line must be one JSON object"),
    ("huge line", lambda raw: raw.replace(b'"note": "settled"', b'"note": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"'),
     7, f"line longer than {MAX_LINE_BYTES:,} bytes"),
    ("NaN score", lambda raw: raw.replace(b'"score": 1.0', b'"score": NaN'), 9, "NaN is not a number JSON allows"),
    ("repeated key", lambda raw: raw.replace(b'"note": "settled"', b'"note": "settled", "note": "x"'), 7,
     "field 'note' appears twice"),
    ("lone surrogate", lambda raw: raw.replace(b'"note": "settled"', b'"note": "\\ud800"'), 7,
     "unpaired surrogate"),
    ("not JSON", lambda raw: raw.replace(b'"note": "settled"', b'"note": settled'), 7, "not JSON: Expecting value"),
]


@pytest.mark.parametrize(("what", "make", "line", "message"), RAW_FILES, ids=[c[0] for c in RAW_FILES])
def test_unreadable_files_are_refused_and_store_untouched(store, other, tmp_path, what, make, line, message):
    fill(store)
    raw = store.export(tmp_path / "valid.jsonl")
    path = tmp_path / "bad.jsonl"
    path.write_bytes(make(raw))
    other.decide("f9", "m99", Decision.ACCEPT)
    before = other.snapshot()
    with pytest.raises(LabelFileError) as caught:
        other.import_(path)
    where = f"{path}:{line}: " if line else f"{path}: "
    assert any(str(p).startswith(where) and message in str(p) for p in caught.value.problems), str(caught.value)
    assert other.snapshot() == before


def test_every_bad_line_is_listed_at_once(store, other, tmp_path):
    lines = _valid(store, tmp_path)
    lines[2]["decision"] = "maybe"
    lines[5]["analyst"] = ""
    lines[7]["created_at"] = "noon"
    path = write_lines(tmp_path / "bad.jsonl", lines)
    with pytest.raises(LabelFileError) as caught:
        other.import_(path)
    assert [p.line for p in caught.value.problems] == [3, 6, 8]
    assert other.snapshot() == []


def test_missing_file_and_directory_are_clear(tmp_path):
    with pytest.raises(LabelFileError, match=r"nope\.jsonl: cannot be read: No such file"):
        read_label_file(tmp_path / "nope.jsonl")
    with pytest.raises(LabelFileError, match="is a directory"):
        read_label_file(tmp_path)


def test_byte_order_mark_is_accepted(store, other, tmp_path):
    fill(store)
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + store.export(tmp_path / "a.jsonl"))
    assert other.import_(path).added == 8


def test_undo_conflicting_with_the_store_is_refused(store, other, tmp_path):
    fill(store)
    store.export(tmp_path / "a.jsonl")
    lines = lines_of(tmp_path / "a.jsonl")
    other.import_(write_lines(tmp_path / "first.jsonl", [{**lines[0], "events": 3}, *lines[1:4]]))
    other.undo(analyst="ana")  # undoes event 1 here, at another time than the file's undo (line 8)
    before = other.snapshot()
    with pytest.raises(LabelFileError, match=r"a\.jsonl:8: the store already undid event 1 differently"):
        other.import_(tmp_path / "a.jsonl")
    assert other.snapshot() == before


def test_a_failure_mid_insert_rolls_back_every_batch(store, other, tmp_path, monkeypatch):
    """25 events are inserted in three batches of 10; a failure in the third leaves nothing behind."""
    import db.backup

    monkeypatch.setattr(db.backup, "INSERT_BATCH", 10)
    with store.Session.begin() as s:
        for i in range(25):
            record_decision(s, project=P, left_id=f"l{i}", right_id="r", type="film", decision="accept", analyst="ana")
    store.export(tmp_path / "a.jsonl")
    other.decide("f9", "m99", Decision.ACCEPT)
    before = other.snapshot()
    real = db.backup._row_values
    seen = []

    def fail_late(project, event, ids):
        seen.append(event.seq)
        if event.seq == 22:
            raise RuntimeError("the disk went away")
        return real(project, event, ids)

    monkeypatch.setattr(db.backup, "_row_values", fail_late)
    with pytest.raises(RuntimeError, match="disk went away"):
        other.import_(tmp_path / "a.jsonl")
    assert seen == list(range(1, 23))  # two batches were inserted before the failure
    assert other.snapshot() == before
    monkeypatch.setattr(db.backup, "_row_values", real)
    assert other.import_(tmp_path / "a.jsonl").added == 25


# ---------------------------------------------------------------------------- entity ids ---
def test_unknown_entities_by_hand():
    at = datetime(2024, 1, 1, tzinfo=timezone.utc)
    log = [BackupEvent(1, at, "f1", "m10", "film", Decision.ACCEPT, "ana", None, None, None, None, line=2),
           BackupEvent(2, at, "f7", "m10", "film", Decision.ACCEPT, "ana", None, None, None, None, line=3),
           BackupEvent(3, at, "f8", "m70", "film", Decision.REJECT, "ana", None, None, None, None, line=4)]
    assert unknown_entities(log, left_ids={"f1"}, right_ids={"m10"}) == [
        UnknownEntity(3, "left", "f7"), UnknownEntity(4, "left", "f8"), UnknownEntity(4, "right", "m70")]
    assert unknown_entities(log, left_ids={"f1", "f7", "f8"}, right_ids={"m10", "m70"}) == []


def test_unknown_entity_ids_refuse_the_import_with_every_offender(store, other, tmp_path):
    fill(store)
    store.decide("f404", "m10", Decision.ACCEPT)
    store.export(tmp_path / "a.jsonl")
    before = other.snapshot()
    with pytest.raises(LabelFileError) as caught:
        other.import_(tmp_path / "a.jsonl", left_ids={"f1", "f2", "f3", "p1"}, right_ids={"m10", "m11", "q10"})
    assert [str(p).split(": ", 1)[1] for p in caught.value.problems] == [
        "right entity id 'm12' is not in the project's right graph",
        "left entity id 'f404' is not in the project's left graph",
    ]
    assert [p.line for p in caught.value.problems] == [6, 10]
    assert other.snapshot() == before
    with pytest.raises(ValueError, match="both"):
        other.import_(tmp_path / "a.jsonl", left_ids={"f1"})


# -------------------------------------------------------------------------------- the CLI ---
@pytest.fixture
def tiny_with_labels(tmp_path):
    project = write_tiny_project(tmp_path / "tiny")
    s = Store(project)
    s.decide("f1", "m10", Decision.ACCEPT, project="tiny", score=0.5)
    s.decide("p2", "q11", Decision.REJECT, analyst="ben", project="tiny", type="person")
    s.undo(analyst="ben", project="tiny")
    s.engine.dispose()
    return project


def test_cli_export_then_import_into_another_store(tiny_with_labels, tmp_path, capsys):
    from cli.main import main

    backup = tmp_path / "labels.jsonl"
    assert main(["labels", "export", "--project", str(tiny_with_labels), str(backup)]) == 0
    assert "exported 3 label events of project 'tiny'" in capsys.readouterr().out
    team = f"sqlite:///{tmp_path / 'team.sqlite'}"
    args = ["labels", "import", "--project", str(tiny_with_labels), "--db", team, str(backup)]
    assert main(args) == 0
    assert "3 events in the file, 3 added, 0 already present" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 added, 3 already present" in capsys.readouterr().out
    again = tmp_path / "again.jsonl"
    assert main(["labels", "export", "--project", str(tiny_with_labels), "--db", team, str(again)]) == 0
    assert again.read_bytes() == backup.read_bytes()


def test_cli_refuses_a_bad_file_with_exit_2(tiny_with_labels, tmp_path, capsys):
    from cli.main import main

    backup = tmp_path / "labels.jsonl"
    main(["labels", "export", "--project", str(tiny_with_labels), str(backup)])
    lines = lines_of(backup)
    lines[1]["left_id"], lines[2]["right_id"], lines[3]["right_id"] = "f99", "q99", "q99"  # [3] undoes [2]
    write_lines(backup, lines)
    store = Store(tiny_with_labels)
    before = store.snapshot()
    capsys.readouterr()
    assert main(["labels", "import", "--project", str(tiny_with_labels), str(backup)]) == 2
    err = capsys.readouterr().err
    assert f"{backup}:2: left entity id 'f99' is not in the project's left graph" in err
    assert f"{backup}:3: right entity id 'q99' is not in the project's right graph" in err
    backup.write_bytes(b"\x00\x01garbage")
    assert main(["labels", "import", "--project", str(tiny_with_labels), str(backup)]) == 2
    assert f"{backup}:1: no newline at the end" in capsys.readouterr().err
    assert store.snapshot() == before
    store.engine.dispose()
    assert main(["labels", "export", "--project", str(tmp_path / "nowhere"), str(backup)]) == 2
    assert "no project directory" in capsys.readouterr().err


def test_backup_module_stays_free_of_torch_and_pandas():
    code = "import sys, db.backup; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert set(out.stdout.split()).isdisjoint({"torch", "dgl", "pandas", "numpy", "core", "streamlit"})


# -------------------------------------------------------------------- property tests ---
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # no lone surrogates: not text
NON_BLANK = TEXT.filter(lambda s: s.strip() != "" and "\x00" not in s)  # the store refuses NUL in ids and names
ANALYSTS = st.sampled_from(["ana", "ben", "cy"]) | NON_BLANK
TIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc))
SCORES = st.none() | st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def logs(draw, max_events: int = 12) -> list[BackupEvent]:
    """A valid log: labels on a few pairs (so pairs repeat), undos of not yet undone labels."""
    out: list[BackupEvent] = []
    undone: set[int] = set()
    for seq in range(1, draw(st.integers(0, max_events)) + 1):
        open_labels = [e for e in out if e.decision is not Decision.UNDO and e.seq not in undone]
        if open_labels and draw(st.integers(0, 3)) == 0:
            target = draw(st.sampled_from(open_labels))
            undone.add(target.seq)
            out.append(BackupEvent(seq, draw(TIMES), target.left_id, target.right_id, target.type, Decision.UNDO,
                                   target.analyst, None, None, None, target.seq))
            continue
        out.append(BackupEvent(
            seq, draw(TIMES), draw(st.sampled_from(["f1", "f2"]) | NON_BLANK), draw(st.sampled_from(["m10"]) | NON_BLANK),
            draw(st.sampled_from(["film", "person"]) | NON_BLANK), draw(st.sampled_from([Decision.ACCEPT, Decision.REJECT, Decision.SKIP])),
            draw(ANALYSTS), draw(st.none() | TEXT), draw(SCORES), draw(st.none() | TEXT), None,
            resolution=draw(st.booleans())))
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Two stores shared by every example (a fresh project name per example keeps them apart)."""
    directory = tmp_path_factory.mktemp("property")
    made = Store(directory / "a"), Store(directory / "b")
    yield made + (directory, count())
    for s in made:
        s.engine.dispose()


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(log=logs())
def test_store_export_import_export_gives_identical_bytes(stores, log):
    """Events written straight into a store (not through the importer) survive export -> import -> export."""
    source, target, directory, numbers = stores
    project = f"p{next(numbers)}"
    with source.Session.begin() as s:
        ids: dict[int, int] = {}
        for e in log:
            row = LabelEventRow(project=project, left_id=e.left_id, right_id=e.right_id, type=e.type,
                                decision=e.decision.value, analyst=e.analyst, created_at=e.created_at,
                                model_version=e.model_version, score=e.score, note=e.note,
                                undoes_id=None if e.undoes is None else ids[e.undoes], resolution=e.resolution)
            s.add(row)
            s.flush()
            ids[e.seq] = row.id
    first = source.export(directory / f"{project}-1.jsonl", project=project)
    assert target.import_(directory / f"{project}-1.jsonl", project=project).added == len(log)
    assert target.export(directory / f"{project}-2.jsonl", project=project) == first
    assert content(target.log(project)) == content(source.log(project))
    assert target.import_(directory / f"{project}-1.jsonl", project=project).added == 0


@PROPERTY
@given(log=logs())
def test_every_valid_file_round_trips_byte_for_byte(stores, log):
    """File -> empty project -> file: the importer keeps every field of every valid file."""
    _, target, directory, numbers = stores
    project = f"q{next(numbers)}"
    path = directory / f"{project}.jsonl"
    path.write_bytes(b"".join(format_label_lines(project, log)))
    assert read_label_file(path).events == tuple(
        BackupEvent(**{**e.__dict__, "score": None if e.score is None else e.score + 0.0}) for e in log)
    target.import_(path, project=project)
    assert target.export(directory / f"{project}-again.jsonl", project=project) == path.read_bytes()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _fuzz_import(stores, data: bytes) -> None:
    """Import ``data``: either the file is refused with LabelFileError and the store is unchanged,
    or it is accepted whole and a second import adds nothing."""
    _, target, directory, numbers = stores
    path = directory / f"fuzz-{next(numbers)}.jsonl"
    path.write_bytes(data)
    before = target.snapshot()
    try:
        report = target.import_(path, project="fuzz")
    except LabelFileError as exc:
        assert exc.problems and all(str(p).startswith(str(path)) for p in exc.problems)
        assert target.snapshot() == before
        return
    assert len(target.snapshot()) == len(before) + report.added
    assert target.import_(path, project="fuzz").added == 0


@PROPERTY
@given(data=st.binary(max_size=400))
def test_fuzz_arbitrary_bytes(stores, data):
    _fuzz_import(stores, data)


@PROPERTY
@given(lines=st.lists(st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")), max_size=5),
       events=st.integers(0, 5))
def test_fuzz_arbitrary_lines_after_a_valid_header(stores, lines, events):
    header = json.dumps({"format": FORMAT, "version": 1, "project": "x", "events": events})
    data = "\n".join([header, *lines]).encode("utf-8", errors="surrogatepass")
    _fuzz_import(stores, data + b"\n")


@PROPERTY
@given(log=logs(max_events=5), line=st.integers(0, 5), field=st.sampled_from(
    ["format", "version", "project", "events", "seq", "created_at", "left_id", "right_id", "type", "decision",
     "analyst", "model_version", "score", "note", "undoes", "resolution", "extra"]),
    value=JSON_VALUES, action=st.sampled_from(["replace", "delete"]))
def test_fuzz_one_field_of_a_valid_file(stores, log, line, field, value, action):
    lines = [json.loads(raw) for raw in format_label_lines("x", log)]
    assume(line < len(lines))
    if action == "delete":
        lines[line].pop(field, None)
    else:
        lines[line][field] = value
    data = b"".join(json.dumps(v).encode() + b"\n" for v in lines)  # NaN and Infinity included
    _fuzz_import(stores, data)


@PROPERTY
@given(log=logs(max_events=5), cut=st.integers(0, 10_000), insert=st.binary(max_size=8))
def test_fuzz_cut_and_spliced_files(stores, log, cut, insert):
    data = b"".join(format_label_lines("x", log))
    cut = cut % (len(data) + 1)
    _fuzz_import(stores, data[:cut])
    _fuzz_import(stores, data[:cut] + insert + data[cut:])


def test_times_keep_their_microseconds_across_zones(other, tmp_path):
    """A time written with another offset is the same instant, stored and exported in UTC."""
    at = datetime(2024, 5, 1, 14, 0, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    path = write_lines(tmp_path / "a.jsonl", [
        {"format": FORMAT, "version": 1, "project": P, "events": 1},
        {"seq": 1, "created_at": at.isoformat(), "left_id": "f1", "right_id": "m10", "type": "film",
         "decision": "accept", "analyst": "ana", "model_version": None, "score": 1, "note": None, "undoes": None,
         "resolution": False}])
    other.import_(path)
    [event] = other.log()
    assert event.created_at == at and event.created_at.utcoffset() == timedelta(0)
    assert event.created_at.isoformat() == "2024-05-01T12:00:00.000001+00:00" and event.score == 1.0
