"""Relative pair features: how a candidate compares with its entities' OTHER candidates.

Why: in entity alignment an absolute similarity means little on its own (an anchor-profile
cosine of 0.3 is the best a sparse entity will ever get, and the tenth best of a hub), while
"this is the best candidate of the left entity, by a wide margin, and the left entity is also
the right entity's best" is strong evidence. Ranking-based aligners (CSLS, mutual nearest
neighbours) use exactly this; a pairwise classifier sees it only through these columns.

For each key column ``c`` (higher = closer; a distance is negated first) and every pair
``(i, j)`` of a set of candidate pairs, computed over that set only (no labels are read):

* ``c.rel_left_rr`` / ``c.rel_right_rr``: 1 / rank of the pair among the candidates of
  ``i`` (of ``j``), ties sharing the best rank; bounded in (0, 1] so a linear model can use it;
* ``c.rel_left_margin`` / ``c.rel_right_margin``: the value minus the best OTHER candidate's
  (positive only for a strict best);
* ``c.rel_mutual_best``: 1 when the pair is the best of both its entities;
* ``c.rel_csls``: ``2 x - mean_topk(i) - mean_topk(j)``, the CSLS score restricted to the
  candidates (hubs that are close to everything are pulled down).

Each relative column belongs to the group of its source column, so per-group contributions
stay exact. NaN where the source value is NaN (no evidence); a margin is NaN when the entity
has no other candidate with a value. Fully vectorised: one lexsort per side and column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.matching.feature_block import FeatureBlock

__all__ = ["DEFAULT_RELATIVE_COLUMNS", "RELATIVE_SUFFIXES", "group_relative_stats", "relative_features"]

#: Key columns (when present); a leading "-" means lower is closer (a distance).
DEFAULT_RELATIVE_COLUMNS: tuple[str, ...] = (
    "name.tfidf_char3_cosine",
    "structure.anchor_hop1_cosine",
    "structure.anchor_hop2_cosine",
    "structure.graph_hop1_cosine",
    "structure.graph_hop2_cosine",
    "-gnn.distance",
)
RELATIVE_SUFFIXES = ("rel_left_rr", "rel_right_rr", "rel_left_margin", "rel_right_margin", "rel_mutual_best",
                     "rel_csls")


def group_relative_stats(groups: np.ndarray, values: np.ndarray, *, top_k: int = 10
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rank, margin to the best other member, mean of the group's top-k values) for each element.

    ``rank`` is 1 for the highest value of its group (ties share the best rank), computed among
    the non-NaN members; NaN elements get NaN everywhere. ``margin`` is NaN when no other member
    has a value; the top-k mean is over the group's non-NaN values (the element's own included).
    """
    groups = np.asarray(groups, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    rank, margin, topk = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    valid = ~np.isnan(values)
    if not valid.any():
        return rank, margin, topk
    idx = np.flatnonzero(valid)
    g, v = groups[idx], values[idx]
    order = np.lexsort((-v, g))  # by group, then descending value
    g, v = g[order], v[order]
    m = len(v)
    positions = np.arange(m)
    new_group = np.r_[True, g[1:] != g[:-1]]
    group_start = np.maximum.accumulate(np.where(new_group, positions, 0))
    new_value = new_group | np.r_[True, v[1:] != v[:-1]]
    tie_start = np.maximum.accumulate(np.where(new_value, positions, 0))
    sorted_rank = (tie_start - group_start + 1).astype(np.float64)
    group_id = np.cumsum(new_group) - 1
    sizes = np.bincount(group_id)
    size = sizes[group_id]
    best = v[group_start]
    second_pos = np.minimum(group_start + 1, m - 1)
    second = np.where(size > 1, v[second_pos], np.nan)
    is_first = positions == group_start
    sorted_margin = np.where(is_first, v - second, v - best)
    in_top = (positions - group_start) < top_k
    top_sum = np.bincount(group_id, weights=np.where(in_top, v, 0.0))
    top_count = np.bincount(group_id, weights=in_top.astype(np.float64))
    sorted_topk = (top_sum / top_count)[group_id]
    back = idx[order]
    rank[back], margin[back], topk[back] = sorted_rank, sorted_margin, sorted_topk
    return rank, margin, topk


def relative_features(block: FeatureBlock, left: np.ndarray, right: np.ndarray, *,
                      columns: Sequence[str] = DEFAULT_RELATIVE_COLUMNS, top_k: int = 10) -> FeatureBlock:
    """The relative columns of ``block``'s key ``columns`` (those it has), over its own pairs.

    ``left``/``right`` are the entity ids of the block's rows; the ranks are taken within this
    set of pairs, so pass the whole candidate set (never labels). A column name prefixed with
    ``-`` is a distance (negated before ranking; the output keeps the bare name as prefix).
    """
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    if len(left) != block.n_pairs or len(right) != block.n_pairs:
        raise ValueError(f"relative features: {block.n_pairs} pairs in the block, {len(left)} left and "
                         f"{len(right)} right ids")
    where = {name: j for j, name in enumerate(block.names)}
    names, groups, values = [], [], []
    for spec in columns:
        sign, name = (-1.0, spec[1:]) if spec.startswith("-") else (1.0, spec)
        if name not in where:
            continue
        x = sign * block.values[:, where[name]].astype(np.float64)
        left_rank, left_margin, left_top = group_relative_stats(left, x, top_k=top_k)
        right_rank, right_margin, right_top = group_relative_stats(right, x, top_k=top_k)
        mutual = np.where(np.isnan(x), np.nan, ((left_rank == 1) & (right_rank == 1)).astype(np.float64))
        csls = 2.0 * x - left_top - right_top
        group = block.groups[where[name]]
        for suffix, column in zip(RELATIVE_SUFFIXES, (1.0 / left_rank, 1.0 / right_rank, left_margin, right_margin,
                                                      mutual, csls)):
            names.append(f"{name}.{suffix}")
            groups.append(group)
            values.append(column)
    matrix = np.column_stack(values) if values else np.zeros((block.n_pairs, 0))
    return FeatureBlock(tuple(names), tuple(groups), matrix)
