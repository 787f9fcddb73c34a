"""Pair keys: one rule (core.data.candidates.pair_keys) turns a pair of entity indices into one number."""

from __future__ import annotations

import re

import numpy as np

from core.data.candidates import CandidatePairs, pair_keys, split_pair_keys
from tests.conftest import REPO


def test_keys_are_distinct_per_pair_and_give_the_pairs_back():
    left, right = np.array([0, 0, 1, 2, 2], dtype=np.int32), np.array([0, 2, 0, 1, 2], dtype=np.int32)
    keys = pair_keys(left, right, 3)
    assert keys.dtype == np.int64 and len(np.unique(keys)) == len(keys)
    back_left, back_right = split_pair_keys(keys, 3)
    assert back_left.tolist() == left.tolist() and back_right.tolist() == right.tolist()


def test_keys_do_not_overflow_int32_products():
    # 100K x 100K entities: the key exceeds 2^31, so it must be computed in int64 whatever the inputs
    keys = pair_keys(np.array([99_999], dtype=np.int32), np.array([99_999], dtype=np.int32), 100_000)
    assert keys.tolist() == [99_999 * 100_000 + 99_999]


def test_candidates_use_the_same_keys():
    candidates = CandidatePairs(np.array([0, 1]), np.array([2, 0]), np.zeros(2, np.int32), np.zeros(2, np.float32))
    assert candidates.pair_keys(3).tolist() == pair_keys([0, 1], [2, 0], 3).tolist()
    assert candidates.contains(np.array([1, 1]), np.array([0, 2]), 3).tolist() == [True, False]


def test_no_module_writes_the_pair_key_inline():
    """``left * n_right + right`` lives in pair_keys only; everyone else calls it."""
    inline = re.compile(r"\*\s*\(?[\w.]*(n_right|right\.n_entities)[\w\s+]*\)?\s*\+")
    offenders = [f"{path.relative_to(REPO)}:{number}" for top in ("core", "pages", "ui", "cli", "bench")
                 for path in sorted((REPO / top).rglob("*.py")) if path != REPO / "core" / "data" / "candidates.py"
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if inline.search(line) and not line.lstrip().startswith("#")]
    assert offenders == []
