"""Backup and restore on each label-store backend (SQLite and PostgreSQL, ``tests/support/db_backends.py``).

``test_labels_backup.py`` covers the format and every refusal on SQLite; this file checks that
what matters holds on a server database too: exact round trips, no duplicates on a second
import, a refused file leaves the store untouched, and text PostgreSQL cannot store (NUL) is
refused by line instead of failing mid-import.
"""

from __future__ import annotations

import json

import pytest

from db import Decision
from db.backup import LabelFileError
from tests.support.db_backends import StoreLocation, postgres_server, store  # noqa: F401 - pytest fixtures
from tests.db.test_labels_backup import Store, content, fill, lines_of, write_lines


@pytest.fixture
def labels(store: StoreLocation):
    opened = Store(store.url)
    yield opened
    opened.dispose()


def test_round_trip_and_second_import(labels, tmp_path):
    fill(labels)
    first = labels.export(tmp_path / "a.jsonl")
    report = labels.import_(tmp_path / "a.jsonl", project="restored")  # an empty project of the same store
    assert (report.added, report.already_present) == (8, 0)
    assert content(labels.log("restored")) == content(labels.log())
    assert labels.export(tmp_path / "b.jsonl", project="restored") == first.replace(b'"films"', b'"restored"', 1)
    before = labels.snapshot()
    assert labels.import_(tmp_path / "a.jsonl", project="restored").added == 0
    assert labels.snapshot() == before


def test_refused_file_leaves_the_store_untouched(labels, tmp_path):
    fill(labels)
    labels.export(tmp_path / "a.jsonl")
    lines = lines_of(tmp_path / "a.jsonl")
    lines[4]["undoes"] = 99
    write_lines(tmp_path / "bad.jsonl", lines)
    labels.decide("f9", "m99", Decision.ACCEPT, project="restored")
    before = labels.snapshot()
    with pytest.raises(LabelFileError, match=r"bad\.jsonl:5: undo points at event 99"):
        labels.import_(tmp_path / "bad.jsonl", project="restored")
    with pytest.raises(LabelFileError, match=r"a\.jsonl:6: right entity id 'm12' is not in the project's right graph"):
        labels.import_(tmp_path / "a.jsonl", project="restored", left_ids={"f1", "f2", "f3", "p1"},
                       right_ids={"m10", "m11", "q10"})
    assert labels.snapshot() == before


def test_nul_in_text(labels, store, tmp_path):
    labels.decide("f1", "m10", Decision.ACCEPT, note="plain")
    labels.export(tmp_path / "a.jsonl")
    lines = lines_of(tmp_path / "a.jsonl")
    lines[1]["note"] = "a\x00b"
    write_lines(tmp_path / "nul.jsonl", lines)
    assert json.dumps("a\x00b") in (tmp_path / "nul.jsonl").read_text()
    if store.backend == "postgresql":
        before = labels.snapshot()
        with pytest.raises(LabelFileError, match=r"nul\.jsonl:2: text holds a NUL character, which PostgreSQL"):
            labels.import_(tmp_path / "nul.jsonl", project="restored")
        assert labels.snapshot() == before
    else:  # SQLite stores it, and it comes back
        labels.import_(tmp_path / "nul.jsonl", project="restored")
        assert [e.note for e in labels.log("restored")] == ["a\x00b"]
