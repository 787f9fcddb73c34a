"""Feature blocks, row-wise sparse products, and the worked examples in core/matching docstrings."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest
import scipy.sparse as sp

from core.matching.feature_block import FeatureBlock, concat_blocks
from core.matching.sparse_rows import l2_normalise_rows, row_normalise, rowwise_cosine, rowwise_dot

MODULES = ["feature_block", "sparse_rows", "comparisons", "propagation", "assignment", "combiner",
           "label_propagation"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(f"core.matching.{name}")
    failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0


def test_blocks_concatenate_side_by_side_and_keep_groups_in_order():
    name = FeatureBlock(("name.exact", "name.ratio"), ("name", "name"), np.array([[1.0, 0.9], [0.0, 0.2]]))
    year = FeatureBlock(("year.absolute_difference",), ("year",), np.array([[0.0], [np.nan]]))
    both = concat_blocks([name, year])
    assert both.names == ("name.exact", "name.ratio", "year.absolute_difference")
    assert both.group_names == ("name", "year")
    assert both.select_rows(np.array([1])).values.tolist()[0][:2] == [0.0, 0.2]


def test_blocks_refuse_inconsistent_shapes():
    with pytest.raises(ValueError, match="one name and one group per column"):
        FeatureBlock(("a",), ("g", "h"), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="repeated"):
        FeatureBlock(("a", "a"), ("g", "g"), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="different numbers of pairs"):
        concat_blocks([FeatureBlock(("a",), ("g",), np.zeros((2, 1))),
                       FeatureBlock(("b",), ("g",), np.zeros((3, 1)))])


def test_rowwise_products_match_dense_arithmetic():
    a = sp.random(50, 20, density=0.2, random_state=1, format="csr")
    b = sp.random(50, 20, density=0.2, random_state=2, format="csr")
    dense_a, dense_b = a.toarray(), b.toarray()
    np.testing.assert_allclose(rowwise_dot(a, b), (dense_a * dense_b).sum(axis=1))
    norms = np.linalg.norm(dense_a, axis=1) * np.linalg.norm(dense_b, axis=1)
    expected = np.where(norms > 0, (dense_a * dense_b).sum(axis=1) / np.where(norms > 0, norms, 1), np.nan)
    np.testing.assert_allclose(rowwise_cosine(a, b), expected)
    sums = row_normalise(a).sum(axis=1).A.ravel()
    assert np.allclose(sums[dense_a.sum(axis=1) > 0], 1) and np.all(sums[dense_a.sum(axis=1) == 0] == 0)
    lengths = np.linalg.norm(l2_normalise_rows(a).toarray(), axis=1)
    assert np.allclose(lengths[np.linalg.norm(dense_a, axis=1) > 0], 1)
