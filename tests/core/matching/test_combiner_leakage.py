"""No TEST label reaches the fit: a signal planted only in TEST rows stays unused.

The planted column equals the label on TEST rows and is noise on TRAIN and VALID rows. A matcher
that saw TEST rows in any fit (model, hyper-parameters, calibration, threshold) could read it
and score TEST perfectly; one fitted on TRAIN and VALID only cannot. The last test shows the
check has teeth: fitting on the TEST rows does pick the signal up.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.matching.combiner import MatcherConfig, fit_combiner

NAMES = ("name.jaro_winkler", "test_only.signal")
GROUPS = ("name", "test_only")
CONFIG = MatcherConfig(n_threads=1, max_iter=60)


def split_rows(n: int, rng: np.random.Generator, *, planted: bool) -> tuple[np.ndarray, np.ndarray]:
    """A weak genuine name signal; the second column is the label when ``planted``, else noise."""
    y = (rng.random(n) < 0.3).astype(np.int64)
    genuine = 0.5 * y + rng.normal(0, 0.5, n)
    signal = y + rng.normal(0, 0.01, n) if planted else rng.random(n)
    return np.column_stack([genuine, signal]), y


@pytest.fixture(scope="module")
def splits():
    rng = np.random.default_rng(0)
    return (split_rows(2000, rng, planted=False), split_rows(800, rng, planted=False),
            split_rows(800, rng, planted=True))


def test_fit_has_no_parameter_that_could_carry_test_rows():
    row_parameters = [p for p in inspect.signature(fit_combiner).parameters if p.endswith(("_X", "_y"))]
    assert row_parameters == ["train_X", "train_y", "valid_X", "valid_y"]


def test_a_test_only_signal_is_not_used(splits):
    (X, y), (Xv, yv), (Xt, yt) = splits
    assert roc_auc_score(yt, Xt[:, 1]) == 1.0  # the planted column alone separates TEST perfectly
    combiner = fit_combiner(X, y, Xv, yv, feature_names=NAMES, feature_groups=GROUPS, config=CONFIG)
    genuine_only = roc_auc_score(yt, Xt[:, 0])
    assert roc_auc_score(yt, combiner.predict_proba(Xt)) < genuine_only + 0.03
    # What the trees learned from the column's TRAIN noise moves TEST log-odds by next to nothing,
    # while the genuine name evidence moves them by about one unit.
    spread = combiner.contributions(Xt).std(axis=0)
    name, planted = combiner.group_names.index("name"), combiner.group_names.index("test_only")
    assert spread[planted] < 0.05 * spread[name]


def test_the_check_would_catch_a_fit_that_saw_test_rows(splits):
    _, (Xv, yv), (Xt, yt) = splits
    half = len(Xt) // 2
    leaky = fit_combiner(Xt[:half], yt[:half], Xv, yv, feature_names=NAMES, feature_groups=GROUPS, config=CONFIG)
    assert roc_auc_score(yt[half:], leaky.predict_proba(Xt[half:])) > 0.99
