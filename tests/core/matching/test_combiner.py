"""The learned combiner: exact per-group contributions, VALID-only choices, calibration, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from core.evaluation.metrics import best_f1_threshold
from core.matching.combiner import (
    MatcherConfig,
    fit_combiner,
    load_combiner,
    platt_scaling,
    tree_groups,
)
from core.matching.feature_block import FeatureBlock

NAMES = ("name.jaro_winkler", "name.exact", "year.absolute_difference", "structure.anchor_hop1_cosine", "gnn.distance")
GROUPS = ("name", "name", "year", "structure", "gnn")
#: One thread: the test machine may be busy, and oversubscribed OpenMP threads crawl.
FAST = dict(n_threads=1, max_iter=60)


def planted_pairs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose label shows in the name and structure columns; year is weak, gnn pure noise."""
    y = (rng.random(n) < 0.25).astype(np.int64)
    X = np.column_stack([
        np.clip(0.55 + 0.3 * y + rng.normal(0, 0.15, n), 0, 1),
        (rng.random(n) < 0.1 + 0.6 * y).astype(float),
        np.abs(rng.normal(0, 1 + 3 * (1 - y), n)).round(),
        np.clip(0.2 + 0.5 * y + rng.normal(0, 0.2, n), 0, 1),
        rng.normal(0, 1, n),
    ])
    X[rng.random(n) < 0.2, 2] = np.nan  # missing years
    X[rng.random(n) < 0.3, 3] = np.nan  # no reachable anchor
    return X, y


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    return planted_pairs(3000, rng), planted_pairs(1000, rng), planted_pairs(1000, rng)


@pytest.fixture(scope="module")
def hgb(data):
    (X, y), (Xv, yv), _ = data
    return fit_combiner(X, y, Xv, yv, feature_names=NAMES, feature_groups=GROUPS, config=MatcherConfig(**FAST))


@pytest.fixture(scope="module")
def logreg(data):
    (X, y), (Xv, yv), _ = data
    return fit_combiner(X, y, Xv, yv, feature_names=NAMES, feature_groups=GROUPS,
                        config=MatcherConfig(kind="logreg", **FAST))


def test_every_tree_reads_one_group_only(hgb):
    codes = np.array([("name", "year", "structure", "gnn").index(g) for g in GROUPS])
    per_tree = tree_groups(hgb.model, codes)
    assert len(per_tree) == hgb.model.n_iter_
    assert set(per_tree.tolist()) <= {-1, 0, 1, 2, 3}
    for (predictor,), group in zip(hgb.model._predictors, per_tree):
        split_features = predictor.nodes["feature_idx"][predictor.nodes["is_leaf"] == 0]
        assert set(codes[split_features].tolist()) <= {group}


@pytest.mark.parametrize("fitted", ["hgb", "logreg"])
def test_contributions_add_up_to_the_log_odds(fitted, data, request):
    combiner = request.getfixturevalue(fitted)
    _, _, (X_test, _) = data
    contributions = combiner.contributions(X_test)
    assert contributions.shape == (len(X_test), 4)
    assert combiner.group_names == ("name", "year", "structure", "gnn")
    np.testing.assert_allclose(combiner.baseline_log_odds + contributions.sum(axis=1),
                               combiner.log_odds(X_test), rtol=0, atol=1e-9)
    # And before calibration, against the estimator's own decision function.
    raw = contributions / combiner.platt_scale
    raw_baseline = (combiner.baseline_log_odds - combiner.platt_offset) / combiner.platt_scale
    model = combiner.model if fitted == "hgb" else combiner.model.estimator
    design = X_test if fitted == "hgb" else combiner.model.design(X_test)
    np.testing.assert_allclose(raw_baseline + raw.sum(axis=1), model.decision_function(design), rtol=0, atol=1e-9)


def test_binned_contributions_send_threshold_values_the_way_raw_prediction_does(hgb, data):
    """Contributions read the fit's bins; a value exactly at a split threshold, one beyond the
    fitted range and a missing one must land in the same leaves as the raw values do."""
    _, _, (X_test, _) = data
    thresholds = np.unique(np.concatenate([p.nodes["num_threshold"][p.nodes["is_leaf"] == 0]
                                           for (p,) in hgb.model._predictors]))
    rng = np.random.default_rng(0)
    edge = X_test[rng.integers(len(X_test), size=4 * len(thresholds))].copy()
    columns = rng.integers(edge.shape[1], size=len(edge))
    edge[np.arange(len(edge)), columns] = np.r_[thresholds, np.nextafter(thresholds, np.inf),
                                                np.nextafter(thresholds, -np.inf), np.full(len(thresholds), np.nan)]
    edge[:3] = [[1e9] * 5, [-1e9] * 5, [np.nan] * 5]
    raw = hgb.contributions(edge) / hgb.platt_scale
    raw_baseline = (hgb.baseline_log_odds - hgb.platt_offset) / hgb.platt_scale
    np.testing.assert_allclose(raw_baseline + raw.sum(axis=1), hgb.model.decision_function(edge), rtol=0, atol=1e-9)


def test_the_noise_group_contributes_little_and_the_signal_groups_a_lot(hgb, data):
    _, _, (X_test, y_test) = data
    contributions = hgb.contributions(X_test)
    spread = contributions.std(axis=0)
    name, _, structure, gnn = range(4)
    assert spread[name] > 5 * spread[gnn] and spread[structure] > 5 * spread[gnn]
    assert contributions[y_test == 1, name].mean() > contributions[y_test == 0, name].mean() + 1


def test_logistic_contributions_are_coefficient_times_standardised_value(logreg, data):
    _, _, (X_test, _) = data
    row = X_test[:1]
    model = logreg.model
    z = np.nan_to_num((row - model.means) / model.scales)
    coef = model.estimator.coef_.ravel()
    flags = np.isnan(row[0, model.flagged_columns]).astype(float)
    year_flag = list(model.flagged_columns).index(2)
    expected_year = coef[2] * z[0, 2] + coef[len(NAMES) + year_flag] * flags[year_flag]
    assert logreg.contributions(row)[0, 1] == pytest.approx(logreg.platt_scale * expected_year)
    assert model.flagged_columns.tolist() == [2, 3]  # the columns with NaN in TRAIN


def test_threshold_and_calibration_come_from_valid(hgb, data):
    _, (Xv, yv), _ = data
    raw = hgb.raw_log_odds(Xv)
    assert (hgb.platt_scale, hgb.platt_offset) == pytest.approx(platt_scaling(raw, yv))
    threshold, f1 = best_f1_threshold(yv, hgb.predict_proba(Xv))
    assert hgb.threshold == pytest.approx(threshold) and hgb.valid_f1 == pytest.approx(f1)
    assert hgb.predict(Xv).tolist() == (hgb.predict_proba(Xv) >= threshold).tolist()
    # Calibrated on VALID: the mean probability is close to the share of matches there.
    assert hgb.predict_proba(Xv).mean() == pytest.approx(yv.mean(), abs=0.02)


def test_the_grid_is_searched_and_the_choice_recorded(data):
    (X, y), (Xv, yv), _ = data
    config = MatcherConfig(learning_rates=(0.05, 0.3), max_leaf_nodes=(3,), l2_regularizations=(0.0,), **FAST)
    combiner = fit_combiner(X, y, Xv, yv, feature_names=NAMES, feature_groups=GROUPS, config=config)
    assert combiner.hyper_parameters["learning_rate"] in (0.05, 0.3)
    assert combiner.hyper_parameters["max_leaf_nodes"] == 3
    assert combiner.valid_average_precision > 0.9


def test_blocking_losses_change_the_threshold_denominator(data):
    (X, y), (Xv, yv), _ = data
    lossy = fit_combiner(X, y, Xv, yv, feature_names=NAMES, feature_groups=GROUPS,
                         config=MatcherConfig(kind="logreg", **FAST), valid_n_positives=int(yv.sum()) + 50)
    _, f1 = best_f1_threshold(yv, lossy.predict_proba(Xv), n_positives=int(yv.sum()) + 50)
    assert lossy.valid_f1 == pytest.approx(f1)


def test_feature_blocks_are_accepted_and_column_order_is_checked(data):
    (X, y), (Xv, yv), (Xt, _) = data
    train, valid = FeatureBlock(NAMES, GROUPS, X), FeatureBlock(NAMES, GROUPS, Xv)
    combiner = fit_combiner(train, y, valid, yv, config=MatcherConfig(kind="logreg", **FAST))
    assert combiner.feature_names == NAMES
    np.testing.assert_allclose(combiner.log_odds(FeatureBlock(NAMES, GROUPS, Xt)), combiner.log_odds(Xt))
    swapped = FeatureBlock(NAMES[::-1], GROUPS[::-1], Xt[:, ::-1])
    with pytest.raises(ValueError, match="differ from those the combiner was fitted on"):
        combiner.log_odds(swapped)


def test_save_and_load_round_trip(hgb, data, tmp_path):
    _, _, (X_test, _) = data
    path = tmp_path / "matcher.joblib"
    hgb.save(path)
    loaded = load_combiner(path)
    np.testing.assert_array_equal(loaded.log_odds(X_test), hgb.log_odds(X_test))
    np.testing.assert_array_equal(loaded.contributions(X_test), hgb.contributions(X_test))
    assert loaded.threshold == hgb.threshold and loaded.config == hgb.config
    import joblib
    joblib.dump({"format": "something else"}, tmp_path / "other.joblib")
    with pytest.raises(ValueError, match="not a mualign matcher file"):
        load_combiner(tmp_path / "other.joblib")


def test_config_from_dict_names_unknown_keys_and_checks_values():
    assert MatcherConfig.from_dict({"kind": "logreg", "seed": 3}).kind.value == "logreg"
    with pytest.raises(ValueError, match=r"unknown matcher settings \['learning_rate'\]"):
        MatcherConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(ValueError, match="learning_rates is empty"):
        MatcherConfig(learning_rates=())
    with pytest.raises(ValueError):
        MatcherConfig(kind="forest")
    config = MatcherConfig(seed=4)
    assert MatcherConfig.from_dict(config.to_dict()) == config


def test_bad_inputs_are_refused_with_the_reason(data):
    (X, y), (Xv, yv), _ = data
    kwargs = dict(feature_names=NAMES, feature_groups=GROUPS, config=MatcherConfig(kind="logreg", **FAST))
    with pytest.raises(ValueError, match="valid_y has only one class"):
        fit_combiner(X, y, Xv, np.zeros_like(yv), **kwargs)
    bad = X.copy()
    bad[0, 1] = np.inf
    with pytest.raises(ValueError, match=r"train_X has infinite values in columns \[1\]"):
        fit_combiner(bad, y, Xv, yv, **kwargs)
    with pytest.raises(ValueError, match="feature_names and feature_groups are required"):
        fit_combiner(X, y, Xv, yv)
    with pytest.raises(ValueError, match=r"valid_X has shape \(1000, 4\)"):
        fit_combiner(X, y, Xv[:, :4], yv, **kwargs)


def test_platt_scaling_stays_finite_on_separated_valid():
    a, b = platt_scaling(np.array([-3.0, -2.0, 2.0, 3.0]), np.array([0, 0, 1, 1]))
    assert np.isfinite(a) and a > 0
    assert expit(a * 3 + b) < 1 - 1e-3  # smoothed targets: never claims certainty from 2 examples
