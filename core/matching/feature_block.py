"""A feature block: the float matrix of evidence on N candidate pairs, with named, grouped columns.

Every producer of match evidence (comparisons, structure, the GNN) returns one, and the combiner
consumes their concatenation. Each column belongs to one *group* (``"name"``, an attribute's
aligned name, ``"structure"``, ``"gnn"``): the combiner builds trees that each read one group
only, so the match log-odds split exactly into one contribution per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FeatureBlock", "concat_blocks"]


@dataclass(frozen=True, eq=False)
class FeatureBlock:
    """Evidence on N candidate pairs, one named column per feature.

    Parameters
    ----------
    names : tuple of str, length d
        Column names, unique, e.g. ``"title.jaro_winkler"``.
    groups : tuple of str, length d
        The group of each column (``"title"`` for every title comparison).
    values : (N, d) float64 array
        NaN where a feature has no value for a pair (a missing attribute): gradient boosting
        routes NaN natively, so a missing value is not silently read as "dissimilar".

    Examples
    --------
    >>> block = FeatureBlock(("name.exact",), ("name",), np.array([[1.0], [0.0]]))
    >>> block.n_pairs, block.group_names
    (2, ('name',))
    """

    names: tuple[str, ...]
    groups: tuple[str, ...]
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"values must be 2-D (pairs x features), got shape {self.values.shape}")
        if not (len(self.names) == len(self.groups) == self.values.shape[1]):
            raise ValueError(
                f"{len(self.names)} names and {len(self.groups)} groups for "
                f"{self.values.shape[1]} columns: expected one name and one group per column"
            )
        repeated = sorted({n for n in self.names if self.names.count(n) > 1})
        if repeated:
            raise ValueError(f"feature names repeated: {repeated}; each column needs its own name")

    @property
    def n_pairs(self) -> int:
        return self.values.shape[0]

    @property
    def group_names(self) -> tuple[str, ...]:
        """Distinct groups in order of first appearance (the order contributions are reported in)."""
        return tuple(dict.fromkeys(self.groups))

    def select_rows(self, rows: np.ndarray) -> "FeatureBlock":
        """The same columns for a subset of pairs (a boolean mask or row indices)."""
        return FeatureBlock(self.names, self.groups, self.values[rows])


def concat_blocks(blocks: list[FeatureBlock]) -> FeatureBlock:
    """Side-by-side concatenation of blocks over the same pairs (in the same order).

    Raises
    ------
    ValueError
        No blocks, blocks with different numbers of pairs, or a column name used twice.
    """
    if not blocks:
        raise ValueError("no feature blocks to concatenate")
    sizes = {b.n_pairs for b in blocks}
    if len(sizes) != 1:
        raise ValueError(f"feature blocks cover different numbers of pairs: {sorted(sizes)}")
    return FeatureBlock(
        names=tuple(n for b in blocks for n in b.names),
        groups=tuple(g for b in blocks for g in b.groups),
        values=np.hstack([b.values for b in blocks]).astype(np.float64, copy=False),
    )
