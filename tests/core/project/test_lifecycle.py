"""The lifecycle steps: blocking stores its report beside the candidates it made (issue 14 item 2).

Pages show pair completeness from the stored report, so a project blocked with ``--top-k 1``
must not be described by a re-blocking with the defaults.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli.main import main
from core.blocking.name_blocking import BlockingConfig
from core.formats.errors import DataError
from core.project import lifecycle
from tests.conftest import write_tiny_project


def test_block_stores_the_report_of_the_candidates_it_wrote(tmp_path, capsys):
    project = write_tiny_project(tmp_path / "p")
    assert main(["block", "--project", str(project), "--top-k", "1", "--key", "film=year",
                 "--structure-top-k", "0"]) == 0
    assert "blocking_report.json" in capsys.readouterr().out
    report = lifecycle.load_blocking_report(project)
    assert report is not None
    assert report.config.top_k == 1 and report.config.keys == (("film", "year"),)
    _, candidates = lifecycle.load_blocked(project)
    assert report.n_candidates == len(candidates) == 6  # one per left entity, not the default 20
    assert [s.type for s in report.per_type] == ["film", "person"]
    assert lifecycle.blocking_config(project) == report.config


def test_the_report_round_trips_exactly(tmp_path):
    project = write_tiny_project(tmp_path / "p")
    blocked = lifecycle.block_project(project, BlockingConfig(top_k=2, ngram_range=(2, 4), window=3))
    assert lifecycle.load_blocking_report(project) == blocked.report


def test_an_old_project_has_no_report_and_nothing_is_reblocked(tmp_path):
    project = write_tiny_project(tmp_path / "p")
    assert lifecycle.load_blocking_report(project) is None  # never blocked
    assert "has not been blocked yet" in lifecycle.missing_report_message(project)
    lifecycle.block_project(project)
    (project / lifecycle.BLOCKING_REPORT_FILE).unlink()  # as blocked by an older mualign
    before = (project / "candidates.tsv").read_bytes()
    assert lifecycle.load_blocking_report(project) is None
    assert (project / "candidates.tsv").read_bytes() == before
    message = lifecycle.missing_report_message(project)
    assert "mualign block --project" in message and "blocking_report.json" in message
    assert lifecycle.blocking_config(project) == BlockingConfig()


def test_a_report_of_other_candidates_is_not_shown(tmp_path):
    project = write_tiny_project(tmp_path / "p")
    lifecycle.block_project(project, BlockingConfig(top_k=3))
    lines = (project / "candidates.tsv").read_text().splitlines()
    (project / "candidates.tsv").write_text("\n".join(lines[:-1]) + "\n")  # replaced by hand
    assert lifecycle.load_blocking_report(project) is None


@pytest.mark.parametrize("text, message", [
    ("{not json", "invalid JSON"),
    ('{"format": "something else"}', "not a mualign blocking report"),
    ('{"format": "mualign-blocking-report", "format_version": 99}', "newer than this mualign reads"),
])
def test_a_damaged_report_is_a_data_error(tmp_path, text, message):
    project = write_tiny_project(tmp_path / "p")
    lifecycle.block_project(project)
    (project / lifecycle.BLOCKING_REPORT_FILE).write_text(text)
    with pytest.raises(DataError, match=message):
        lifecycle.load_blocking_report(project)


def test_a_report_missing_fields_is_a_data_error(tmp_path):
    project = write_tiny_project(tmp_path / "p")
    lifecycle.block_project(project)
    path = project / lifecycle.BLOCKING_REPORT_FILE
    data = json.loads(path.read_text())
    del data["per_type"][0]["n_gold"]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="damaged blocking report"):
        lifecycle.load_blocking_report(project)


def test_run_baselines_stores_the_report_too(tmp_path):
    project = write_tiny_project(tmp_path / "p")
    run = lifecycle.run_baselines(project, config=BlockingConfig(top_k=2), methods=("name-tfidf",))
    assert lifecycle.load_blocking_report(project) == run.blocking


def test_blocking_keys_for_unknown_types_write_nothing(tmp_path):
    project = write_tiny_project(tmp_path / "p")
    with pytest.raises(ValueError, match=r"unknown aligned type\(s\) \['movie'\]"):
        lifecycle.block_project(project, BlockingConfig(keys=(("movie", "year"),)))
    assert not (project / "candidates.tsv").exists()


def test_progress_scorer_gives_the_same_scores_in_pieces(tmp_path):
    project = write_tiny_project(tmp_path / "p")
    blocked = lifecycle.block_project(project)
    scorer = lifecycle.make_scorer("name-tfidf", blocked.dataset, blocked.candidates)
    seen = []
    pieces = lifecycle.ProgressScorer(scorer, lambda done, total: seen.append((done, total)), piece=4)
    c = blocked.candidates
    assert np.allclose(pieces.score_pairs(c.left, c.right, c.type), scorer.score_pairs(c.left, c.right, c.type))
    assert seen[-1] == (len(c), len(c)) and len(seen) == -(-len(c) // 4)
    assert pieces.name == scorer.name


def test_evaluate_method_uses_the_stored_ngram_settings(tmp_path, monkeypatch):
    project = write_tiny_project(tmp_path / "p")
    lifecycle.block_project(project, BlockingConfig(top_k=3, ngram_range=(2, 2)))
    used = []
    original = lifecycle.make_scorer
    monkeypatch.setattr(lifecycle, "make_scorer",
                        lambda method, d, c, config=None, seed=0: used.append(config) or original(method, d, c, config=config))
    report = lifecycle.evaluate_method(project, "name-tfidf")
    assert used == [BlockingConfig(top_k=3, ngram_range=(2, 2))] and report.method == "name-tfidf"
