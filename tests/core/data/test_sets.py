"""core.data.sets gives NumPy's answers (by sorting instead of hashing)."""

import numpy as np
import pytest

from core.data.sets import isin, locate, unique


@pytest.mark.parametrize("seed", range(5))
def test_unique_and_isin_equal_numpys_on_random_integer_arrays(seed):
    rng = np.random.default_rng(seed)
    high = int(rng.choice([5, 1000, 2 ** 40]))
    values = rng.integers(-high, high, int(rng.integers(0, 3000)))
    test = rng.integers(-high, high, int(rng.integers(0, 3000)))
    assert np.array_equal(unique(values), np.unique(values))
    assert np.array_equal(isin(values, test), np.isin(values, test))
    grid = values[: len(values) // 4 * 4].reshape(-1, 4)
    assert np.array_equal(isin(grid, test), np.isin(grid, test))  # the shape of ``values`` is kept


def test_floats_strings_and_empty_inputs():
    floats = np.array([2.0, np.nan, 1.0, 2.0, np.nan])
    assert np.array_equal(unique(floats), np.unique(floats), equal_nan=True)
    words = np.array(["b", "a", "b"])
    assert unique(words).tolist() == ["a", "b"] and isin(words, ["b"]).tolist() == [True, False, True]
    assert unique(np.zeros(0, dtype=np.int64)).size == 0
    assert isin(np.array([1, 2]), np.zeros(0, dtype=np.int64)).tolist() == [False, False]
    assert isin(np.zeros(0, dtype=np.int64), np.array([1])).size == 0


def test_locate_finds_each_query_against_searchsorted_and_an_empty_pool():
    rng = np.random.default_rng(0)
    pool = np.unique(rng.integers(0, 1000, 300))
    queries = rng.integers(-5, 1010, 2000)
    found, position = locate(pool, queries)
    np.testing.assert_array_equal(found, np.isin(queries, pool))
    np.testing.assert_array_equal(pool[position[found]], queries[found])
    assert position.min() >= 0 and position.max() < len(pool)  # always a valid index
    found, position = locate(np.zeros(0, dtype=np.int64), queries)
    assert not found.any() and (position == 0).all()
