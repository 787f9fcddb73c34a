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

    ``left``/``right`` index the left/right :class:`~core.kg.KnowledgeGraph`; ``type`` indexes the
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
