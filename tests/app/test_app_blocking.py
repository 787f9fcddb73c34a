"""The Overview and Evaluation pages describe the blocking that made the candidates in use (issue 13 item 12).

They re-blocked with default settings: a project blocked with ``--top-k 3`` showed 5,859 song
candidates instead of its 879. Now they show the report ``mualign block`` stored beside
``candidates.tsv``, say so when a project has none, and the app never blocks or writes
``candidates.tsv`` itself.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.blocking.name_blocking import BlockingConfig
from core.project.lifecycle import BLOCKING_REPORT_FILE, block_project
from tests.conftest import REPO, write_tiny_project


def _app(monkeypatch, project: Path, page: str) -> AppTest:
    monkeypatch.setenv("MUALIGN_PROJECT", str(project))
    monkeypatch.delenv("MUALIGN_DB", raising=False)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["analyst"] = "ana"
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _blocking_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "pair completeness" in d.value.columns)


def _plain(text: str) -> str:
    return text.replace("\\", "")


def test_overview_shows_the_stored_blocking_not_a_default_one(monkeypatch, tmp_path):
    project = write_tiny_project(tmp_path / "tiny")
    # names only: the default would keep up to 20 per entity by name and add 10 by structure
    blocked = block_project(project, BlockingConfig(top_k=1, structure_top_k=0))
    n_rows = len(pd.read_csv(project / "candidates.tsv", sep="\t"))
    at = _app(monkeypatch, project, "pages/overview.py")
    table = _blocking_table(at)
    assert table["candidates"].sum() == n_rows == len(blocked.candidates)
    assert table["candidates"].tolist() == [s.n_candidates for s in blocked.report.per_type]
    assert (table["per left entity"] <= 1).all()
    captions = [_plain(c.value) for c in at.caption]
    assert any("top 1 right entities per left entity" in c for c in captions)
    assert not any("by structure" in c for c in captions)
    assert not any("source" in d.value.columns for d in at.dataframe)  # one source: no per-source table


def test_overview_shows_each_candidate_source_of_the_stored_blocking(monkeypatch, tmp_path):
    project = write_tiny_project(tmp_path / "tiny")  # it has TRAIN links: structure adds candidates
    blocked = block_project(project, BlockingConfig(top_k=1, structure_top_k=2))
    report = blocked.report
    assert report.source_names == ("name", "structure")
    at = _app(monkeypatch, project, "pages/overview.py")
    assert _blocking_table(at)["candidates"].tolist() == [s.n_candidates for s in report.per_type]
    captions = [_plain(c.value) for c in at.caption]
    assert any("top 1 right entities per left entity by name similarity" in c and "top 2 by structure" in c
               for c in captions)
    sources = next(d.value for d in at.dataframe if "source" in d.value.columns)
    for stats in report.per_type:
        shown = sources[sources["type"] == stats.type].set_index("source")
        assert shown.index.tolist() == [s.source for s in stats.sources] + ["union"]
        assert shown.loc["union", "candidates"] == stats.n_candidates
        for source in stats.sources:
            assert shown.loc[source.source, "candidates"] == source.n_candidates
            assert shown.loc[source.source, "pair completeness"] == source.gold_kept / stats.n_gold
        assert shown.loc["name", "candidates"] <= stats.n_left  # top 1 by name


def test_evaluation_shows_the_stored_blocking_too(monkeypatch, tmp_path):
    project = write_tiny_project(tmp_path / "tiny")
    blocked = block_project(project, BlockingConfig(top_k=1))
    at = _app(monkeypatch, project, "pages/evaluation.py")
    table = _blocking_table(at)
    assert table["candidates"].tolist() == [s.n_candidates for s in blocked.report.per_type]
    assert any("top 1 right entities" in _plain(c.value) for c in at.caption)


def test_a_project_without_a_stored_report_says_how_to_make_one(monkeypatch, tiny_project):
    (tiny_project / BLOCKING_REPORT_FILE).unlink()  # blocked by an older mualign
    before = (tiny_project / "candidates.tsv").read_bytes()
    for page in ("pages/overview.py", "pages/evaluation.py"):
        at = _app(monkeypatch, tiny_project, page)
        shown = " ".join(_plain(i.value) for i in at.info)
        assert "No stored blocking report" in shown and f"mualign block --project {tiny_project}" in shown
        assert not any("pair completeness" in d.value.columns for d in at.dataframe)  # nothing made up
    assert (tiny_project / "candidates.tsv").read_bytes() == before
    assert not (tiny_project / BLOCKING_REPORT_FILE).exists()


def test_a_replaced_candidates_file_is_not_described_by_the_old_report(monkeypatch, tiny_project):
    lines = (tiny_project / "candidates.tsv").read_text().splitlines(keepends=True)
    (tiny_project / "candidates.tsv").write_text("".join(lines[:2]))  # hand-cut to one pair
    at = _app(monkeypatch, tiny_project, "pages/overview.py")
    assert any("No stored blocking report" in _plain(i.value) for i in at.info)


def test_the_app_never_blocks_an_unblocked_project(monkeypatch, tmp_path):
    project = write_tiny_project(tmp_path / "fresh")
    for page in ("pages/review.py", "pages/evaluation.py", "pages/overview.py"):
        at = _app(monkeypatch, project, page)
        shown = " ".join(_plain(m.value) for m in (*at.info, *at.error))
        assert "has not been blocked yet" in shown and f"mualign block --project {project}" in shown
    assert not (project / "candidates.tsv").exists() and not (project / BLOCKING_REPORT_FILE).exists()
    assert at.metric  # the overview still shows both graphs
