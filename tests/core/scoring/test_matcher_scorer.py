"""The matcher adapter: distances computed once, candidates looked up, other pairs scored apart.

A small stand-in matcher that keeps the contract of ``core.matching.matcher`` (score(dataset,
candidates, gnn=, extra_matches=) -> MatchScores-like) records what it is asked, so the tests
see which pairs reach it and the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from core.data.candidates import CandidatePairs
from core.scoring.matcher_scorer import CachedDistances, MatcherScorer


class CountingModel:
    """distances = left + right / 10, counting the pairs asked for."""

    def __init__(self):
        self.asked = 0

    def distances(self, left, right):
        self.asked += len(left)
        return np.asarray(left, dtype=float) + np.asarray(right, dtype=float) / 10


@dataclass
class Scores:
    probability: np.ndarray
    log_odds: np.ndarray
    contributions: np.ndarray
    group_names: tuple
    baseline: float
    decided: np.ndarray


class StandInMatcher:
    """log-odds = baseline + (name: 1 - right) + (gnn: -distance); decided = the best right per left."""

    threshold = 0.5

    def __init__(self):
        self.calls = []

    def score(self, dataset, candidates, *, gnn=None, extra_matches=None):
        self.calls.append(len(candidates))
        name = 1.0 - candidates.right.astype(float)
        structure = -gnn(candidates.left, candidates.right)
        contributions = np.column_stack([name, structure])
        log_odds = 0.5 + contributions.sum(1)
        decided = np.zeros(len(candidates), dtype=bool)
        for left in np.unique(candidates.left):
            rows = np.flatnonzero(candidates.left == left)
            decided[rows[np.argmax(log_odds[rows])]] = True
        return Scores(1 / (1 + np.exp(-log_odds)), log_odds, contributions, ("name", "gnn"), 0.5, decided)


class Side:
    def __init__(self, n):
        self.n_entities = n


class Data:
    left, right = Side(3), Side(4)


def _candidates():
    left, right = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 2, 3])
    return CandidatePairs(left, right, np.zeros(5, dtype=np.int64), np.zeros(5))


def test_cached_distances_run_the_model_once_per_pair():
    model = CountingModel()
    cache = CachedDistances(model, 4, left=np.array([0, 1]), right=np.array([0, 1]), distances=np.array([7.0, 8.0]))
    assert cache(np.array([1, 0]), np.array([1, 0])).tolist() == [8.0, 7.0]  # known: the model is not asked
    assert model.asked == 0
    assert cache(np.array([2, 2, 1]), np.array([3, 3, 1])).tolist() == [2.3, 2.3, 8.0]
    assert model.asked == 1  # the one new pair, once
    cache(np.array([2]), np.array([3]))
    assert model.asked == 1 and len(cache) == 3
    with pytest.raises(ValueError, match="no stored GNN distance"):
        CachedDistances(None, 4)(np.array([0]), np.array([0]))


def test_candidates_are_scored_together_once_and_other_pairs_apart():
    matcher, model = StandInMatcher(), CountingModel()
    scorer = MatcherScorer(matcher, model, Data(), _candidates())
    scores = scorer.match_scores(np.array([1, 0]), np.array([2, 0]))
    assert matcher.calls == [5]  # every candidate at once (the 1-to-1 step sees them all)
    assert scores.is_candidate.tolist() == [True, True]
    # (1, 2): name 1 - 2 = -1, gnn -(1 + 0.2) = -1.2, baseline 0.5
    assert scores.log_odds[0] == pytest.approx(-1.7)
    assert scores.contributions[0].tolist() == pytest.approx([-1.0, -1.2])
    assert np.allclose(scores.baseline + scores.contributions.sum(1), scores.log_odds)
    assert scores.decided.tolist() == [False, True]  # left 1's best is right 1, left 0's is right 0
    assert scorer.score_pairs(np.array([0]), np.array([0])).tolist() == pytest.approx([1 / (1 + np.exp(-1.5))])
    assert matcher.calls == [5]  # looked up, not scored again
    assert model.asked == 5

    other = scorer.match_scores(np.array([2, 0]), np.array([0, 1]), np.array([0, 0]))  # (2, 0) is not a candidate
    assert other.is_candidate.tolist() == [False, True] and matcher.calls == [5, 1]
    assert other.log_odds[0] == pytest.approx(0.5 + 1.0 - 2.0)
    assert scorer.distances(np.array([0]), np.array([1])).tolist() == [0.1]
    assert model.asked == 6


def test_the_same_other_pairs_asked_again_in_another_order_are_not_scored_again():
    """An evaluation asks for the labelled non-candidates twice (report, then decisions), in two orders."""
    matcher, model = StandInMatcher(), CountingModel()
    scorer = MatcherScorer(matcher, model, Data(), _candidates())
    left, right, types = np.array([2, 1, 0]), np.array([0, 3, 2]), np.zeros(3, dtype=np.int64)  # none a candidate
    first = scorer.match_scores(left, right, types)
    assert matcher.calls == [5, 3]
    flip = np.array([1, 2, 0])
    again = scorer.match_scores(left[flip], right[flip], types[flip])
    assert matcher.calls == [5, 3]  # the same set of pairs: the kept figures, in the new order
    for name in ("probability", "log_odds", "contributions", "decided"):
        assert np.array_equal(getattr(again, name), getattr(first, name)[flip]), name
    scorer.match_scores(left[:2], right[:2], types[:2])  # another set: scored on its own
    assert matcher.calls == [5, 3, 2]
    scorer.match_scores(left[:2], right[:2], np.ones(2, dtype=np.int64))  # other types: scored again
    assert matcher.calls == [5, 3, 2, 2]
