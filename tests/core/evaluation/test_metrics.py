"""Tests for core.evaluation.metrics: hand-checked tiny cases, agreement with scikit-learn and brute force on
seeded random inputs (ties included), invariance to row order, and undefined cases raising.

Random cases use fixed seeds over several sizes, and scores rounded to one decimal half of the
time so that ties (the tricky part of every metric here) occur often.
"""

from __future__ import annotations

import doctest
from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
)

import core.evaluation.metrics as metrics
from core.evaluation.metrics import (
    best_f1_threshold,
    candidate_ranks,
    full_ranking_ranks,
    hits_at_k_score,
    mrr_score,
    pr_auc_score,
    precision_recall_f1,
    recall_at_precision_score,
)

# sklearn's average_precision_score example: AP = 1/2 * 1 + 1/2 * 2/3.
SK_LABELS = [0, 0, 1, 1]
SK_SCORES = [0.1, 0.4, 0.35, 0.8]

SIZES = (1, 2, 5, 30, 200)
SEEDS = (0, 1, 2)


def random_pairs(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with at least one positive; scores with many ties on odd seeds."""
    rng = np.random.default_rng(seed * 1000 + size)
    labels = (rng.random(size) < 0.3).astype(int)
    labels[rng.integers(size)] = 1
    scores = rng.normal(size=size) + labels  # positives score higher on average
    if seed % 2:
        scores = np.round(scores, 1)
    return labels, scores


CASES = [(seed, size) for seed in SEEDS for size in SIZES]


def test_docstring_examples_hold():
    result = doctest.testmod(metrics, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 15
    assert result.failed == 0


# --------------------------------------------------------------------------------------------
# pr_auc_score
# --------------------------------------------------------------------------------------------


def test_pr_auc_sklearn_example():
    assert pr_auc_score(SK_LABELS, SK_SCORES) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_pr_auc_n_positives_rescales_recall_by_hand():
    # Two more true matches were lost by blocking: every recall step halves.
    assert pr_auc_score(SK_LABELS, SK_SCORES, n_positives=4) == pytest.approx(0.5 * (0.5 + 1 / 3))
    # Equal to the positives present: no change.
    assert pr_auc_score(SK_LABELS, SK_SCORES, n_positives=2) == pytest.approx(5 / 6)


@pytest.mark.parametrize("seed,size", CASES)
def test_pr_auc_matches_sklearn(seed, size):
    """Computed in sklearn's own steps (so that evaluating needs no sklearn import): equal, not close."""
    labels, scores = random_pairs(seed, size)
    assert pr_auc_score(labels, scores) == average_precision_score(labels, scores)


@pytest.mark.parametrize("scores", [[0.5, 0.5, 0.5, 0.5], [1.0, 0.0, 1.0, 0.0], [0.2, 0.9, 0.9, 0.1]])
def test_pr_auc_with_ties_and_one_value_matches_sklearn(scores):
    labels = np.array([1, 0, 0, 1])
    assert pr_auc_score(labels, np.array(scores)) == average_precision_score(labels, scores)
    assert pr_auc_score([1], [0.3]) == average_precision_score([1], [0.3]) == 1.0


@pytest.mark.parametrize("seed,size", CASES)
def test_pr_auc_n_positives_is_step_integral_with_rescaled_recall(seed, size):
    labels, scores = random_pairs(seed, size)
    n_positives = int(labels.sum()) + 3
    precision, recall, _ = precision_recall_curve(labels, scores)
    recall = recall * labels.sum() / n_positives
    expected = -np.sum(np.diff(recall) * precision[:-1])  # sklearn's AP formula
    assert pr_auc_score(labels, scores, n_positives=n_positives) == pytest.approx(expected)


def test_pr_auc_no_positive_scored_but_some_exist_is_zero():
    assert pr_auc_score([0, 0], [0.2, 0.9], n_positives=3) == 0.0
    assert pr_auc_score([], [], n_positives=3) == 0.0


def test_pr_auc_accepts_bool_and_float_labels():
    expected = pr_auc_score(SK_LABELS, SK_SCORES)
    assert pr_auc_score(np.array(SK_LABELS, dtype=bool), SK_SCORES) == expected
    assert pr_auc_score(np.array(SK_LABELS, dtype=float), SK_SCORES) == expected


# --------------------------------------------------------------------------------------------
# precision_recall_f1
# --------------------------------------------------------------------------------------------


def test_precision_recall_f1_by_hand():
    # Threshold 0.35 predicts 0.8 (true), 0.4 (false), 0.35 (true): score == threshold counts.
    precision, recall, f1 = precision_recall_f1(SK_LABELS, SK_SCORES, 0.35)
    assert (precision, recall, f1) == pytest.approx((2 / 3, 1.0, 0.8))
    precision, recall, f1 = precision_recall_f1(SK_LABELS, SK_SCORES, 0.35, n_positives=4)
    assert (precision, recall, f1) == pytest.approx((2 / 3, 0.5, 4 / 7))


def test_precision_is_zero_when_nothing_predicted():
    assert precision_recall_f1(SK_LABELS, SK_SCORES, 0.81) == (0.0, 0.0, 0.0)
    assert precision_recall_f1(SK_LABELS, SK_SCORES, np.inf) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("seed,size", CASES)
def test_precision_recall_f1_matches_sklearn(seed, size):
    labels, scores = random_pairs(seed, size)
    rng = np.random.default_rng(seed)
    thresholds = [*rng.choice(scores, size=min(size, 5)), scores.max() + 1, scores.min() - 1]
    for threshold in thresholds:
        predicted = scores >= threshold
        expected = (
            precision_score(labels, predicted, zero_division=0),
            recall_score(labels, predicted, zero_division=0),
            f1_score(labels, predicted, zero_division=0),
        )
        assert precision_recall_f1(labels, scores, threshold) == pytest.approx(expected)


@pytest.mark.parametrize("seed,size", CASES)
def test_precision_recall_f1_n_positives_counts_lost_matches_as_missed(seed, size):
    # A true match lost by blocking is a positive that is never predicted.
    labels, scores = random_pairs(seed, size)
    lost = 4
    threshold = float(np.median(scores))
    predicted = scores >= threshold
    all_labels = np.r_[labels, np.ones(lost, dtype=int)]
    all_predicted = np.r_[predicted, np.zeros(lost, dtype=bool)]
    expected = (
        precision_score(all_labels, all_predicted, zero_division=0),
        recall_score(all_labels, all_predicted, zero_division=0),
        f1_score(all_labels, all_predicted, zero_division=0),
    )
    got = precision_recall_f1(labels, scores, threshold, n_positives=int(labels.sum()) + lost)
    assert got == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# best_f1_threshold
# --------------------------------------------------------------------------------------------


def brute_force_best(labels, scores, n_positives=None):
    """(highest score with maximal exact F1, that F1), trying every distinct score."""
    total = int(labels.sum()) if n_positives is None else n_positives
    best_score, best_f1 = None, Fraction(-1)
    for score in sorted(set(scores.tolist()), reverse=True):
        predicted = scores >= score
        f1 = Fraction(2 * int((predicted & (labels == 1)).sum()), int(predicted.sum()) + total)
        if f1 > best_f1:  # strict: on ties the earlier (higher) score stays
            best_score, best_f1 = score, f1
    return best_score, best_f1


def test_best_f1_by_hand_returns_midpoint():
    # F1 at thresholds 0.8, 0.4, 0.35, 0.1: 2/3, 1/2, 4/5, 2/3.
    threshold, f1 = best_f1_threshold(SK_LABELS, SK_SCORES)
    assert f1 == pytest.approx(0.8)
    assert threshold == pytest.approx((0.35 + 0.1) / 2)


def test_best_f1_tie_goes_to_highest_threshold():
    # Sorted by score, labels 1, 0, 0, 1: F1 = 2/3, 2/4, 2/5, 4/6; 0.9 and 0.2 tie at 2/3.
    labels, scores = [1, 0, 0, 1], [0.9, 0.6, 0.5, 0.2]
    threshold, f1 = best_f1_threshold(labels, scores)
    assert f1 == pytest.approx(2 / 3)
    assert threshold == pytest.approx((0.9 + 0.6) / 2)


def test_best_f1_n_positives_changes_the_choice():
    # One lost match: F1 = 2/4, 2/5, 2/6, 4/7, so predicting all four now wins.
    labels, scores = [1, 0, 0, 1], [0.9, 0.6, 0.5, 0.2]
    threshold, f1 = best_f1_threshold(labels, scores, n_positives=3)
    assert f1 == pytest.approx(4 / 7)
    assert threshold == 0.2  # the lowest score has no lower neighbour: returned as is


@pytest.mark.parametrize("lower", [1.0, np.nextafter(1.0, 0.0)])
def test_best_f1_adjacent_floats_keep_the_predictions(lower):
    # Between adjacent floats the midpoint rounds to one of them; for 1.0 and the next float up
    # it rounds (half to even) down onto 1.0, which would also predict the non-match.
    chosen = np.nextafter(lower, 2.0)
    threshold, f1 = best_f1_threshold([1, 0], [chosen, lower])
    assert f1 == 1.0
    assert lower < threshold <= chosen
    assert precision_recall_f1([1, 0], [chosen, lower], threshold)[2] == 1.0


@pytest.mark.parametrize("lost", [None, 0, 5])
@pytest.mark.parametrize("seed,size", CASES)
def test_best_f1_matches_brute_force(seed, size, lost):
    labels, scores = random_pairs(seed, size)
    n_positives = None if lost is None else int(labels.sum()) + lost
    threshold, f1 = best_f1_threshold(labels, scores, n_positives=n_positives)
    best_score, best_f1 = brute_force_best(labels, scores, n_positives)
    assert f1 == pytest.approx(float(best_f1))
    # The returned threshold predicts exactly what the best score predicts ...
    np.testing.assert_array_equal(scores >= threshold, scores >= best_score)
    assert precision_recall_f1(labels, scores, threshold, n_positives=n_positives)[2] == pytest.approx(f1)
    # ... and sits halfway to the next lower distinct score.
    lower = scores[scores < best_score]
    expected = (best_score + lower.max()) / 2 if len(lower) else best_score
    assert threshold == pytest.approx(expected)


@pytest.mark.parametrize("seed,size", CASES)
def test_best_f1_agrees_with_sklearn_f1_at_every_threshold(seed, size):
    labels, scores = random_pairs(seed, size)
    sklearn_best = max(f1_score(labels, scores >= s) for s in np.unique(scores))
    assert best_f1_threshold(labels, scores)[1] == pytest.approx(sklearn_best)


# --------------------------------------------------------------------------------------------
# recall_at_precision_score
# --------------------------------------------------------------------------------------------


def test_recall_at_precision_by_hand():
    # Precision 1, 1/2, 2/3, 1/2 and recall 1/2, 1/2, 1, 1 at thresholds 0.8, 0.4, 0.35, 0.1.
    assert recall_at_precision_score(SK_LABELS, SK_SCORES) == 0.5
    assert recall_at_precision_score(SK_LABELS, SK_SCORES, min_precision=0.6) == 1.0
    assert recall_at_precision_score(SK_LABELS, SK_SCORES, min_precision=0.0) == 1.0
    assert recall_at_precision_score(SK_LABELS, SK_SCORES, n_positives=4) == 0.25


def test_recall_at_precision_zero_when_unreachable():
    # The top pair is a non-match and ties with nothing: precision never reaches 0.95.
    assert recall_at_precision_score([0, 1, 1, 0], [0.9, 0.8, 0.7, 0.1]) == 0.0


def test_recall_at_precision_boundary_is_inclusive():
    # 18 matches, 1 non-match, 1 match: at the 20th pair precision is exactly 19/20 = 0.95.
    labels = np.r_[np.ones(18), 0, 1, 0].astype(int)
    scores = -np.arange(len(labels), dtype=float)
    assert recall_at_precision_score(labels, scores, min_precision=0.95) == 1.0
    assert recall_at_precision_score(labels, scores, min_precision=0.951) == pytest.approx(18 / 19)


@pytest.mark.parametrize("min_precision", [0.5, 0.8, 0.95, 1.0])
@pytest.mark.parametrize("seed,size", CASES)
def test_recall_at_precision_matches_sklearn_curve(seed, size, min_precision):
    labels, scores = random_pairs(seed, size)
    precision, recall, _ = precision_recall_curve(labels, scores)
    ok = precision >= min_precision  # the curve's last point (1, 0) gives the 0.0 fallback
    expected = recall[ok].max()
    assert recall_at_precision_score(labels, scores, min_precision=min_precision) == pytest.approx(expected)
    n_positives = int(labels.sum()) * 2
    rescaled = recall_at_precision_score(labels, scores, min_precision=min_precision, n_positives=n_positives)
    assert rescaled == pytest.approx(expected / 2)


# --------------------------------------------------------------------------------------------
# Invariance and errors shared by the pair metrics
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed,size", [(1, 30), (3, 200), (5, 200)])
def test_pair_metrics_ignore_row_order(seed, size):
    labels, scores = random_pairs(seed, size)
    order = np.random.default_rng(seed).permutation(size)
    n_positives = int(labels.sum()) + 2
    for fn in (pr_auc_score, best_f1_threshold, recall_at_precision_score):
        assert fn(labels[order], scores[order], n_positives=n_positives) == fn(
            labels, scores, n_positives=n_positives
        )
    threshold = float(np.median(scores))
    assert precision_recall_f1(labels[order], scores[order], threshold) == precision_recall_f1(
        labels, scores, threshold
    )


PAIR_METRICS = [
    pytest.param(lambda l, s, **kw: pr_auc_score(l, s, **kw), id="pr_auc"),
    pytest.param(lambda l, s, **kw: precision_recall_f1(l, s, 0.5, **kw), id="prf1"),
    pytest.param(lambda l, s, **kw: best_f1_threshold(l, s, **kw), id="best_f1"),
    pytest.param(lambda l, s, **kw: recall_at_precision_score(l, s, **kw), id="rec_at_p"),
]


@pytest.mark.parametrize("metric", PAIR_METRICS)
def test_pair_metrics_raise_on_undefined_or_bad_input(metric):
    with pytest.raises(ValueError, match="recall is undefined.*not given"):
        metric([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="recall is undefined.*is 0"):
        metric([0, 0], [0.1, 0.2], n_positives=0)
    with pytest.raises(ValueError, match="smaller than the 2 positive labels present"):
        metric([1, 1], [0.1, 0.2], n_positives=1)
    with pytest.raises(ValueError, match="n_positives must be an integer"):
        metric([1, 1], [0.1, 0.2], n_positives=2.5)
    with pytest.raises(ValueError, match="NaN"):
        metric([1, 0], [np.nan, 0.2])
    with pytest.raises(ValueError, match="inf"):
        metric([1, 0], [np.inf, 0.2])
    with pytest.raises(ValueError, match="only 0 and 1.*2"):
        metric([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="has 3 values but labels has 2"):
        metric([1, 0], [0.1, 0.2, 0.3])


def test_pair_metric_specific_errors():
    with pytest.raises(ValueError, match="no scored pairs"):
        best_f1_threshold([], [], n_positives=2)
    with pytest.raises(ValueError, match=r"min_precision must be a number in \[0, 1\]"):
        recall_at_precision_score(SK_LABELS, SK_SCORES, min_precision=95)
    with pytest.raises(ValueError, match="threshold must be a number"):
        precision_recall_f1(SK_LABELS, SK_SCORES, np.nan)


# --------------------------------------------------------------------------------------------
# candidate_ranks
# --------------------------------------------------------------------------------------------


def loop_candidate_ranks(query_ids, scores, labels, expected=None):
    """Reference: the rank definition applied query by query, true candidate by true candidate."""
    query_ids, scores, labels = map(np.asarray, (query_ids, scores, labels))
    with_truth = sorted(set(query_ids[labels == 1].tolist()))
    wanted = with_truth if expected is None else sorted(set(np.asarray(expected).tolist()))
    out = []
    for q in wanted:
        rows = np.flatnonzero(query_ids == q)
        best = np.inf
        for i in rows[labels[rows] == 1]:
            higher = (scores[rows] > scores[i]).sum()
            equal_other_wrong = ((scores[rows] == scores[i]) & (labels[rows] == 0)).sum()
            best = min(best, 1 + higher + equal_other_wrong)
        out.append(float(best))
    return np.array(out)


def random_candidates(seed: int, n_queries: int):
    """Up to 6 candidates per query, integer scores in 0..4 (many ties), 0-2 true each."""
    rng = np.random.default_rng(seed)
    per_query = rng.integers(1, 7, size=n_queries)
    query_ids = np.repeat(np.arange(n_queries) * 10, per_query)  # sparse ids: not 0..n-1
    scores = rng.integers(0, 5, size=len(query_ids)).astype(float)
    labels = (rng.random(len(query_ids)) < 0.25).astype(int)
    order = rng.permutation(len(query_ids))
    return query_ids[order], scores[order], labels[order]


def test_candidate_ranks_by_hand():
    query_ids = ["a"] * 5 + ["b"] * 2 + ["c"] * 3 + ["e"]
    scores = [0.9, 0.7, 0.7, 0.7, 0.2] + [0.5, 0.5] + [0.7, 0.7, 0.7] + [0.1]
    labels = [0, 1, 0, 1, 0] + [1, 0] + [1, 1, 0] + [0]
    # a: 0.9 above, one wrong tie (the other true tie does not count) -> 3.
    # b: true ties with a wrong one -> 2. c: two true tie with one wrong -> 2. e: no true match.
    np.testing.assert_array_equal(candidate_ranks(query_ids, scores, labels), [3.0, 2.0, 2.0])
    # d has no candidate and e no true candidate: both missing -> inf; duplicates count once.
    expected = ["e", "d", "c", "b", "a", "a"]
    np.testing.assert_array_equal(
        candidate_ranks(query_ids, scores, labels, expected_queries=expected), [3.0, 2.0, 2.0, np.inf, np.inf]
    )


def test_candidate_ranks_unique_best_is_one_and_infinite_scores_rank():
    query_ids = [7, 7, 7, 9, 9]
    scores = [np.inf, 1.0, -np.inf, -np.inf, -np.inf]
    labels = [1, 0, 0, 0, 1]
    # 7: true match scores inf, alone at the top. 9: -inf tie with a wrong one -> 2.
    np.testing.assert_array_equal(candidate_ranks(query_ids, scores, labels), [1.0, 2.0])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_queries", [1, 4, 50])
def test_candidate_ranks_match_loop_reference(seed, n_queries):
    query_ids, scores, labels = random_candidates(seed, n_queries)
    np.testing.assert_array_equal(
        candidate_ranks(query_ids, scores, labels), loop_candidate_ranks(query_ids, scores, labels)
    )
    # Expected: everyone with a true candidate, some without, and some with no candidate at all.
    rng = np.random.default_rng(seed)
    expected = np.r_[query_ids[labels == 1], rng.choice(query_ids, 3), [-10, 10**6 + 3]]
    np.testing.assert_array_equal(
        candidate_ranks(query_ids, scores, labels, expected_queries=expected),
        loop_candidate_ranks(query_ids, scores, labels, expected),
    )


@pytest.mark.parametrize("seed", range(4))
def test_candidate_ranks_ignore_candidate_order(seed):
    query_ids, scores, labels = random_candidates(seed, 40)
    order = np.random.default_rng(100 + seed).permutation(len(query_ids))
    expected = np.unique(query_ids)
    for kw in ({}, {"expected_queries": expected}):
        np.testing.assert_array_equal(
            candidate_ranks(query_ids[order], scores[order], labels[order], **kw),
            candidate_ranks(query_ids, scores, labels, **kw),
        )


def test_candidate_ranks_empty_candidates():
    assert candidate_ranks([], [], []).shape == (0,)
    np.testing.assert_array_equal(candidate_ranks([], [], [], expected_queries=[3, 1]), [np.inf, np.inf])


def test_candidate_ranks_errors():
    with pytest.raises(ValueError, match=r"not in expected_queries \(first \['b'\]\)"):
        candidate_ranks(["a", "b"], [0.1, 0.2], [1, 1], expected_queries=["a"])
    with pytest.raises(ValueError, match="NaN"):
        candidate_ranks(["a", "b"], [np.nan, 0.2], [1, 1])
    with pytest.raises(ValueError, match="one id per pair"):
        candidate_ranks(["a"], [0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="only 0 and 1"):
        candidate_ranks(["a", "b"], [0.1, 0.2], [1, 3])


# --------------------------------------------------------------------------------------------
# hits_at_k_score, mrr_score
# --------------------------------------------------------------------------------------------


def test_hit_at_k_and_mrr_by_hand():
    ranks = np.array([1.0, 3.0, 2.0, np.inf])
    assert hits_at_k_score(ranks) == 0.25
    assert hits_at_k_score(ranks, k=2) == 0.5
    assert hits_at_k_score(ranks, k=10) == 0.75
    assert mrr_score(ranks) == pytest.approx((1 + 1 / 3 + 1 / 2 + 0) / 4)
    assert mrr_score([np.inf, np.inf]) == 0.0
    assert mrr_score(np.array([1, 1], dtype=np.int64)) == 1.0


def test_hit_at_k_and_mrr_errors():
    for fn in (hits_at_k_score, mrr_score):
        with pytest.raises(ValueError, match="ranks is empty"):
            fn([])
        with pytest.raises(ValueError, match="NaN"):
            fn([1.0, np.nan])
        with pytest.raises(ValueError, match="1-based"):
            fn([0.0, 1.0])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        hits_at_k_score([1.0], k=0)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        hits_at_k_score([1.0], k=1.5)


# --------------------------------------------------------------------------------------------
# full_ranking_ranks
# --------------------------------------------------------------------------------------------


def loop_full_ranks(score_matrix, true_columns):
    out = []
    for row, column in zip(score_matrix, true_columns):
        others = np.delete(row, column)
        out.append(1 + (row > row[column]).sum() + (others == row[column]).sum())
    return np.array(out, dtype=float)


def test_full_ranking_by_hand():
    score_matrix = np.array([[0.9, 0.5, 0.1], [0.3, 0.3, 0.0], [0.2, 0.2, 0.2], [-np.inf, 1.0, 0.0]])
    # 1 higher -> 2; tie with one other -> 2; all three tie -> 3; unique best -> 1.
    np.testing.assert_array_equal(full_ranking_ranks(score_matrix, [1, 0, 2, 1]), [2.0, 2.0, 3.0, 1.0])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (40, 25)])
def test_full_ranking_matches_loop_and_chunking(seed, shape):
    rng = np.random.default_rng(seed)
    score_matrix = rng.integers(0, 4, size=shape).astype(float)  # many ties
    true_columns = rng.integers(0, shape[1], size=shape[0])
    expected = loop_full_ranks(score_matrix, true_columns)
    for chunk_rows in (None, 1, 3, 1000):
        ranks = full_ranking_ranks(score_matrix, true_columns, chunk_rows=chunk_rows)
        np.testing.assert_array_equal(ranks, expected)
    # Reordering the targets (and the true columns with them) changes nothing.
    perm = rng.permutation(shape[1])
    inverse = np.argsort(perm)
    np.testing.assert_array_equal(full_ranking_ranks(score_matrix[:, perm], inverse[true_columns]), expected)


def test_full_ranking_agrees_with_candidate_ranks_on_all_pairs():
    rng = np.random.default_rng(7)
    score_matrix = np.round(rng.normal(size=(12, 9)), 1)
    true_columns = rng.integers(0, 9, size=12)
    query_ids = np.repeat(np.arange(12), 9)
    labels = (np.arange(9)[None, :] == true_columns[:, None]).ravel()
    np.testing.assert_array_equal(
        candidate_ranks(query_ids, score_matrix.ravel(), labels),
        full_ranking_ranks(score_matrix, true_columns),
    )


def test_full_ranking_errors():
    with pytest.raises(ValueError, match="NaN.*row 1"):
        full_ranking_ranks([[0.1, 0.2], [np.nan, 0.3]], [0, 1], chunk_rows=1)
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\)"):
        full_ranking_ranks([[0.1, 0.2]], [2])
    with pytest.raises(ValueError, match="integer column indices"):
        full_ranking_ranks([[0.1, 0.2]], [0.0])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        full_ranking_ranks([[0.1, 0.2], [0.3, 0.4]], [0])
    with pytest.raises(ValueError, match="must be 2-D"):
        full_ranking_ranks([0.1, 0.2], [0])
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        full_ranking_ranks([[0.1, 0.2]], [0], chunk_rows=0)
