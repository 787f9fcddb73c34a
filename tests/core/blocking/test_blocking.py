"""Blocking: top-k name candidates per aligned type, exact keys, and the quality report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.blocking.name_blocking import BlockingConfig, block, block_names, fit_name_vectors, key_codes, top_k_cosine
from core.formats.native import load_project


def test_top_k_cosine_keeps_the_k_most_similar_names():
    left = ["Aditya Raj", "Keanu Reeves"]
    right = ["Aditya Raj Kapoor", "Keanu Reeves", "Zed Quill", "Aditi Rao"]
    lv, rv = fit_name_vectors(left, right, BlockingConfig())
    rows, cols, scores = top_k_cosine(lv, rv, 2)
    by_row = {r: list(cols[rows == r][np.argsort(-scores[rows == r])]) for r in (0, 1)}
    assert by_row[0][0] == 0  # the name variant comes first
    assert by_row[1][0] == 1 and np.isclose(scores[(rows == 1) & (cols == 1)][0], 1.0, atol=1e-5)
    assert (np.bincount(rows) <= 2).all()
    # brute force: the kept pairs are the two highest dense cosines of each row
    dense = (lv @ rv.T).toarray()
    for r in (0, 1):
        best = np.argsort(-dense[r])[:2]
        assert set(by_row[r]) == set(best[dense[r, best] > 0])  # zero-similarity pairs are never kept


def test_keys_remove_conflicts_but_missing_values_never_block():
    left = ["Speed", "Speed", "Speed"]
    right = ["Speed", "Speed", "Speed"]
    lv, rv = fit_name_vectors(left, right, BlockingConfig())
    lk, rk = key_codes(pd.Series([1994, 2010, np.nan]), pd.Series([1994, 1995, np.nan]))
    rows, cols, _ = block_names(lv, rv, 10, left_keys=lk, right_keys=rk)
    pairs = set(zip(rows.tolist(), cols.tolist()))
    assert pairs == {(0, 0), (0, 2), (1, 2), (2, 0), (2, 1), (2, 2)}


def test_keys_act_before_the_top_k_cut():
    # five look-alike names with a conflicting year must not crowd out the true match
    left = ["Matrix"]
    right = ["Matrix"] * 5 + ["The Matrix"]
    lv, rv = fit_name_vectors(left, right, BlockingConfig())
    lk, rk = key_codes(pd.Series([1999.0]), pd.Series([2021.0] * 5 + [1999.0]))
    rows, cols, _ = block_names(lv, rv, 2, left_keys=lk, right_keys=rk)
    assert cols.tolist() == [5]


def test_block_reports_completeness_reduction_and_candidates(tiny_project):
    d = load_project(tiny_project)
    candidates, report = block(d, BlockingConfig(top_k=2, keys=(("film", "year"),)))
    stats = {s.type: s for s in report.per_type}
    assert stats["film"].n_left == 3 and stats["film"].n_right == 3
    assert stats["film"].max_candidates_per_left <= 2
    assert stats["film"].pair_completeness == 1.0  # years agree for every true film pair
    assert stats["person"].pair_completeness == 1.0  # "Aditya Raj" finds "Aditya Raj Kapoor"
    assert report.pair_completeness == 1.0
    assert stats["film"].reduction_ratio == pytest.approx(1 - stats["film"].n_candidates / 9)
    # candidates never cross types
    lt = d.left.type_names
    assert all(lt[d.left.entity_types[l]] == d.schema.types[t].left for l, t in zip(candidates.left, candidates.type))
    # year key: Matrix (1999) is never paired with Reloaded (2003)
    f1, m11 = d.left.indices_of(["f1"])[0], d.right.indices_of(["m11"])[0]
    assert not candidates.contains(np.array([f1]), np.array([m11]), d.right.n_entities)[0]


def test_unknown_key_is_a_clear_error(tiny_project):
    d = load_project(tiny_project)
    with pytest.raises(ValueError, match="blocking key 'runtime' for type 'film' is not an aligned attribute"):
        block(d, BlockingConfig(keys=(("film", "runtime"),)))


def test_config_is_validated():
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        BlockingConfig(top_k=0)
