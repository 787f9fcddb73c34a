"""A score table read back from disk is the table that was written: same values, same dtypes.

The distance column keeps the model's float32 precision; a table read from the cache used to come
back as float64, so a cached table and a freshly scored one differed in dtype (and a comparison of
the two failed although every value was the same).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.project.score_table import model_scores, read_scores, write_scores


class _Distances:
    """A scorer stand-in: float32 distances whose shortest text needs all of float32's digits."""

    calibration = None

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def distances(self, left, right):
        return (self.rng.random(len(left)) * 3).astype(np.float32) + np.float32(1e-7)


def test_a_written_score_table_reads_back_bit_identical_with_float32_distances(music, tmp_path):
    pair, candidates = music
    frame = model_scores(pair.dataset, candidates, _Distances(seed=0), "v1")
    assert frame["distance"].dtype == np.float32
    read = read_scores(write_scores(frame, tmp_path / "scores.tsv"))
    assert read["distance"].dtype == np.float32
    assert np.array_equal(read["distance"].to_numpy(), frame["distance"].to_numpy())
    pd.testing.assert_frame_equal(read, frame, check_exact=True)


def _matcher_like(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The columns a matcher's table adds: decided (int8), baseline, contributions (one group all zeros)."""
    from core.project.score_table import BASELINE, CONTRIBUTION, DECIDED

    rng = np.random.default_rng(seed)
    n = len(frame)
    return frame.assign(**{DECIDED: rng.integers(0, 2, n).astype(np.int8), BASELINE: np.full(n, -2.5),
                           CONTRIBUTION + "name": np.round(rng.normal(size=n), 6),
                           CONTRIBUTION + "gnn": np.zeros(n)})


@pytest.mark.parametrize("kind", ["model", "name-only", "matcher", "awkward ids"])
def test_the_binary_copy_is_built_as_the_tsv_reads_back(music, tmp_path, kind):
    """store_scores builds the binary copy from the frame (as_read_back) instead of parsing the TSV again."""
    from core.project.score_table import as_read_back, name_only_scores

    pair, candidates = music
    if kind == "name-only":
        frame = name_only_scores(pair.dataset, candidates)
    else:
        frame = model_scores(pair.dataset, candidates, _Distances(seed=1), "v1")
    if kind == "matcher":
        frame = _matcher_like(frame, seed=1)
    if kind == "awkward ids":  # a tab and a quote make the Arrow writer step aside for pandas; unicode
        frame = frame.assign(left_id=frame["left_id"] + np.where(np.arange(len(frame)) % 3 == 0, '\t"é', "日本"))
    read = read_scores(write_scores(frame, tmp_path / "scores.tsv"))
    pd.testing.assert_frame_equal(as_read_back(frame), read, check_exact=True)
