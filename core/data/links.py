"""Known correspondences between the sides: typed, labelled, split.

A link is a pair (left entity, right entity) of one aligned type with a label (1 = the same
real-world entity, 0 = a labelled non-match) and the split it belongs to. Seed links for training
are the TRAIN positives; VALID picks thresholds and checkpoints; TEST is reported. UNUSED holds
known true matches outside the labelled splits (e.g. the rest of a gold standard): they measure
blocking recall and are never used for training or for the reported test metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


#: Default share of each aligned type's true matches in train / valid / test.
SPLIT_SHARES = (0.6, 0.2, 0.2)


class Split(str, Enum):
    TRAIN = "train"
    VALID = "valid"
    TEST = "test"
    UNUSED = "unused"

    @property
    def code(self) -> int:
        return list(Split).index(self)

    @classmethod
    def from_code(cls, code: int) -> "Split":
        return list(Split)[code]


@dataclass(frozen=True, eq=False)
class Links:
    """Parallel arrays, one row per labelled pair.

    ``left``/``right`` index the left/right :class:`~core.data.kg.KnowledgeGraph`; ``type`` indexes the
    schema's aligned types; ``split`` holds :attr:`Split.code` values.
    """

    left: np.ndarray
    right: np.ndarray
    type: np.ndarray
    label: np.ndarray
    split: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.left)
        if not all(len(a) == n for a in (self.right, self.type, self.label, self.split)):
            raise ValueError("Links arrays must all have the same length")

    def __len__(self) -> int:
        return len(self.left)

    @classmethod
    def empty(cls) -> "Links":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z.astype(np.int32), z.astype(np.int8), z.astype(np.int8))

    def select(self, mask: np.ndarray) -> "Links":
        return Links(self.left[mask], self.right[mask], self.type[mask], self.label[mask], self.split[mask])

    def in_split(self, *splits: Split) -> "Links":
        return self.select(np.isin(self.split, [s.code for s in splits]))

    def positives(self) -> "Links":
        return self.select(self.label == 1)

    def of_type(self, type_index: int) -> "Links":
        return self.select(self.type == type_index)

    def has_negatives(self) -> bool:
        return bool((self.label == 0).any())

    def counts(self, type_names: tuple[str, ...]) -> dict[str, dict[str, int]]:
        """{split: {aligned type: positives}} for reports."""
        out: dict[str, dict[str, int]] = {}
        for s in Split:
            sel = (self.split == s.code) & (self.label == 1)
            if sel.any():
                c = np.bincount(self.type[sel], minlength=len(type_names))
                out[s.value] = {t: int(n) for t, n in zip(type_names, c) if n}
        return out


def random_split_codes(n: int, rng: np.random.Generator, shares: tuple[float, float, float] = SPLIT_SHARES) -> np.ndarray:
    """Seeded train/valid/test codes (:attr:`Split.code`) for ``n`` links, in shares ``shares``.

    Valid and test get at least one link each once ``n >= 3``, so every split of every aligned
    type can be evaluated even for a type with few entities (genres).
    """
    n_valid = int(round(shares[1] * n))
    n_test = int(round(shares[2] * n))
    if n >= 3:
        n_valid, n_test = max(n_valid, 1), max(n_test, 1)
    codes = np.full(n, Split.TRAIN.code, dtype=np.int8)
    order = rng.permutation(n)
    codes[order[:n_valid]] = Split.VALID.code
    codes[order[n_valid:n_valid + n_test]] = Split.TEST.code
    return codes
