"""Who labels (issue 13, items 1 and 2) with Streamlit's AppTest: the analyst's name is kept across page
switches and in the page address, never taken from the operating system, and required to label.

AppTest forgets between runs that ``app.py`` called ``st.navigation`` (it resets Streamlit's
``PagesManager.uses_pages_directory``), so every run of a page other than Review starts the way
a server's first request for that page does: in Streamlit's automatic ``pages/`` mode. The
browser tests (test_browser_analyst.py) check the same on a real server.
"""

from __future__ import annotations

import getpass

import pytest
from streamlit.testing.v1 import AppTest

import db
from tests.conftest import REPO

PAGES = ["pages/review.py", "pages/search.py", "pages/agreement.py", "pages/retrain.py", "pages/evaluation.py",
         "pages/export.py", "pages/overview.py"]


@pytest.fixture(autouse=True)
def os_login_is_root(monkeypatch):
    """The server's account is ``root``: a name that must never reach the label store."""
    monkeypatch.setattr(getpass, "getuser", lambda: "root")
    monkeypatch.setenv("USER", "root")
    monkeypatch.setenv("LOGNAME", "root")


def _app(monkeypatch, project, **query) -> AppTest:
    monkeypatch.setenv("MUALIGN_PROJECT", str(project))
    monkeypatch.delenv("MUALIGN_DB", raising=False)
    monkeypatch.delenv("MUALIGN_USER_HEADER", raising=False)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def _analyst_box(at: AppTest):
    boxes = [box for box in at.sidebar.text_input if box.label == "Analyst"]
    assert len(boxes) == 1, "no Analyst box in the sidebar"
    return boxes[0]


def _type_name(at: AppTest, name: str) -> None:
    _analyst_box(at).set_value(name).run()
    assert not at.exception, at.exception


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def _events(project) -> list:
    sessions = db.make_sessionmaker(db.make_engine(db.default_url(project)))
    with sessions.begin() as session:
        return db.events(session, project=project.name)[::-1]


def test_without_a_name_nothing_is_labelled_and_the_os_login_is_never_used(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project)
    assert _analyst_box(at).value == ""
    assert any("Type your name in the **Analyst** box" in w.value for w in at.warning)
    assert all(_button(at, label).disabled for label in ("Accept", "Reject", "Skip", "Undo"))
    at.switch_page("pages/search.py").run()
    at.switch_page("pages/review.py").run()
    assert _analyst_box(at).value == "" and _button(at, "Accept").disabled
    assert "root" not in str(at.session_state["analyst"]) and "analyst" not in at.query_params


def test_the_name_survives_a_page_switch_and_a_search(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project)
    _type_name(at, "  bob ")
    assert not _button(at, "Accept").disabled
    assert at.query_params["analyst"] == "bob"  # kept in the address: a reload or a bookmark keeps it
    at.switch_page("pages/search.py").run()
    assert _analyst_box(at).value == "bob"
    at.text_input(key="search_query").set_value("Keanu Reevs").run()
    next(b for b in at.button if b.label == "Review this pair").click().run()
    assert at.title[0].value == "Review candidate pairs"
    assert _analyst_box(at).value == "bob" and at.query_params["analyst"] == "bob"
    _button(at, "Accept").click().run()
    assert [(e.left_id, e.right_id, e.decision.value, e.analyst) for e in _events(tiny_project)] == [
        ("p1", "q10", "accept", "bob")]


def test_a_new_session_takes_the_name_from_the_address(monkeypatch, tiny_project):
    """A reload or a server restart is a new session: the name comes back from ``?analyst=``."""
    at = _app(monkeypatch, tiny_project, analyst="carol")
    assert _analyst_box(at).value == "carol"
    _button(at, "Reject").click().run()
    assert [e.analyst for e in _events(tiny_project)] == ["carol"]
    _type_name(at, "dan")  # a new name replaces the one in the address
    assert at.query_params["analyst"] == "dan"
    _type_name(at, "   ")  # clearing the box stops labelling and empties the address
    assert "analyst" not in at.query_params and _button(at, "Accept").disabled


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_inside_the_app_with_the_analyst_box(monkeypatch, tiny_project, page):
    """A page run in Streamlit's automatic pages/ mode (a cold start on a deep link) still gets the
    app's sidebar: the Analyst box with the name from the address."""
    at = _app(monkeypatch, tiny_project, analyst="erin")
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert _analyst_box(at).value == "erin"
    assert at.query_params["analyst"] == "erin"


def test_settling_a_conflict_needs_a_name(monkeypatch, tiny_project):
    from db.labels import record_decision

    sessions = db.make_sessionmaker(db.make_engine(db.default_url(tiny_project)))
    for analyst, decision in (("ana", "accept"), ("bob", "reject")):
        with sessions.begin() as session:
            record_decision(session, project=tiny_project.name, left_id="f2", right_id="m11", type="film",
                            decision=decision, analyst=analyst)
    at = _app(monkeypatch, tiny_project)
    at.switch_page("pages/agreement.py").run()
    settle = next(b for b in at.button if b.label == "Settle: accept")
    assert settle.disabled and any("Analyst" in w.value for w in at.warning)
    _type_name(at, "lead")
    next(b for b in at.button if b.label == "Settle: accept").click().run()
    assert [(e.analyst, e.resolution) for e in _events(tiny_project)] == [("ana", False), ("bob", False),
                                                                          ("lead", True)]


def test_behind_a_proxy_only_its_header_names_the_analyst(monkeypatch, tiny_project):
    """With ``--user-header`` the address cannot claim a name; a request without the header labels nothing."""
    monkeypatch.setenv("MUALIGN_USER_HEADER", "X-Forwarded-User")
    monkeypatch.setenv("MUALIGN_PROJECT", str(tiny_project))
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["analyst"] = "mallory"
    at.run()
    assert not at.exception, at.exception
    box = _analyst_box(at)
    assert box.value == "" and box.disabled
    assert any("X\\-Forwarded\\-User header" in w.value for w in at.sidebar.warning)
    assert _button(at, "Accept").disabled and at.session_state["analyst"] == ""
