"""Model versions carry the matcher (issue 15): stored with the GNN, scored with, refitted from labels.

The demo project of ``tests/conftest.py`` (40 films, one epoch) is trained as ``mualign train``
trains, so its active version has a matcher fitted over the model's distances.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.data.links import Split
from core.formats.native import load_candidates, load_project
from core.project import lifecycle, model_versions as mv
from core.project.checkpoint import load_scorer
from core.project.score_table import (BASELINE, CONTRIBUTION, DECIDED, contribution_columns, read_scores,
                                      scores_path, stored_or_scored)
from core.review.labels_as_links import AnalystLabel


def _open(project: Path):
    dataset = load_project(project)
    version = mv.active_version(project)
    model, _ = load_scorer(mv.model_path(project, version), dataset)
    return dataset, load_candidates(dataset, project), version, model


def test_a_trained_version_carries_its_matcher_and_its_table_adds_up(demo_copy):
    dataset, candidates, version, model = _open(demo_copy)
    assert mv.has_matcher(demo_copy, version)
    info = mv.version_info(demo_copy, version)
    assert info["gnn_version"] == version and info["fit_seconds"] > 0 and "test_f1" in info
    table = read_scores(demo_copy / "scores.tsv")
    assert (table["model_version"] == version).all() and set(table[DECIDED].unique()) <= {0, 1}
    parts = table[BASELINE] + table[contribution_columns(table)].sum(axis=1)
    assert np.allclose(parts, table["score"], atol=1e-4)  # the waterfall's parts sum to the log-odds
    assert np.allclose(1 / (1 + np.exp(-table["score"])), table["probability"], atol=1e-5)
    assert {c.removeprefix(CONTRIBUTION) for c in contribution_columns(table)} >= {"name", "gnn"}

    scorer = lifecycle.version_matcher_scorer(demo_copy, version, dataset, candidates, model)
    left = dataset.left.indices_of(table["left_id"].to_numpy())
    right = dataset.right.indices_of(table["right_id"].to_numpy())
    again = scorer.match_scores(left, right)
    assert np.allclose(again.probability, table["probability"], atol=1e-6)  # the stored matcher scores as it did
    assert (again.decided == table[DECIDED].to_numpy().astype(bool)).all()
    # the queue and the conflicts read the matcher's decisions, not a probability cut
    from core.review.queue import predicted_matches

    assert (predicted_matches(table).to_numpy() == table[DECIDED].to_numpy().astype(bool)).all()


def test_an_old_version_without_a_matcher_still_loads_and_says_so(demo_copy, capsys):
    from cli.main import main

    dataset, candidates, version, model = _open(demo_copy)
    matcher_table = read_scores(scores_path(demo_copy, version))
    shutil.rmtree(mv.version_dir(demo_copy, version))  # as stored before issue 15
    assert not mv.has_matcher(demo_copy, version) and mv.versions(demo_copy) == [version]
    scorer, note = lifecycle.evaluation_scorer(demo_copy, version, dataset, candidates, model)
    assert scorer is model and "has no matcher" in note and "calibrated probability" in note
    table = stored_or_scored(demo_copy, dataset, candidates, model, version)  # the matcher's table is not trusted
    assert DECIDED not in table and len(table) == len(matcher_table)
    distance = model.distances(candidates.left, candidates.right)
    assert np.allclose(np.sort(table["probability"]), np.sort(model.probability_of_score(-distance)), atol=1e-6)

    assert main(["evaluate", "--project", str(demo_copy)]) == 0
    captured = capsys.readouterr()
    assert "has no matcher" in captured.err and "method=cg-mualign" in captured.out
    assert main(["export", "--project", str(demo_copy), "--format", "links", "--out", str(demo_copy / "l.tsv")]) == 0
    assert "has no matcher" in capsys.readouterr().err


def test_matcher_revisions_share_their_gnn_and_are_listed(demo_copy):
    version = mv.active_version(demo_copy)
    revision = mv.next_revision(demo_copy, version)
    assert revision == f"{version}.m1" and mv.gnn_version(revision) == version
    assert mv.model_path(demo_copy, revision) == mv.model_path(demo_copy, version)
    with pytest.raises(FileNotFoundError):
        mv.set_active(demo_copy, revision)  # no matcher stored under that id yet
    shutil.copytree(mv.version_dir(demo_copy, version), mv.version_dir(demo_copy, revision))
    assert mv.versions(demo_copy) == [version, revision]
    assert mv.next_revision(demo_copy, revision) == f"{version}.m2"
    mv.set_active(demo_copy, revision)
    assert mv.active_version(demo_copy) == revision
    # a matcher directory cut by a killed run is cleared, never listed
    dead = demo_copy / "models" / f".{version}.m2.tmp-999999-ab12"
    (dead / "matcher").mkdir(parents=True)
    assert dead in mv.remove_stale_temp_files(demo_copy) and not dead.exists()


class Counting:
    """A model proxy that counts the pairs whose GNN distance is computed."""

    def __init__(self, model):
        self.model, self.asked = model, 0

    def distances(self, left, right):
        self.asked += len(left)
        return self.model.distances(left, right)


def _labels(dataset, candidates, n_accept=4, n_reject=4) -> list[AnalystLabel]:
    """Analysts' labels on VALID entities: their true matches accepted, other candidates rejected."""
    from core.evaluation.harness import evaluation_pairs

    pairs = evaluation_pairs(dataset, candidates, Split.VALID)
    ids = [(str(dataset.left.entity_ids[a]), str(dataset.right.entity_ids[b]), bool(y))
           for a, b, y in zip(pairs.left, pairs.right, pairs.label)]
    return ([AnalystLabel(*x) for x in ids if x[2]][:n_accept] + [AnalystLabel(*x) for x in ids if not x[2]][:n_reject])


@pytest.mark.parametrize("better", [True, False])
def test_a_quick_refit_keeps_the_gnn_and_follows_the_activation_rule(demo_copy, monkeypatch, better):
    import core.project.retrain as retrain_module

    monkeypatch.setattr(retrain_module, "activation",
                        lambda before, after: retrain_module.Activation(better, "as the test decides"))
    dataset, candidates, version, model = _open(demo_copy)
    labels = _labels(dataset, candidates)
    previous = lifecycle.version_matcher_scorer(demo_copy, version, dataset, candidates, model)
    counting = Counting(model)
    result = retrain_module.refit_matcher(demo_copy, dataset, candidates, labels, version=version, model=counting,
                                          previous=previous, previous_scores=read_scores(demo_copy / "scores.tsv"))
    assert counting.asked < len(candidates) / 10  # the distances came from the score table, not the GNN
    assert result.version == f"{version}.m1" and result.based_on == version and result.activated is better
    assert mv.active_version(demo_copy) == (result.version if better else version)
    assert mv.has_matcher(demo_copy, result.version) and result.version in mv.versions(demo_copy)
    info = mv.version_info(demo_copy, result.version)
    assert len(info["accepted_labels"]) == 4 and len(info["rejected_labels"]) == 4 and info["refit_of"] == version
    assert result.valid_before is not None and result.valid_after.n_pairs == result.valid_before.n_pairs
    stored = read_scores(scores_path(demo_copy, result.version))
    assert (stored["model_version"] == result.version).all() and DECIDED in stored
    # loaded back (with the accepted labels as anchors again), the revision scores as its table says
    again = lifecycle.version_matcher_scorer(demo_copy, result.version, dataset, candidates, model)
    left = dataset.left.indices_of(stored["left_id"].to_numpy())
    right = dataset.right.indices_of(stored["right_id"].to_numpy())
    assert np.allclose(again.match_scores(left, right).probability, stored["probability"], atol=1e-6)


def test_evaluate_from_the_stored_evidence_gives_the_figures_of_a_fresh_scoring(demo_copy):
    """`mualign evaluate` scores the candidates from the version's cached evidence (no features rebuilt,
    no GNN over every candidate); the report and the decisions equal those of scoring afresh."""
    dataset, candidates, version, model = _open(demo_copy)
    assert mv.evidence_path(demo_copy, version).is_file()  # written when the version was trained
    fresh_scorer = lifecycle.version_matcher_scorer(demo_copy, version, dataset, candidates, model)
    fresh = fresh_scorer.all_candidates()
    primed_scorer = lifecycle.version_matcher_scorer(demo_copy, version, dataset, candidates, model)
    import core.matching.matcher as matcher_module

    def no_tree_pass(*args):
        raise AssertionError("the evidence holds every candidate's contributions: no pass over the trees")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matcher_module, "round_output", no_tree_pass)
        assert lifecycle.prime_from_evidence(demo_copy, version, primed_scorer, candidates)
    primed = primed_scorer.all_candidates()
    assert np.array_equal(primed.log_odds, fresh.log_odds)  # the same sum of the same contributions
    assert np.array_equal(primed.contributions, fresh.contributions)
    assert (primed.decided == fresh.decided).all() and primed.group_names == fresh.group_names

    cached = lifecycle.evaluate_with_decisions(demo_copy, "mualign", split=Split.TEST)
    mv.evidence_path(demo_copy, version).unlink()  # no cache: every candidate scored afresh
    for record in (demo_copy / ".cache").glob("evaluation-*"):  # nor a recorded evaluation to replay
        record.unlink()
    scratch = lifecycle.evaluate_with_decisions(demo_copy, "mualign", split=Split.TEST)
    for a, b in ((cached.report.overall, scratch.report.overall),):
        assert (a.pr_auc, a.f1, a.precision, a.recall) == pytest.approx((b.pr_auc, b.f1, b.precision, b.recall))
    assert cached.decisions == scratch.decisions

    # evidence of other candidates (a re-block) is not used
    from core.project.retrain import version_evidence

    again = lifecycle.version_matcher_scorer(demo_copy, version, dataset, candidates, model)
    assert version_evidence(demo_copy, version, again, candidates) is not None  # the cache written again
    fewer = type(candidates)(candidates.left[:-1], candidates.right[:-1], candidates.type[:-1],
                             candidates.name_score[:-1])
    scorer = lifecycle.version_matcher_scorer(demo_copy, version, dataset, fewer, model)
    assert not lifecycle.prime_from_evidence(demo_copy, version, scorer, fewer)
    assert lifecycle.prime_from_evidence(demo_copy, version,
                                         lifecycle.version_matcher_scorer(demo_copy, version, dataset, candidates,
                                                                          model), candidates)


def test_a_stored_table_with_an_id_the_graphs_do_not_hold_is_not_current(demo_copy):
    from core.project.score_table import current_scores, read_scores, write_scores

    dataset, candidates, version, _ = _open(demo_copy)
    assert current_scores(demo_copy, version, dataset, candidates, matcher=True) is not None
    table = read_scores(scores_path(demo_copy, version))
    table.loc[0, "left_id"] = "no such entity"
    write_scores(table, scores_path(demo_copy, version))
    assert current_scores(demo_copy, version, dataset, candidates, matcher=True) is None
    assert current_scores(demo_copy, version, dataset, candidates, matcher=False) is None
