"""A score table read back from disk is the table that was written: same values, same dtypes.

The distance column keeps the model's float32 precision; a table read from the cache used to come
back as float64, so a cached table and a freshly scored one differed in dtype (and a comparison of
the two failed although every value was the same).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
