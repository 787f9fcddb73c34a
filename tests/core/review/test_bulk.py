"""Bulk accept with a check: pairs above a threshold, a blind sample, its precision, then one batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.review.bulk import (
    blind_sample, bulk_accept_decisions, check_sample, pairs_above, wilson_interval,
)
from core.review.queue import pair_key

SCORES = pd.DataFrame({
    "left_id": [f"f{i}" for i in range(10)], "right_id": [f"m{i}" for i in range(10)], "type": ["film"] * 8 + ["person"] * 2,
    "score": -np.arange(10) / 10, "probability": 1 - np.arange(10) / 10, "rank": 1})


def test_pairs_above_the_threshold_best_first_without_decided_ones():
    above = pairs_above(SCORES, 0.65, exclude={pair_key("f1", "m1")})
    assert list(above["left_id"]) == ["f0", "f2", "f3"]
    assert list(pairs_above(SCORES, 0.0, entity_type="person")["left_id"]) == ["f8", "f9"]
    no_model = SCORES.assign(probability=np.nan)
    assert list(pairs_above(no_model, -0.15)["left_id"]) == ["f0", "f1"]  # the score decides then


def test_the_blind_sample_is_seeded_and_never_larger_than_the_pairs():
    pairs = pairs_above(SCORES, 0.0)
    first, again = blind_sample(pairs, 4, seed=3), blind_sample(pairs, 4, seed=3)
    assert first.equals(again) and len(first) == 4 and set(first["left_id"]) <= set(pairs["left_id"])
    assert not first.equals(blind_sample(pairs, 4, seed=4))
    assert len(blind_sample(pairs, 50)) == len(pairs)
    with pytest.raises(ValueError, match="sample size must be >= 0"):
        blind_sample(pairs, -1)


def test_the_sample_precision_and_its_interval():
    sample = SCORES.iloc[:5]
    labels = {("f0", "m0"): "accept", ("f1", "m1"): "accept", ("f2", "m2"): "reject", ("f3", "m3"): "skip"}
    check = check_sample(sample, labels)
    assert (check.accepted, check.rejected, check.skipped, check.reviewed, check.complete) == (2, 1, 1, 4, False)
    assert check.precision == pytest.approx(2 / 3)
    assert (check.precision_low, check.precision_high) == pytest.approx(wilson_interval(2, 3))
    done = check_sample(sample, {**labels, ("f4", "m4"): "accept"})
    assert done.complete and done.precision == 0.75
    assert check_sample(sample, {}).precision is None


def test_wilson_interval_by_hand():
    low, high = wilson_interval(30, 30)
    assert (round(low, 3), high) == (0.886, pytest.approx(1.0))
    low, high = wilson_interval(5, 10)
    assert (round(low, 3), round(high, 3)) == (0.237, 0.763)


def test_bulk_decisions_leave_the_sample_labels_as_they_are():
    pairs = pairs_above(SCORES, 0.65)
    decisions = bulk_accept_decisions(pairs, labels={("f1", "m1"): "reject", ("f2", "m2"): "accept"})
    assert [(d.left_id, d.decision, d.score) for d in decisions] == [("f0", "accept", -0.0), ("f3", "accept", -0.3)]
