"""Alignment metrics: pure, vectorised functions of labels, scores and ranks.

Two families, as in DESIGN.md section 3:

* **Pair classification** over the blocked candidate pairs (one row per pair, label 1 = the same
  real-world entity): :func:`pr_auc_score`, :func:`precision_recall_f1`,
  :func:`best_f1_threshold` and :func:`recall_at_precision_score`. Each takes ``n_positives``,
  the number of true matches *including those blocking lost*, because a pair that never became a
  candidate can never be found: measuring recall only against the positives that survived
  blocking would reward a blocker that throws matches away.
* **Ranking** of the true counterpart: :func:`candidate_ranks` ranks it among each left entity's
  blocked candidates (the paper's Hit@1), :func:`full_ranking_ranks` among all right entities of
  the type (the KG-benchmark protocol, to compare with published tables). Both return float
  ranks, 1 = best, ``inf`` = true match not among the candidates, which
  :func:`hits_at_k_score` and :func:`mrr_score` summarise.

Names carry their direction, as in scikit-learn: ``*_score`` is higher-is-better. Ties are
counted pessimistically everywhere: a model that gives every candidate the same score must not
get credit for the order the rows happened to arrive in, and the results do not depend on that
order.

Nothing here prints, reads files or keeps state. Undefined cases (no positives at all, NaN
scores, empty rank lists) raise :class:`ValueError` naming the problem and the fix.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = [
    "pr_auc_score",
    "precision_recall_f1",
    "best_f1_threshold",
    "recall_at_precision_score",
    "candidate_ranks",
    "hits_at_k_score",
    "mrr_score",
    "full_ranking_ranks",
]

# Default bound on the boolean temporary in full_ranking_ranks (elements = bytes): 16 MiB.
_FULL_RANKING_CHUNK_ELEMENTS = 1 << 24


# --------------------------------------------------------------------------------------------
# Input checks (shared)
# --------------------------------------------------------------------------------------------


def _as_labels(labels, name: str = "labels") -> np.ndarray:
    """1-D bool array from 0/1 or bool values; anything else raises."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if arr.size and not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must hold 0/1 or booleans, got dtype {arr.dtype}")
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        found = np.unique(arr[bad])[:5].tolist()
        raise ValueError(f"{name} must hold only 0 and 1 (1 = true match), found {found}")
    return arr == 1


def _as_scores(scores, n: int, *, allow_inf: bool, name: str = "scores") -> np.ndarray:
    """1-D float64 array of length n, without NaN (and without inf unless allowed)."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} values but labels has {n}; pass one score per pair")
    _check_no_nan(arr, name)
    if not allow_inf and np.isinf(arr).any():
        raise ValueError(
            f"{name} contains inf at {int(np.flatnonzero(np.isinf(arr))[0])}; "
            "precision-recall metrics need finite scores (clip or drop those pairs)"
        )
    return arr


def _check_no_nan(arr: np.ndarray, name: str) -> None:
    nan = np.isnan(arr)
    if nan.any():
        where = np.argwhere(nan)[:5].tolist()
        raise ValueError(
            f"{name} contains {int(nan.sum())} NaN values (first positions {where}); a NaN score "
            "cannot be ranked or thresholded: fix the model output (e.g. 0/0 in attention)"
        )


def _total_positives(labels: np.ndarray, n_positives) -> int:
    """Denominator of recall: ``n_positives`` when given, else the positives present."""
    present = int(labels.sum())
    if n_positives is None:
        total = present
    else:
        if isinstance(n_positives, bool) or not isinstance(n_positives, Integral):
            raise ValueError(f"n_positives must be an integer count of true matches, got {n_positives!r}")
        total = int(n_positives)
        if total < present:
            raise ValueError(
                f"n_positives={total} is smaller than the {present} positive labels present; it must "
                "count all true matches, including those among the scored pairs"
            )
    if total == 0:
        raise ValueError(
            "recall is undefined: labels has no positive and n_positives is "
            f"{'not given' if n_positives is None else 0}; pass n_positives > 0 (the number of true "
            "matches, including those lost by blocking) or evaluate a split that has true matches"
        )
    return total


def _threshold_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions at every distinct score used as threshold (predict ``score >= threshold``).

    Returns ``(thresholds, true_positives, predicted)``, each of shape (n_distinct,), thresholds in
    decreasing order. Counts are integers (the same sort-and-cumsum as sklearn's private
    ``_binary_clf_curve``, which ``precision_recall_curve`` turns into floats), so equal F1 values
    compare equal exactly and the tie rule of :func:`best_f1_threshold` is deterministic.
    """
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    # Last position of each run of equal scores: all pairs of that score are predicted together.
    run_ends = np.r_[sorted_scores[1:] != sorted_scores[:-1], True] if len(scores) else np.zeros(0, bool)
    last = np.flatnonzero(run_ends)
    true_positives = np.cumsum(labels[order], dtype=np.int64)[last]
    return sorted_scores[last], true_positives, last.astype(np.int64) + 1


# --------------------------------------------------------------------------------------------
# Pair classification
# --------------------------------------------------------------------------------------------


def pr_auc_score(labels, scores, *, n_positives: int | None = None) -> float:
    """Area under the precision-recall curve, as average precision (higher is better).

    AP = sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds (sklearn
    :func:`~sklearn.metrics.average_precision_score`: a step function, no interpolation).
    With ``n_positives`` recall is R_n = TP_n / n_positives instead of TP_n / positives present;
    every recall step shrinks by the same factor, so the result is
    ``AP_present * positives_present / n_positives``. Matches lost by blocking thus cost PRAUC in
    proportion, as they would if they were scored last and never retrieved.

    Parameters
    ----------
    labels : (n_pairs,) array of {0, 1} or bool
        1 = the pair is a true match.
    scores : (n_pairs,) float array
        Higher = more likely a match. Must be finite.
    n_positives : int, optional
        Number of true matches in the evaluated population, including those not among the scored
        pairs. Default: the positives in ``labels``.

    Returns
    -------
    pr_auc : float in [0, 1]

    Raises
    ------
    ValueError
        Shapes differ, labels not 0/1, scores not finite; no positive at all (``labels`` has none
        and ``n_positives`` is missing or 0); ``n_positives`` below the positives present.

    Examples
    --------
    sklearn's example: the positives score 0.8 (rank 1) and 0.35 (rank 3), so
    AP = 1/2 * 1 + 1/2 * 2/3 = 0.833. If two more true matches were lost by blocking,
    recall is halved at every step.

    >>> labels = [0, 0, 1, 1]
    >>> scores = [0.1, 0.4, 0.35, 0.8]
    >>> round(pr_auc_score(labels, scores), 4)
    0.8333
    >>> round(pr_auc_score(labels, scores, n_positives=4), 4)
    0.4167
    """
    labels = _as_labels(labels)
    scores = _as_scores(scores, len(labels), allow_inf=False)
    total = _total_positives(labels, n_positives)
    present = int(labels.sum())
    if present == 0:
        return 0.0  # n_positives > 0 but none was scored: nothing can be retrieved.
    return average_precision(labels, scores) * present / total


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's ``average_precision_score`` for 0/1 labels with at least one 1, in its own steps.

    The same sums in the same order (ties share one threshold; precision at each distinct score
    times the recall it adds), so the figures are sklearn's. Written out because importing
    scikit-learn costs about 1 CPU-second, which was a quarter of ``mualign evaluate`` once the
    scores are stored.

    >>> average_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.8333333333333333
    """
    order = np.argsort(scores, kind="mergesort")[::-1]
    ranked, hits = scores[order], labels[order].astype(np.float64)
    last_of_tie = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]
    true_positives = np.cumsum(hits)[last_of_tie]
    false_positives = 1 + last_of_tie - true_positives
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / true_positives[-1]
    precision, recall = np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0]
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def precision_recall_f1(
    labels, scores, threshold: float, *, n_positives: int | None = None
) -> tuple[float, float, float]:
    """Precision, recall and F1 when pairs with ``score >= threshold`` are predicted matches.

    precision = TP / predicted, recall = TP / n_positives, F1 = 2 TP / (predicted + n_positives)
    (the harmonic mean of the two). When nothing is predicted, precision is 0.0, not undefined:
    sklearn's ``zero_division=0`` convention, so a threshold above every score is never rewarded.

    Parameters
    ----------
    labels : (n_pairs,) array of {0, 1} or bool
    scores : (n_pairs,) float array, finite
    threshold : float
        Chosen on validation (see :func:`best_f1_threshold`), then applied here to test.
    n_positives : int, optional
        Denominator of recall, counting true matches lost by blocking. Default: positives present.

    Returns
    -------
    precision : float
    recall : float
    f1 : float

    Raises
    ------
    ValueError
        As :func:`pr_auc_score`; also a NaN threshold.

    Examples
    --------
    At threshold 0.35 the pairs scoring 0.8, 0.4 and 0.35 are predicted; two of them are true:
    precision 2/3, recall 2/2, F1 = 2*2 / (3 + 2) = 0.8. Counting two matches lost by blocking,
    recall is 2/4 and F1 = 2*2 / (3 + 4).

    >>> precision_recall_f1([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.35)
    (0.6666666666666666, 1.0, 0.8)
    >>> precision_recall_f1([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.35, n_positives=4)
    (0.6666666666666666, 0.5, 0.5714285714285714)
    """
    labels = _as_labels(labels)
    scores = _as_scores(scores, len(labels), allow_inf=False)
    total = _total_positives(labels, n_positives)
    if not isinstance(threshold, Real) or np.isnan(threshold):
        raise ValueError(f"threshold must be a number, got {threshold!r}")
    predicted = scores >= threshold
    n_predicted = int(predicted.sum())
    true_positives = int((predicted & labels).sum())
    precision = true_positives / n_predicted if n_predicted else 0.0
    recall = true_positives / total
    f1 = 2 * true_positives / (n_predicted + total)
    return precision, recall, f1


def precision_recall_curve_points(labels, scores, *, n_positives: int | None = None):
    """(thresholds decreasing, precision, recall) at every distinct score, for plotting and sliders.

    Recall divides by ``n_positives`` (true matches lost by blocking included), as every metric
    here does, so the curve ends below recall 1 when blocking lost matches.
    """
    labels = _as_labels(labels)
    scores = _as_scores(scores, len(labels), allow_inf=False)
    total = _total_positives(labels, n_positives)
    thresholds, true_positives, predicted = _threshold_counts(labels, scores)
    return thresholds, true_positives / predicted, true_positives / max(total, 1)


def best_f1_threshold(labels, scores, *, n_positives: int | None = None) -> tuple[float, float]:
    """Threshold maximising F1 on these pairs, placed to generalise, and that F1.

    Every distinct score s is tried as "predict score >= s" (vectorised over all of them at
    once). Then two rules fix one threshold:

    1. **Ties in F1 go to the highest score**: it predicts fewest pairs, hence the highest
       precision among equally good choices (what a reviewer wants to see accepted).
    2. **The threshold returned is the midpoint** between that score s and the next lower
       distinct score s_next. Every threshold in (s_next, s] gives the same predictions here,
       so F1 on these pairs is unchanged, but the midpoint leaves the largest margin on both
       sides for unseen pairs (as decision trees split between two values). When s is the
       lowest score (predicting everything is best), s itself is returned.

    Choose the threshold on validation and apply it to test with :func:`precision_recall_f1`;
    never choose it on the split being reported.

    Parameters
    ----------
    labels : (n_pairs,) array of {0, 1} or bool
    scores : (n_pairs,) float array, finite, at least one value
    n_positives : int, optional
        Denominator of recall, counting true matches lost by blocking. It changes which
        threshold is best (a larger denominator favours predicting more).

    Returns
    -------
    threshold : float
        ``precision_recall_f1(labels, scores, threshold)`` gives ``f1`` back.
    f1 : float
        The best F1 over all thresholds.

    Raises
    ------
    ValueError
        As :func:`pr_auc_score`; also no pairs to choose a threshold from.

    Examples
    --------
    Thresholds 0.8, 0.4, 0.35, 0.1 predict 1, 2, 3, 4 pairs with 1, 1, 2, 2 true:
    F1 = 2/3, 1/2, 4/5, 2/3. The best is 0.35, returned as the midpoint (0.35 + 0.1) / 2.

    >>> threshold, f1 = best_f1_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(threshold, 3), f1
    (0.225, 0.8)
    """
    labels = _as_labels(labels)
    scores = _as_scores(scores, len(labels), allow_inf=False)
    total = _total_positives(labels, n_positives)
    if len(scores) == 0:
        raise ValueError("no scored pairs: a threshold cannot be chosen from an empty set")
    thresholds, true_positives, predicted = _threshold_counts(labels, scores)
    # Integer numerator and denominator: equal F1 values are equal floats, so ties are exact.
    f1 = 2.0 * true_positives / (predicted + total)
    best = int(np.argmax(f1))  # first maximum = highest threshold (thresholds decrease)
    chosen = float(thresholds[best])
    if best + 1 < len(thresholds):
        lower = float(thresholds[best + 1])
        midpoint = chosen / 2 + lower / 2  # halves first: no overflow near the float limits
        # Adjacent floats: the midpoint may round onto `lower`, which would also predict it.
        threshold = midpoint if lower < midpoint <= chosen else chosen
    else:
        threshold = chosen
    return threshold, float(f1[best])


def recall_at_precision_score(
    labels, scores, *, min_precision: float = 0.95, n_positives: int | None = None
) -> float:
    """Highest recall among thresholds whose precision is at least ``min_precision``.

    The paper's Rec@P.95: how many true matches can be accepted automatically while at most 5%
    of the accepted pairs are wrong. Thresholds are the distinct scores (predict
    ``score >= threshold``); 0.0 when no threshold reaches the precision.

    Parameters
    ----------
    labels : (n_pairs,) array of {0, 1} or bool
    scores : (n_pairs,) float array, finite
    min_precision : float in [0, 1], default 0.95
    n_positives : int, optional
        Denominator of recall, counting true matches lost by blocking.

    Returns
    -------
    recall : float in [0, 1]

    Raises
    ------
    ValueError
        As :func:`pr_auc_score`; also ``min_precision`` outside [0, 1].

    Examples
    --------
    Thresholds 0.8, 0.4, 0.35, 0.1 have precision 1, 1/2, 2/3, 1/2 and recall 1/2, 1/2, 1, 1.
    Precision >= 0.95 only at 0.8 (recall 0.5); precision >= 0.6 also at 0.35 (recall 1.0).

    >>> recall_at_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.5
    >>> recall_at_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], min_precision=0.6)
    1.0
    """
    labels = _as_labels(labels)
    scores = _as_scores(scores, len(labels), allow_inf=False)
    total = _total_positives(labels, n_positives)
    if not isinstance(min_precision, Real) or not 0.0 <= min_precision <= 1.0:
        raise ValueError(f"min_precision must be a number in [0, 1], got {min_precision!r}")
    _, true_positives, predicted = _threshold_counts(labels, scores)
    # tp / predicted as floats, like sklearn's precision_recall_curve: 19/20 >= 0.95 holds.
    reaches = true_positives / predicted >= min_precision
    if not reaches.any():
        return 0.0
    return float(true_positives[reaches].max() / total)


# --------------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------------


def candidate_ranks(query_ids, scores, labels, *, expected_queries=None) -> np.ndarray:
    """Rank of each query's true match among its blocked candidates (1 = best, inf = missing).

    A query is a left entity; its candidates are the rows sharing its ``query_ids`` value. The
    rank is that of its best-ranked true candidate, with pessimistic ties::

        rank = 1 + #(candidates scoring higher) + #(other non-true candidates scoring equal)

    Other true candidates never push it down (finding either of two true matches is a hit), so
    the rank is 1 + the number of non-true candidates scoring at least the best true score.
    Candidate order does not matter. Computed with one sort of the query ids and grouped
    reductions (``np.maximum.at``, ``np.bincount``), no loop over queries.

    Parameters
    ----------
    query_ids : (n_pairs,) array of int or str
        Left entity of each candidate pair.
    scores : (n_pairs,) float array
        Higher = better. ``-inf``/``inf`` are allowed (e.g. masked pairs); NaN is not.
    labels : (n_pairs,) array of {0, 1} or bool
        1 = the pair is a true match.
    expected_queries : (n_queries,) array, optional
        Every left entity that has a true match, whether or not blocking kept it (e.g. the left
        ids of the split's positive links; duplicates count once). Those whose true match is not
        among their candidates, or who have no candidates, get rank ``inf``, so Hit@k and MRR
        charge blocking losses. Default: only queries with a true candidate.

    Returns
    -------
    ranks : (n_queries,) float64 array
        One rank per expected query (or per query with a true candidate), in sorted query-id
        order, i.e. aligned with ``np.unique(expected_queries)``.

    Raises
    ------
    ValueError
        Lengths differ, labels not 0/1, NaN scores; a query with a true candidate is missing from
        ``expected_queries``.

    Examples
    --------
    Query "a": one wrong candidate above the true one and one wrong candidate tied with it:
    rank 1 + 1 + 1 = 3. Query "b": true and wrong tied: rank 2. Query "c" has only a wrong
    candidate and "d" no candidate at all: both inf when expected.

    >>> query_ids = ["a", "a", "a", "b", "b", "c"]
    >>> scores = [0.9, 0.7, 0.7, 0.5, 0.5, 0.3]
    >>> labels = [0, 1, 0, 1, 0, 0]
    >>> candidate_ranks(query_ids, scores, labels)
    array([3., 2.])
    >>> candidate_ranks(query_ids, scores, labels, expected_queries=["d", "c", "b", "a"])
    array([ 3.,  2., inf, inf])
    """
    labels = _as_labels(labels)
    query_ids = np.asarray(query_ids)
    if query_ids.ndim != 1 or len(query_ids) != len(labels):
        raise ValueError(
            f"query_ids must be 1-D with one id per pair: got shape {query_ids.shape} "
            f"for {len(labels)} labels"
        )
    scores = _as_scores(scores, len(labels), allow_inf=True)

    queries, codes = np.unique(query_ids, return_inverse=True)
    n_queries = len(queries)
    true_codes = codes[labels]
    has_true = np.zeros(n_queries, dtype=bool)
    has_true[true_codes] = True
    best_true = np.full(n_queries, -np.inf)
    np.maximum.at(best_true, true_codes, scores[labels])
    # A non-true candidate at or above the best true score ranks ahead of it (ties pessimistic).
    ahead = ~labels & has_true[codes] & (scores >= best_true[codes])
    ranks = 1.0 + np.bincount(codes[ahead], minlength=n_queries)

    if expected_queries is None:
        return ranks[has_true]

    expected = np.unique(np.asarray(expected_queries))
    with_truth = queries[has_true]
    unexpected = with_truth[~np.isin(with_truth, expected)]
    if len(unexpected):
        raise ValueError(
            f"{len(unexpected)} queries have a true candidate but are not in expected_queries "
            f"(first {unexpected[:5].tolist()}); expected_queries must list every left entity with "
            "a true match"
        )
    out = np.full(len(expected), np.inf)
    if n_queries:
        position = np.minimum(np.searchsorted(queries, expected), n_queries - 1)
        found = (queries[position] == expected) & has_true[position]
        out[found] = ranks[position[found]]
    return out


def _as_ranks(ranks) -> np.ndarray:
    arr = np.asarray(ranks, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"ranks must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(
            "ranks is empty: no query to evaluate (is there a true match in this split and type?)"
        )
    _check_no_nan(arr, "ranks")
    if (arr < 1).any():
        raise ValueError(f"ranks are 1-based; found {arr[arr < 1][:5].tolist()}")
    return arr


def hits_at_k_score(ranks, k: int = 1) -> float:
    """Share of queries whose true match ranks in the top ``k`` (Hit@k, higher is better).

    Parameters
    ----------
    ranks : (n_queries,) float array
        From :func:`candidate_ranks` or :func:`full_ranking_ranks`; ``inf`` = not found.
    k : int >= 1, default 1

    Returns
    -------
    hit_at_k : float in [0, 1]

    Raises
    ------
    ValueError
        Empty ranks, NaN or ranks below 1, ``k`` not a positive integer.

    Examples
    --------
    >>> hits_at_k_score([1, 3, 2, float("inf")], k=2)
    0.5
    """
    arr = _as_ranks(ranks)
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return float(np.mean(arr <= k))


def mrr_score(ranks) -> float:
    """Mean reciprocal rank (higher is better); a missing match (rank ``inf``) contributes 0.

    Parameters
    ----------
    ranks : (n_queries,) float array
        From :func:`candidate_ranks` or :func:`full_ranking_ranks`.

    Returns
    -------
    mrr : float in [0, 1]

    Raises
    ------
    ValueError
        Empty ranks, NaN or ranks below 1.

    Examples
    --------
    (1/1 + 1/2 + 1/4 + 0) / 4 = 0.4375

    >>> mrr_score([1, 2, 4, float("inf")])
    0.4375
    """
    arr = _as_ranks(ranks)
    return float(np.mean(1.0 / arr))  # 1 / inf == 0.0


def full_ranking_ranks(score_matrix, true_columns, *, chunk_rows: int | None = None) -> np.ndarray:
    """Rank of each query's true counterpart among all targets (the KG-benchmark protocol).

    Each row scores one query against every right entity of its type; the rank of the true
    column, ties pessimistic, is::

        rank = 1 + #(scores > true score) + #(other scores == true score) = #(scores >= true score)

    Published Hits@1/10 and MRR on KG-pair benchmarks use this protocol (feed the ranks to
    :func:`hits_at_k_score` and :func:`mrr_score`).

    Parameters
    ----------
    score_matrix : (n_queries, n_targets) float array
        Higher = better. ``-inf``/``inf`` are allowed (e.g. masked targets); NaN is not.
    true_columns : (n_queries,) int array
        Column of each query's true counterpart.
    chunk_rows : int, optional
        Rows compared at a time, bounding the (chunk_rows, n_targets) boolean temporary.
        Default: as many rows as fit in 16 MiB.

    Returns
    -------
    ranks : (n_queries,) float64 array
        Always finite here; float to combine with :func:`candidate_ranks` output.

    Raises
    ------
    ValueError
        Not 2-D, NaN scores, ``true_columns`` of the wrong shape, not integer or out of range,
        ``chunk_rows`` not a positive integer.

    Examples
    --------
    Row 0: the true column scores 0.5, one target scores higher: rank 2. Row 1: the true
    column ties with one other target: rank 2 (pessimistic), not 1.

    >>> full_ranking_ranks([[0.9, 0.5, 0.1], [0.3, 0.3, 0.0]], [1, 0])
    array([2., 2.])
    """
    scores = np.asarray(score_matrix, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"score_matrix must be 2-D (n_queries, n_targets), got shape {scores.shape}")
    n_queries, n_targets = scores.shape
    columns = np.asarray(true_columns)
    if columns.shape != (n_queries,):
        raise ValueError(f"true_columns must have shape ({n_queries},), one per row; got {columns.shape}")
    if n_queries and not np.issubdtype(columns.dtype, np.integer):
        raise ValueError(f"true_columns must be integer column indices, got dtype {columns.dtype}")
    if n_queries and (columns.min() < 0 or columns.max() >= n_targets):
        bad = columns[(columns < 0) | (columns >= n_targets)][:5].tolist()
        raise ValueError(f"true_columns must lie in [0, {n_targets}); found {bad}")
    if chunk_rows is None:
        chunk_rows = max(1, _FULL_RANKING_CHUNK_ELEMENTS // max(n_targets, 1))
    elif isinstance(chunk_rows, bool) or not isinstance(chunk_rows, Integral) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")

    ranks = np.empty(n_queries, dtype=np.float64)
    for start in range(0, n_queries, chunk_rows):  # loop over chunks of rows, not over queries
        block = scores[start : start + chunk_rows]
        nan_rows = np.flatnonzero(np.isnan(block).any(axis=1))
        if len(nan_rows):
            raise ValueError(
                f"score_matrix contains NaN (first in row {start + int(nan_rows[0])}); a NaN score "
                "cannot be ranked: fix the model output (e.g. 0/0 in attention)"
            )
        rows = np.arange(len(block))
        true_score = block[rows, columns[start : start + chunk_rows]]
        ranks[start : start + chunk_rows] = (block >= true_score[:, None]).sum(axis=1)
    return ranks
