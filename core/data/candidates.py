"""Candidate pairs: the (left, right) entity pairs blocking keeps for scoring and review.

Also the one rule that turns a pair of entity indices into a single number (:func:`pair_keys`,
undone by :func:`split_pair_keys`), so set operations on pairs (``np.isin``, ``np.unique``) run
on one int64 array everywhere they are needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.sets import isin


def pair_keys(left, right, n_right: int) -> np.ndarray:
    """One int64 per pair of entity indices: ``left * n_right + right``.

    ``n_right`` must be larger than every right index (the right graph's entity count), so distinct
    pairs get distinct keys and :func:`split_pair_keys` gives the pairs back. Keys of the same
    ``n_right`` compare across arrays: ``np.isin(pair_keys(a, b, n), pair_keys(c, d, n))`` asks
    which pairs (a, b) are among the pairs (c, d).

    Examples
    --------
    >>> pair_keys(np.array([0, 2]), np.array([1, 0]), 3).tolist()
    [1, 6]
    """
    return np.asarray(left, dtype=np.int64) * n_right + np.asarray(right, dtype=np.int64)


def split_pair_keys(keys, n_right: int) -> tuple[np.ndarray, np.ndarray]:
    """The (left, right) index arrays of :func:`pair_keys` ``keys`` made with the same ``n_right``.

    >>> [a.tolist() for a in split_pair_keys(np.array([1, 6]), 3)]
    [[0, 2], [1, 0]]
    """
    keys = np.asarray(keys, dtype=np.int64)
    return keys // n_right, keys % n_right


@dataclass(frozen=True, eq=False)
class CandidatePairs:
    """Parallel arrays, one row per candidate pair, grouped by aligned type then left entity.

    ``left``/``right`` index the left/right graph; ``type`` indexes the schema's aligned types;
    ``name_score`` is the cosine of the two names' TF-IDF vectors that blocking ranked by.
    """

    left: np.ndarray
    right: np.ndarray
    type: np.ndarray
    name_score: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.left)
        if not all(len(a) == n for a in (self.right, self.type, self.name_score)):
            raise ValueError("CandidatePairs arrays must all have the same length")

    def __len__(self) -> int:
        return len(self.left)

    def select(self, mask: np.ndarray) -> "CandidatePairs":
        return CandidatePairs(self.left[mask], self.right[mask], self.type[mask], self.name_score[mask])

    def of_type(self, type_index: int) -> "CandidatePairs":
        return self.select(self.type == type_index)

    def pair_keys(self, n_right: int) -> np.ndarray:
        """:func:`pair_keys` of every candidate, for vectorised membership tests."""
        return pair_keys(self.left, self.right, n_right)

    def contains(self, left: np.ndarray, right: np.ndarray, n_right: int) -> np.ndarray:
        """For each (left[i], right[i]), whether it is a candidate."""
        return isin(pair_keys(left, right, n_right), self.pair_keys(n_right))

    @classmethod
    def concat(cls, parts: list["CandidatePairs"]) -> "CandidatePairs":
        if not parts:
            z = np.zeros(0, dtype=np.int64)
            return cls(z, z, z.astype(np.int32), z.astype(np.float32))
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("left", "right", "type", "name_score")))

    def to_frame(self, left_ids: np.ndarray, right_ids: np.ndarray, type_names: tuple[str, ...]) -> pd.DataFrame:
        """External-id view, as written to ``candidates.tsv``."""
        return pd.DataFrame({
            "left_id": left_ids[self.left], "right_id": right_ids[self.right],
            "type": np.asarray(type_names, dtype=object)[self.type],
            "name_score": np.round(self.name_score.astype(np.float64), 6),
        })
