"""``mualign evaluate`` replays the evaluation ``train`` recorded, and scores again whenever it cannot trust it.

The demo project of ``tests/conftest.py`` is trained as ``mualign train`` trains: the new
version's TEST evaluation is recorded (``core.project.stored_evaluation``).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.data.links import Split
from core.project import lifecycle, model_versions as mv
from core.project.cache import CACHE_DIR
from core.project.stored_evaluation import (NotStored, RecordingScorer, StoredScorer, load_evaluation,
                                            save_evaluation)

REPO = Path(__file__).resolve().parents[3]


def _records(project: Path) -> list[Path]:
    return sorted((project / CACHE_DIR).glob("evaluation-*"))


def _scored(project: Path, split: Split = Split.TEST) -> lifecycle.Evaluation:
    """The evaluation computed from the model (no record to read; it records one again)."""
    for path in _records(project):
        path.unlink()
    return lifecycle.evaluate_with_decisions(project, "mualign", split=split)


def _no_model(*args, **kwargs):
    raise AssertionError("a replayed evaluation must not load the model")


def test_train_records_the_test_evaluation_and_evaluate_replays_it_number_for_number(demo_copy, monkeypatch):
    version = mv.active_version(demo_copy)
    assert [p.name for p in _records(demo_copy)] == [f"evaluation-{version}-test.bin",
                                                      f"evaluation-{version}-test.json"]
    with monkeypatch.context() as patch:
        patch.setattr(lifecycle, "active_scorer", _no_model)
        replayed = lifecycle.evaluate_with_decisions(demo_copy, "mualign", split=Split.TEST)
    scored = _scored(demo_copy)
    assert replayed.report == scored.report  # every figure, per type and overall, exactly
    assert replayed.decisions == scored.decisions and scored.note == ""
    assert f"recorded when model version {version} was last evaluated" in replayed.note  # the CLI says so
    assert replayed.report.method == "mualign" and replayed.report.overall.n_pairs > 0


def test_another_split_is_scored_then_recorded(demo_copy, monkeypatch):
    valid = lifecycle.evaluate_with_decisions(demo_copy, "mualign", split=Split.VALID)
    assert any(p.name.endswith("-valid.json") for p in _records(demo_copy))
    with monkeypatch.context() as patch:
        patch.setattr(lifecycle, "active_scorer", _no_model)
        again = lifecycle.evaluate_with_decisions(demo_copy, "mualign", split=Split.VALID)
    assert again.report == valid.report and again.decisions == valid.decisions


def test_a_record_is_never_trusted_for_other_links_other_candidates_or_when_damaged(demo_copy):
    dataset, candidates = lifecycle.load_blocked(demo_copy)
    version = mv.active_version(demo_copy)
    assert load_evaluation(demo_copy, version, Split.TEST, dataset, candidates) is not None
    # a retrain's dataset: the same graphs, other links (here one TEST link dropped)
    links = dataset.links
    fewer_links = replace(dataset, links=links.select(np.arange(len(links)) != int(np.flatnonzero(
        links.split == Split.TEST.code)[0])))
    assert load_evaluation(demo_copy, version, Split.TEST, fewer_links, candidates) is None
    fewer = type(candidates)(candidates.left[:-1], candidates.right[:-1], candidates.type[:-1],
                             candidates.name_score[:-1])
    assert load_evaluation(demo_copy, version, Split.TEST, dataset, fewer) is None
    assert load_evaluation(demo_copy, "0123456789ab", Split.TEST, dataset, candidates) is None
    assert load_evaluation(demo_copy, version, Split.VALID, dataset, candidates) is None

    payload = demo_copy / CACHE_DIR / f"evaluation-{version}-test.bin"
    data = bytearray(payload.read_bytes())
    data[len(data) // 2] ^= 0xFF
    payload.write_bytes(bytes(data))
    assert load_evaluation(demo_copy, version, Split.TEST, dataset, candidates) is None
    # evaluate scores from the model instead, and records a sound one again
    scored = lifecycle.evaluate_with_decisions(demo_copy, "mualign", split=Split.TEST)
    assert load_evaluation(demo_copy, version, Split.TEST, dataset, candidates) is not None
    assert scored.report == _scored(demo_copy).report


def test_a_record_that_lacks_a_pair_sends_evaluate_back_to_the_model(demo_copy, monkeypatch):
    dataset, candidates = lifecycle.load_blocked(demo_copy)
    version = mv.active_version(demo_copy)
    stored = load_evaluation(demo_copy, version, Split.TEST, dataset, candidates)
    # a record of the same key that holds all but one of the pairs (as if the harness read fewer)
    partial = RecordingScorer(stored, dataset.right.n_entities)
    left, right = stored.keys // dataset.right.n_entities, stored.keys % dataset.right.n_entities
    partial.match_scores(left[1:], right[1:])
    assert save_evaluation(demo_copy, version, Split.TEST, dataset, candidates, partial)
    assert lifecycle.replay_evaluation(demo_copy, version, Split.TEST, dataset, candidates) is None
    loaded = []
    real = lifecycle.active_scorer
    monkeypatch.setattr(lifecycle, "active_scorer", lambda *a, **k: loaded.append(1) or real(*a, **k))
    evaluation = lifecycle.evaluate_with_decisions(demo_copy, "mualign", split=Split.TEST)
    assert loaded == [1] and evaluation.decisions is not None
    monkeypatch.setattr(lifecycle, "active_scorer", _no_model)  # the full record is back
    assert lifecycle.evaluate_with_decisions(demo_copy, "mualign", split=Split.TEST).report == evaluation.report


def test_the_stored_scorer_answers_recorded_pairs_only():
    scorer = StoredScorer("mualign", 0.5, n_right=10, keys=np.array([3, 12, 47]), probability=np.array([.1, .9, .6]),
                          decided=np.array([0, 1, -1], dtype=np.int8))
    assert scorer.score_pairs(np.array([4, 0]), np.array([7, 3])).tolist() == [.6, .1]
    assert scorer.match_scores(np.array([1, 0]), np.array([2, 3])).decided.tolist() == [True, False]
    with pytest.raises(NotStored, match="1 pairs have no recorded decision"):
        scorer.match_scores(np.array([4]), np.array([7]))  # its probability was asked, never its decision
    with pytest.raises(NotStored, match="1 pairs were not part"):
        scorer.score_pairs(np.array([0, 9]), np.array([3, 9]))


def test_a_recording_keeps_each_pair_once_with_its_decision():
    class Fixed:
        name, threshold = "mualign", 0.5

        def score_pairs(self, left, right, types=None):
            return left / 10.0

        def match_scores(self, left, right, types=None):
            return SimpleNamespace(probability=left / 10.0, decided=left > 4)

    recording = RecordingScorer(Fixed(), n_right=10)
    recording.score_pairs(np.array([1, 7, 7]), np.array([2, 3, 3]))
    recording.match_scores(np.array([7, 5]), np.array([3, 5]))
    keys, probability, decided = recording.recorded()
    assert keys.tolist() == [12, 55, 73] and probability.tolist() == [.1, .5, .7]
    assert decided.tolist() == [-1, 1, 1] and recording.name == "mualign"


def test_the_cli_evaluate_after_train_loads_neither_torch_nor_scikit_learn(demo_copy):
    """Where the time went: starting torch and scikit-learn to score pairs train had scored."""
    code = ("import sys, io, contextlib; from cli.main import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out): rc = main(['evaluate', '--project', sys.argv[1]])\n"
            "print(rc, 'torch' in sys.modules, 'sklearn' in sys.modules); print(out.getvalue())")
    run = subprocess.run([sys.executable, "-c", code, str(demo_copy)], capture_output=True, text=True, cwd=REPO,
                         timeout=300)
    first, _, report = run.stdout.partition("\n")
    assert first == "0 False False", run.stdout + run.stderr
    assert "method=mualign split=test" in report and "decided pairs" in report
    assert "mualign evaluate: the figures recorded when model version" in run.stderr
