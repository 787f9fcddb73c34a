"""The project's default scorer: the matcher (issue 15) over CG-MuAlign's distances, as one scorer.

:class:`MatcherScorer` adapts :class:`core.matching.matcher.Matcher` to what the rest of mualign
reads from a scorer: ``score_pairs`` for the evaluation harness (the matcher's calibrated
probability), ``distances`` for the score table and the attention drawing (the GNN's, unchanged),
and per-pair log-odds contributions for the waterfall that explains a decision.

The matcher decides collectively (the 1-to-1 step looks at every candidate of an entity), and its
structural evidence reads the anchor links, so its scores are computed once over *all* the
project's candidates and looked up; a pair that is not a candidate (a labelled non-match of a
benchmark split) is scored in a second call, over the pairs asked for.

:class:`CachedDistances` is the ``gnn`` input the matcher takes (``GnnDistance``): the model
scores every candidate once (or the stored score table gives the distances, for a quick refit
that must not run the GNN again), and only pairs outside that set reach the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.data.candidates import CandidatePairs, pair_keys
from core.data.dataset import AlignmentDataset
from core.data.sets import locate, unique

#: What the evaluation report and the score table call the matcher's output.
MATCHER_METHOD = "mualign"


class CachedDistances:
    """``(left, right) -> distance``: the GNN's distances, each pair computed at most once.

    Parameters
    ----------
    model : a :class:`~core.scoring.model_scorer.ModelScorer` (anything with ``distances``), or
        None when every pair asked for is known (then an unknown pair is a ValueError).
    n_right : the right graph's entity count (for :func:`~core.data.candidates.pair_keys`).
    left, right, distances : pairs whose distances are already known (a stored score table).
    """

    def __init__(self, model, n_right: int, *, left=None, right=None, distances=None):
        self.model, self.n_right = model, int(n_right)
        self._keys = np.zeros(0, dtype=np.int64)
        self._values = np.zeros(0, dtype=np.float64)
        if left is not None:
            self._add(pair_keys(left, right, self.n_right), np.asarray(distances, dtype=np.float64))

    def _add(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.concatenate([self._keys, keys])
        values = np.concatenate([self._values, values])
        keys, first = np.unique(keys, return_index=True)
        self._keys, self._values = keys, values[first]

    def __len__(self) -> int:
        return len(self._keys)

    def __call__(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        keys = pair_keys(left, right, self.n_right)
        found, where = locate(self._keys, keys)
        if not found.all():
            if self.model is None:
                raise ValueError(f"{int((~found).sum())} pairs have no stored GNN distance and no model was given")
            missing = unique(keys[~found])
            self._add(missing, np.asarray(self.model.distances(missing // self.n_right, missing % self.n_right),
                                          dtype=np.float64))
            where = np.searchsorted(self._keys, keys)
        return self._values[where]


def candidate_distances(model, dataset: AlignmentDataset, candidates: CandidatePairs) -> CachedDistances:
    """Every candidate's GNN distance, computed once (the score table and the matcher both read it)."""
    cache = CachedDistances(model, dataset.right.n_entities)
    if len(candidates):
        cache(candidates.left, candidates.right)
    return cache


@dataclass(eq=False)
class MatcherScorer:
    """A scorer whose probability is the matcher's, over ``model``'s distances (see module docstring).

    ``extra_matches``: accepted analyst labels (left, right indices) the matcher reads as anchors
    besides the TRAIN links, as it did when it was fitted from them.
    """

    matcher: object  # core.matching.matcher.Matcher
    model: object  # core.scoring.model_scorer.ModelScorer: distances, attention, counterfactuals
    dataset: AlignmentDataset
    candidates: CandidatePairs
    gnn: CachedDistances | None = None
    extra_matches: tuple[np.ndarray, np.ndarray] | None = None
    name: str = MATCHER_METHOD
    _all: object = field(default=None, init=False, repr=False)  # MatchScores of every candidate
    _keys: np.ndarray | None = field(default=None, init=False, repr=False)
    _order: np.ndarray | None = field(default=None, init=False, repr=False)
    _last_others: tuple | None = field(default=None, init=False, repr=False)  # (sorted keys, their types, order, scores)

    def __post_init__(self) -> None:
        if self.gnn is None:
            self.gnn = CachedDistances(self.model, self.dataset.right.n_entities)

    # -- what other scorers also have ------------------------------------------------------
    @property
    def calibration(self):
        """Truthy: the probability is calibrated (the matcher's Platt scaling on VALID)."""
        return True

    @property
    def threshold(self) -> float:
        """The matcher's decision threshold on the probability (chosen on VALID)."""
        return float(self.matcher.threshold)

    def distances(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """The GNN's distances (what the attention drawing explains), from the cache where known."""
        return self.gnn(np.asarray(left), np.asarray(right))

    def score_pairs(self, left: np.ndarray, right: np.ndarray, types: np.ndarray | None = None) -> np.ndarray:
        """The matcher's calibrated match probability of each pair (higher = more likely)."""
        return self.match_scores(left, right, types).probability

    # -- the matcher's own output ----------------------------------------------------------
    def all_candidates(self):
        """MatchScores of every candidate, in the candidates' order (computed once)."""
        if self._all is None:
            self._all = self.matcher.score(self.dataset, self.candidates, gnn=self.gnn,
                                           extra_matches=self.extra_matches)
            keys = self.candidates.pair_keys(self.dataset.right.n_entities)
            self._order = np.argsort(keys, kind="stable")
            self._keys = keys[self._order]
        return self._all

    @property
    def has_all_candidates(self) -> bool:
        """Whether every candidate's figures are known already (computed or given by :meth:`prime`)."""
        return self._all is not None

    def prime(self, scores) -> None:
        """Take every candidate's figures computed elsewhere (no second scoring).

        ``scores`` must be the matcher's ``MatchScores`` of ``self.candidates`` in their order, as
        :meth:`all_candidates` would compute them (a quick refit's, or those of the stored evidence).
        """
        keys = self.candidates.pair_keys(self.dataset.right.n_entities)
        order = np.argsort(keys, kind="stable")
        self._all, self._order, self._keys = scores, order, keys[order]

    def match_scores(self, left: np.ndarray, right: np.ndarray, types: np.ndarray | None = None) -> "PairMatchScores":
        """The matcher's figures for the given pairs: candidates looked up, others scored on their own.

        ``types`` (aligned type of each pair) is only read for pairs that are not candidates;
        without it their type is the left entity's aligned type.
        """
        left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
        scores = self.all_candidates()
        keys = pair_keys(left, right, self.dataset.right.n_entities)
        found, where = locate(self._keys, keys)
        rows = self._order[where] if len(self._keys) else where
        n_groups = len(scores.group_names)
        out = PairMatchScores(np.zeros(len(keys)), np.zeros(len(keys)), np.zeros((len(keys), n_groups)),
                              tuple(scores.group_names), float(scores.baseline), np.zeros(len(keys), dtype=bool),
                              found.copy())
        out.fill(found, scores, rows[found])
        if not found.all():
            other, other_rows = self._score_others(left[~found], right[~found], None if types is None else
                                                   np.asarray(types)[~found])
            out.fill(~found, other, other_rows)
        return out

    def _score_others(self, left: np.ndarray, right: np.ndarray, types: np.ndarray | None):
        """(scores, row of each pair in them) for pairs outside the candidates, scored together
        (their 1-to-1 step sees only each other).

        The last call's pairs and scores are kept: an evaluation asks for the same labelled pairs
        twice, in two orders (the report, then the decided pairs), and each call builds their
        features and runs the GNN on them. The same set of pairs gets the same figures.
        """
        if types is None:
            from core.formats.native import aligned_types_of_entities

            types = aligned_types_of_entities(self.dataset.left, self.dataset.schema, "left")[left]
        types = np.asarray(types, dtype=self.candidates.type.dtype)
        keys = pair_keys(left, right, self.dataset.right.n_entities)
        order = np.argsort(keys, kind="stable")
        last = self._last_others
        if last is not None and np.array_equal(last[0], keys[order]) and np.array_equal(last[1], types[order]):
            rows = np.empty(len(keys), dtype=np.int64)
            rows[order] = last[2]
            return last[3], rows
        pairs = CandidatePairs(left, right, types, np.zeros(len(left), dtype=np.float64))
        scores = self.matcher.score(self.dataset, pairs, gnn=self.gnn, extra_matches=self.extra_matches)
        self._last_others = (keys[order], types[order], order, scores)
        return scores, np.arange(len(keys))


@dataclass(eq=False)
class PairMatchScores:
    """The matcher's figures for an arbitrary list of pairs (see :meth:`MatcherScorer.match_scores`)."""

    probability: np.ndarray
    log_odds: np.ndarray
    contributions: np.ndarray
    group_names: tuple[str, ...]
    baseline: float
    decided: np.ndarray
    is_candidate: np.ndarray

    def fill(self, mask: np.ndarray, scores, rows: np.ndarray) -> None:
        self.probability[mask] = np.asarray(scores.probability)[rows]
        self.log_odds[mask] = np.asarray(scores.log_odds)[rows]
        self.contributions[mask] = np.asarray(scores.contributions)[rows]
        self.decided[mask] = np.asarray(scores.decided)[rows]
