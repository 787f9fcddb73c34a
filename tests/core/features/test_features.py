"""Layer-0 features: hashed subword names, scaled numbers, periodic dates, missing flags."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.features.entity_features import (FeatureSpec, NameHashing, encode_dates, encode_entities, encode_numbers,
                           fit_feature_spec, fit_number_scaling, hash_names)
from core.formats.native import load_project


def test_name_variants_share_more_buckets_than_strangers():
    x = hash_names(["Aditya Raj", "Aditya Raj Kapoor", "Zed Quill", "Aditya  RAJ"], NameHashing(n_buckets=2**16))
    sim = (x @ x.T).toarray()
    assert sim[0, 1] > 0.5 > sim[0, 2]
    assert sim[0, 3] == pytest.approx(1.0, abs=1e-5)  # case and spacing do not matter
    assert np.allclose(np.sqrt(x.multiply(x).sum(axis=1)), 1.0, atol=1e-5)


def test_hashing_is_stable_across_processes():
    """Hash buckets are learned parameters: they must not change between runs (no PYTHONHASHSEED)."""
    code = ("from core.features.entity_features import hash_names, NameHashing;"
            "print(hash_names(['Keanu Reeves'], NameHashing()).indices.tolist())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert len(runs) == 1
    assert hash_names(["Keanu Reeves"], NameHashing()).indices.tolist() == eval(runs.pop())


def test_numbers_are_robustly_scaled_clipped_and_flag_missing():
    center, scale = fit_number_scaling(np.array([1990, 1995, 2000, 2005, 2010, 1e9, np.nan]))
    assert center == 2002.5
    x = encode_numbers(np.array([2002.5, 1e9, np.nan]), center, scale)
    assert x[0].tolist() == [0.0, 0.0]
    assert x[1, 0] == 5.0  # the outlier is clipped
    assert x[2].tolist() == [0.0, 1.0]


def test_dates_are_periodic():
    x = encode_dates(pd.Series(pd.to_datetime(["1999-12-31", "2000-01-01", "2000-07-01", None])), 2000.0, 10.0)
    assert np.linalg.norm(x[0, 1:3] - x[1, 1:3]) < 0.05  # New Year's Eve is next to New Year's Day
    assert np.linalg.norm(x[0, 1:3] - x[2, 1:3]) > 1.9  # and opposite midsummer
    assert x[3].tolist() == [0, 0, 0, 0, 0, 1]


def test_entity_features_use_aligned_attributes_and_round_trip_the_spec(tiny_project):
    d = load_project(tiny_project)
    spec = fit_feature_spec(d, NameHashing(n_buckets=2**12))
    assert [a.name for a in spec.attributes] == ["year"]
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    left, right = encode_entities(d.left, spec, "left"), encode_entities(d.right, spec, "right")
    assert left.dense.shape == (6, spec.dense_width) and right.dense.shape == (6, spec.dense_width)
    assert left.name_ngrams.shape == (6, 2**12)
    f1, m10 = d.left.indices_of(["f1"])[0], d.right.indices_of(["m10"])[0]
    assert np.array_equal(left.dense[f1], right.dense[m10])  # same year, same features
    p1 = d.left.indices_of(["p1"])[0]
    assert left.dense[p1, 1] == 1.0  # people have no year: flagged missing
