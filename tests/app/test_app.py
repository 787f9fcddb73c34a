"""Fast checks of the project overview page with Streamlit's AppTest (other pages: test_app_pages.py)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO


def _run(monkeypatch, project) -> AppTest:
    monkeypatch.setenv("MUALIGN_PROJECT", str(project))
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/overview.py").run()
    return at


def test_overview_shows_the_project(monkeypatch, tiny_project):
    at = _run(monkeypatch, tiny_project)
    assert not at.exception
    assert at.title[0].value == "mualign: project overview"
    assert [m.value for m in at.metric] == ["6", "5", "6", "5"]
    assert len(at.dataframe) >= 4


def test_overview_without_a_project_says_how_to_make_one(monkeypatch, tmp_path):
    at = _run(monkeypatch, tmp_path / "nothing")
    assert not at.exception
    assert "mualign demo" in at.info[0].value


def test_overview_with_broken_files_lists_the_problems(monkeypatch, tiny_project):
    (tiny_project / "links.tsv").write_text("left_id\tright_id\tlabel\tsplit\nf1\tnope\t1\ttrain\n")
    at = _run(monkeypatch, tiny_project)
    assert not at.exception
    assert "nothing was loaded" in at.error[0].value
    assert "links.tsv:2: unknown right entity id 'nope'" in at.code[0].value
