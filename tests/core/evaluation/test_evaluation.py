"""The evaluation harness: protocol choice, lost matches, threshold from VALID, hand-checked figures."""

from __future__ import annotations

import numpy as np
import pytest

from core.scoring.name_baselines import NameLogRegScorer, NameTfidfScorer, training_pairs
from core.blocking.name_blocking import BlockingConfig, block
from core.data.candidates import CandidatePairs
from core.evaluation.harness import choose_threshold, evaluate, evaluation_pairs, format_report
from core.data.links import Split
from core.formats.native import load_project
from tests.conftest import LINKS, write_tiny_project


class TableScorer:
    """Scores looked up from a dict keyed by (left id, right id): fully hand-controlled."""

    name = "table"

    def __init__(self, dataset, table, default=0.0):
        self.d, self.table, self.default = dataset, table, default

    def score_pairs(self, left, right, types):
        return np.array([self.table.get((self.d.left.entity_ids[l], self.d.right.entity_ids[r]), self.default)
                         for l, r in zip(left, right)], dtype=float)


def _cands(d, pairs):
    li = d.left.indices_of([a for a, _ in pairs])
    ri = d.right.indices_of([b for _, b in pairs])
    types = np.array([0 if a.startswith("f") else 1 for a, _ in pairs], dtype=np.int32)
    return CandidatePairs(li, ri, types, np.zeros(len(pairs), np.float32))


def test_candidates_protocol_counts_matches_blocking_lost(tiny_project):
    d = load_project(tiny_project)
    # test split: f3-m12 and p3-q12; blocking kept f3's match but lost p3's
    cands = _cands(d, [("f3", "m12"), ("f3", "m10"), ("p3", "q10"), ("p3", "q11"), ("f2", "m11"), ("p2", "q11")])
    pairs = evaluation_pairs(d, cands, Split.TEST)
    assert pairs.protocol == "candidates"
    assert len(pairs.label) == 4 and pairs.label.sum() == 1
    assert pairs.missed.tolist() == [0, 1]
    scorer = TableScorer(d, {("f3", "m12"): 0.9, ("f3", "m10"): 0.2, ("p3", "q10"): 0.8, ("p3", "q11"): 0.1,
                             ("f2", "m11"): 0.7, ("p2", "q11"): 0.6})
    report = evaluate(d, cands, scorer, split=Split.TEST)
    assert report.threshold == pytest.approx(0.6, abs=0.1 + 1e-9)  # chosen on VALID (scores 0.7, 0.6)
    m = report.overall
    assert m.n_positives == 2 and m.n_missed == 1
    # ranking f3-m12 first gives AP 1 on what blocking kept, halved by the lost match
    assert m.pr_auc == pytest.approx(0.5)
    assert m.recall == pytest.approx(0.5)
    # p3 -> q10 scores 0.8 above the threshold and is wrong: precision 1/2
    assert m.precision == pytest.approx(0.5)
    # Hit@1: f3 ranks its match first; p3's match is not among its candidates (rank inf)
    assert m.n_queries == 2 and m.hit_at_1 == 0.5 and m.mrr == 0.5
    per_type = dict(report.per_type)
    assert per_type["film"].hit_at_1 == 1.0 and per_type["person"].hit_at_1 == 0.0
    assert per_type["person"].n_missed == 1
    assert "ALL" in format_report(report)


def test_threshold_is_never_chosen_on_the_reported_split(tiny_project):
    d = load_project(tiny_project)
    cands = _cands(d, [("f2", "m11"), ("f2", "m10"), ("p2", "q11"), ("p2", "q10"),
                       ("f3", "m12"), ("f3", "m10"), ("p3", "q12"), ("p3", "q10")])
    # on VALID the matches score 0.9, on TEST only 0.4 (a shifted distribution)
    table = {("f2", "m11"): 0.9, ("p2", "q11"): 0.9, ("f3", "m12"): 0.4, ("p3", "q12"): 0.4}
    scorer = TableScorer(d, table, default=0.1)
    assert choose_threshold(d, cands, scorer, Split.VALID) > 0.4
    report = evaluate(d, cands, scorer, split=Split.TEST)
    assert report.overall.recall == 0.0 and report.overall.f1 == 0.0  # honest: the VALID threshold misses
    assert report.overall.pr_auc == 1.0  # while the ranking itself is perfect


def test_labelled_protocol_uses_exactly_the_labelled_pairs(tmp_path):
    links = LINKS + "f3\tm10\t0\ttest\np3\tq10\t0\ttest\nf2\tm10\t0\tvalid\n"
    d = load_project(write_tiny_project(tmp_path / "p", **{"links.tsv": links}))
    cands, _ = block(d, BlockingConfig(top_k=3))
    pairs = evaluation_pairs(d, cands, Split.TEST)
    assert pairs.protocol == "labelled pairs"
    assert sorted(zip(d.left.entity_ids[pairs.left], d.right.entity_ids[pairs.right], pairs.label)) == [
        ("f3", "m10", 0), ("f3", "m12", 1), ("p3", "q10", 0), ("p3", "q12", 1)]
    report = evaluate(d, cands, NameTfidfScorer(d), split=Split.TEST)
    assert report.protocol == "labelled pairs" and report.overall.n_pairs == 4


def test_name_baselines_run_and_rank_variants_first(tiny_project):
    d = load_project(tiny_project)
    cands, _ = block(d, BlockingConfig(top_k=3))
    report = evaluate(d, cands, NameTfidfScorer(d), split=Split.TEST, kg_protocol=True)
    assert report.overall.hit_at_1 == 1.0
    assert {k.type for k in report.kg_ranking} == {"film", "person"}
    assert all(k.hits_at_1 == 1.0 for k in report.kg_ranking)
    left, right, types, labels = training_pairs(d, cands)
    assert labels.sum() == 2 and (labels == 0).sum() > 0  # candidates of train entities serve as negatives
    logreg = NameLogRegScorer(d, cands)
    scores = logreg.score_pairs(left, right, types)
    assert scores[labels == 1].min() > scores[labels == 0].max()


def test_protocol_is_chosen_per_type(tmp_path):
    """Films have labelled non-matches, people only positives: each type is judged its own way."""
    links = LINKS + "f3\tm10\t0\ttest\n"
    d = load_project(write_tiny_project(tmp_path / "p", **{"links.tsv": links}))
    cands = _cands(d, [("f3", "m12"), ("f3", "m11"), ("p3", "q12"), ("p3", "q10")])
    pairs = evaluation_pairs(d, cands, Split.TEST)
    assert pairs.protocol == "mixed"
    got = sorted(zip(d.left.entity_ids[pairs.left], d.right.entity_ids[pairs.right], pairs.label.tolist()))
    # films: exactly the labelled pairs (not the candidate f3-m11); people: their candidates
    assert got == [("f3", "m10", 0), ("f3", "m12", 1), ("p3", "q10", 0), ("p3", "q12", 1)]
    left, right, types, labels = training_pairs(d, cands)
    assert labels.sum() == 2  # the train positives of both types
