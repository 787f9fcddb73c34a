"""Failures in the browser are plain messages, never Python tracebacks (issue 13 items 3 and 4).

Each case breaks one thing the app depends on (the label store, the disk, the project's files)
and checks with Streamlit's AppTest that the page shows an ``st.error`` that says what is wrong,
that no exception (Streamlit's traceback box) is shown, that no server path other than the file
the analyst named appears, and that labels stored before are kept.
"""

from __future__ import annotations

import errno
import os
import sqlite3.dbapi2
from pathlib import Path

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

import db
from tests.conftest import REPO

SERVER_PATHS = (str(REPO), "site-packages", ".venv", "Traceback", "File \"")


def _app(monkeypatch, project: Path, *, db_url: str | None = None, page: str | None = None) -> AppTest:
    monkeypatch.setenv("MUALIGN_PROJECT", str(project))
    if db_url is None:
        monkeypatch.delenv("MUALIGN_DB", raising=False)
    else:
        monkeypatch.setenv("MUALIGN_DB", db_url)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["analyst"] = "ana"
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def _error(at: AppTest, *fragments: str) -> str:
    """The one error box, checked: no traceback, no server path, and every fragment in it."""
    assert not at.exception, [e.message for e in at.exception]
    shown = " ".join(e.value for e in at.error)
    plain = shown.replace("\\", "").replace("`", "")  # shown as plain text: Markdown escaped, URLs as code
    for fragment in fragments:
        assert fragment in plain, plain
    for path in SERVER_PATHS:
        assert path not in plain, plain
    return plain


def _labels(project: Path, url: str | None = None) -> set[tuple[str, str, str]]:
    engine = db.make_engine(url or db.default_url(project))
    try:
        with db.make_sessionmaker(engine).begin() as session:
            return {(x.left_id, x.right_id, x.decision.value) for x in db.current_labels(session, project=project.name)}
    finally:
        engine.dispose()


def _shown_pair(at: AppTest) -> tuple[str, str]:
    ids = [c.value.split("`")[1] for c in at.caption if c.value.startswith(("Left ·", "Right ·"))]
    return ids[0], ids[1]


def _click(at: AppTest, label: str) -> AppTest:
    return next(b for b in at.button if b.label.startswith(label)).click().run()


# --- item 3: the store vanishes while the app runs ---------------------------------------------------


def test_a_deleted_store_refuses_the_decision_with_a_message(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project)
    _click(at, "Accept")
    store = tiny_project / "labels.sqlite"
    assert len(_labels(tiny_project)) == 1
    os.unlink(store)
    _click(at, "Accept")
    _error(at, "Nothing was recorded", f"{store} was deleted")
    assert len(at.error) == 1  # said once, though the page's own reads fail the same way
    assert not any(t.value.startswith("accept:") for t in at.toast)  # no "accept: ..." as if it were stored
    assert not store.exists()  # no new empty store made mid-session
    at.switch_page("pages/agreement.py").run()  # no page shows counts from the deleted file
    _error(at, f"{store} was deleted")


# --- item 4: each failure a message ----------------------------------------------------------------------


def test_a_read_only_store_says_so_when_a_decision_is_made(monkeypatch, tiny_project):
    url = db.default_url(tiny_project)
    db.make_engine(url).dispose()
    read_only = f"sqlite:///file:{tiny_project / 'labels.sqlite'}?mode=ro&uri=true"  # read-only even for root
    at = _app(monkeypatch, tiny_project, db_url=read_only)
    if any(b.label.startswith("Accept") for b in at.button):  # the page may write before any decision (a lease)
        _click(at, "Accept")
    _error(at, "is read-only", "nothing can be recorded")
    assert _labels(tiny_project) == set()


def test_a_full_disk_says_so_and_keeps_the_stored_labels(monkeypatch, tiny_project):
    from sqlalchemy.orm import Session

    at = _app(monkeypatch, tiny_project)
    _click(at, "Accept")
    before = _labels(tiny_project)
    flush = Session.flush

    def full_disk(self, *args, **kwargs):
        if self.new:  # a row is about to be written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return flush(self, *args, **kwargs)

    monkeypatch.setattr(Session, "flush", full_disk)
    _click(at, "Reject")
    _error(at, "Nothing was recorded", "The disk is full")
    monkeypatch.setattr(Session, "flush", flush)
    assert _labels(tiny_project) == before


def test_an_unwritable_project_directory_says_so(monkeypatch, tiny_project):
    tiny_project.chmod(0o555)
    if os.geteuid() == 0:  # root writes anyway: make SQLite answer as it does for anyone else
        connect = sqlite3.dbapi2.connect  # what SQLAlchemy's SQLite dialect calls

        def no_new_files(database, *args, **kwargs):
            name = str(database).removeprefix("file:").split("?")[0]
            if Path(name).parent == tiny_project and not Path(name).exists():
                raise sqlite3.OperationalError("unable to open database file")
            return connect(database, *args, **kwargs)

        monkeypatch.setattr(sqlite3.dbapi2, "connect", no_new_files)
    try:
        at = _app(monkeypatch, tiny_project)
        _error(at, f"label store {tiny_project / 'labels.sqlite'} cannot be opened or created",
               "may write there")
    finally:
        tiny_project.chmod(0o755)


@pytest.mark.parametrize("url, fragment", [
    ("not a url", "'not a url' is not a database URL; write it like sqlite:////"),
    ("sqlite:////no/such/directory/labels.sqlite", "its directory /no/such/directory does not exist"),
])
def test_a_bad_db_option_says_what_is_wrong(monkeypatch, tiny_project, url, fragment):
    for page in (None, "pages/export.py"):
        at = _app(monkeypatch, tiny_project, db_url=url, page=page)
        _error(at, fragment)


def test_a_labels_file_that_is_not_a_database_says_so(monkeypatch, tiny_project):
    store = tiny_project / "labels.sqlite"
    store.write_text("my notes\n" * 500)
    at = _app(monkeypatch, tiny_project)
    _error(at, f"{store} is not a SQLite database")
    assert store.read_text() == "my notes\n" * 500


def test_a_labels_file_from_a_newer_mualign_says_so(monkeypatch, tiny_project):
    engine = db.make_engine(db.default_url(tiny_project))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    engine.dispose()
    at = _app(monkeypatch, tiny_project, page="pages/agreement.py")
    _error(at, "The label store cannot be used", "'0042'", "newer mualign")


def test_candidates_naming_an_unknown_id_say_which_line(monkeypatch, tiny_project):
    (tiny_project / "candidates.tsv").write_text("left_id\tright_id\ttype\tname_score\nf1\tm10\tfilm\t0.9\n"
                                                 "nobody\tm11\tfilm\t0.5\n")
    at = _app(monkeypatch, tiny_project)
    _error(at, "The project's files have problems", "candidates.tsv:3: unknown left entity id 'nobody'")


def test_a_truncated_checkpoint_says_which_version(monkeypatch, demo_copy):
    version = (demo_copy / "models" / "ACTIVE").read_text().strip()
    checkpoint = demo_copy / "models" / f"model-{version}.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    for path in (demo_copy / "scores").glob("*.tsv"):
        path.unlink()  # the review needs the model to score
    at = _app(monkeypatch, demo_copy)
    _error(at, "The model version cannot be used", f"model-{version}.pt", "truncated")


def test_a_text_value_in_the_score_cache_is_scored_anew(monkeypatch, demo_copy):
    version = (demo_copy / "models" / "ACTIVE").read_text().strip()
    cache = demo_copy / "scores" / f"scores-{version}.tsv"
    header, first, *rest = cache.read_text().splitlines(keepends=True)
    cells = first.split("\t")
    cells[header.split("\t").index("score")] = "abc"
    cache.write_text("".join([header, "\t".join(cells), *rest]))
    at = _app(monkeypatch, demo_copy)
    assert not at.exception and not at.error, [e.message for e in at.exception]
    assert _shown_pair(at) and "abc" not in cache.read_text()  # reviewing, on a cache computed anew
