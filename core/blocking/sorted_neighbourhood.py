"""Sorted-neighbourhood candidates: blocking whose cost grows with n log n, not n x n.

The exact TF-IDF top-k of :mod:`core.blocking.name_blocking` multiplies every name with every name that
shares an n-gram. At the paper's Movie scale (400K people, 860K characters a side, drawn from a
finite stock of words) nearly all names share n-grams, and that product runs for hours.

Sorted neighbourhood (Hernandez & Stolfo, 1995) sorts both sides by a key derived from the name
and pairs each left name with the ``window`` right names on either side of its place in the
sorted right list. One key misses matches whose first letters differ, so three keys are used and
their candidates pooled:

- the normalised name ("aditya raj kapoor"): shared beginnings, added suffixes;
- its words in alphabetical order ("aditya kapoor raj"): reordered words ("Smith, John");
- the normalised name reversed ("roopak jar aytida"): typos or extra words at the start.

:mod:`core.blocking.name_blocking` then scores the pooled pairs by the exact cosine of their TF-IDF vectors and
keeps each left name's ``top_k`` best, so the scores mean the same as on the exact path.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from core.data.candidates import pair_keys, split_pair_keys
from core.data.sets import unique

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise(name: str) -> list[str]:
    """Lower-case ASCII words of a name: accents stripped, punctuation as spaces."""
    ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return _NOT_ALNUM.sub(" ", ascii_name.lower()).split()


def sort_keys(names: Sequence[str]) -> list[np.ndarray]:
    """The three sort keys of every name (see the module docstring), as string arrays."""
    words = [normalise(n) for n in names]
    plain = [" ".join(w) for w in words]
    return [np.array(plain, dtype=str),
            np.array([" ".join(sorted(w)) for w in words], dtype=str),
            np.array([p[::-1] for p in plain], dtype=str)]


def window_pairs(left_key: np.ndarray, right_key: np.ndarray, window: int,
                 sorted_right: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(left row, right row) for each left key and the ``window`` right keys either side of it.

    ``sorted_right``: (``np.argsort(right_key, kind="stable")``, ``right_key`` in that order) when
    the caller has them already: the shards of one type share the right side, so it is sorted
    once, not once per shard.
    """
    if len(left_key) == 0 or len(right_key) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    if sorted_right is None:
        order = np.argsort(right_key, kind="stable")
        sorted_right = order, right_key[order]
    order, sorted_key = sorted_right
    position = np.searchsorted(sorted_key, left_key)
    columns = position[:, None] + np.arange(-window, window)[None, :]
    inside = (columns >= 0) & (columns < len(right_key))
    rows = np.broadcast_to(np.arange(len(left_key))[:, None], columns.shape)[inside]
    return rows.astype(np.int64), order[columns[inside]].astype(np.int64)


def neighbourhood_pairs(left_keys: list[np.ndarray], right_keys: list[np.ndarray], window: int,
                        sorted_right: list[tuple[np.ndarray, np.ndarray]] | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (left row, right row) pairs that any of the sort keys puts within ``window``."""
    presorted = sorted_right if sorted_right is not None else [None] * len(right_keys)
    pairs = [window_pairs(lk, rk, window, s) for lk, rk, s in zip(left_keys, right_keys, presorted)]
    rows = np.concatenate([p[0] for p in pairs])
    cols = np.concatenate([p[1] for p in pairs])
    n_right = max((len(k) for k in right_keys), default=0) or 1
    return split_pair_keys(unique(pair_keys(rows, cols, n_right)), n_right)
