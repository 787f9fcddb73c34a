"""The learned combiner: all evidence on a pair -> a calibrated match probability, and why.

Default: scikit-learn's ``HistGradientBoostingClassifier`` with ``interaction_cst`` set to the
feature groups (name, each attribute, structure, gnn). Groups are disjoint, so every tree splits
on the features of one group only, and the model's log-odds is

    raw(x) = baseline + sum over groups g of  sum over trees t of group g: tree_t(x)

an **exact** split into per-group contributions (a Splink-like waterfall computed from the
matcher itself, not a post-hoc approximation such as SHAP). The price is that the model cannot
learn interactions *between* groups ("a title match counts only if the years agree"); within a
group it can, and comparison features are built so that each group is informative on its own.

The simple option is a logistic regression on standardised features (a missing value is set to
the training mean and flagged by an extra 0/1 column of the same group); its contributions are
``coef * standardised value`` summed per group.

Fitting uses TRAIN rows only for the model, and VALID rows only for everything chosen: early
stopping, the hyper-parameter grid (by VALID average precision, ties to the lower VALID log
loss), Platt scaling and the F1 threshold. TEST rows never enter :func:`fit_combiner`, whose
signature has no place for them. Platt scaling maps log-odds to ``a * raw + b``, which keeps the
decomposition additive: every group contribution is multiplied by ``a`` and the baseline
becomes ``a * baseline + b``.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from itertools import product
from pathlib import Path

import joblib
import numpy as np
import sklearn
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, log_loss
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from threadpoolctl import threadpool_limits

from core.evaluation.metrics import best_f1_threshold
from core.matching.feature_block import FeatureBlock

__all__ = [
    "CombinerKind",
    "MatcherConfig",
    "FittedCombiner",
    "fit_combiner",
    "platt_scaling",
    "tree_groups",
    "load_combiner",
    "check_known_settings",
    "FILE_FORMAT",
    "FILE_VERSION",
]

#: Tag and version written into every saved combiner; :func:`load_combiner` refuses others.
FILE_FORMAT = "mualign.matching.combiner"
FILE_VERSION = 1


class CombinerKind(str, Enum):
    HGB = "hgb"
    LOGREG = "logreg"


@dataclass(frozen=True)
class MatcherConfig:
    """Every knob of the combiner; an experiment changes this, not code.

    Parameters
    ----------
    kind : 'hgb' or 'logreg'
    seed : int
    learning_rates, max_leaf_nodes, l2_regularizations : tuples
        The gradient-boosting grid (every combination is fitted; VALID picks one). Early stopping
        adapts the number of trees, so a small grid suffices.
    max_iter : int
        Most trees per fit; early stopping on VALID usually stops far earlier.
    n_iter_no_change : int
        Early stopping patience (iterations without VALID log-loss improvement).
    min_samples_leaf : int
    logreg_cs : tuple of float
        Inverse regularisation strengths tried for the logistic regression.
    n_threads : int, optional
        OpenMP threads for gradient boosting; None: the library default (all cores). Default 1
        because the matcher is refitted while other work runs (GNN training, the app): on a busy
        2-core machine (load 10) two threads fitted 20K rows in 175 s against 8 s for one,
        since OpenMP threads spin waiting for each other. On an idle machine, more threads
        gain at most the core count.
    """

    kind: CombinerKind = CombinerKind.HGB
    seed: int = 0
    learning_rates: tuple[float, ...] = (0.1,)
    max_leaf_nodes: tuple[int, ...] = (15, 31)
    l2_regularizations: tuple[float, ...] = (0.0, 1.0)
    max_iter: int = 200
    n_iter_no_change: int = 10
    min_samples_leaf: int = 20
    logreg_cs: tuple[float, ...] = (0.1, 1.0, 10.0)
    n_threads: int | None = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CombinerKind(self.kind))
        for name in ("learning_rates", "max_leaf_nodes", "l2_regularizations", "logreg_cs"):
            values = tuple(getattr(self, name))
            object.__setattr__(self, name, values)
            if not values:
                raise ValueError(f"MatcherConfig.{name} is empty; give at least one value to try")
        if min(self.learning_rates) <= 0 or min(self.logreg_cs) <= 0 or min(self.l2_regularizations) < 0:
            raise ValueError("learning rates and logreg Cs must be > 0, l2 regularisations >= 0")
        if min(self.max_leaf_nodes) < 2 or self.max_iter < 1 or self.min_samples_leaf < 1:
            raise ValueError("max_leaf_nodes must be >= 2, max_iter and min_samples_leaf >= 1")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "MatcherConfig":
        """Build from a parsed JSON object; unknown keys are an error naming them."""
        check_known_settings(cls, data, "matcher")
        return cls(**data)


def check_known_settings(config_class: type, data: dict, what: str) -> None:
    """Refuse keys of ``data`` that are not fields of the dataclass ``config_class``, naming them.

    One rule for every settings file the matcher reads (this combiner's and the end-to-end
    ``MatchingConfig``), so a misspelt key is never silently ignored.
    """
    known = set(config_class.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what} settings {unknown}; known: {sorted(known)}")


# --------------------------------------------------------------------------------------------
# Logistic regression with standardisation and missing flags
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _StandardisedLogit:
    """Logistic regression on ``(x - mean) / scale`` with NaN -> 0 plus a flag per NaN-bearing column."""

    means: np.ndarray
    scales: np.ndarray
    flagged_columns: np.ndarray
    estimator: LogisticRegression

    def design(self, X: np.ndarray) -> np.ndarray:
        return _logit_design(X, self.means, self.scales, self.flagged_columns)


def _logit_design(X: np.ndarray, means: np.ndarray, scales: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    standardised = np.nan_to_num((X - means) / scales, nan=0.0)
    return np.hstack([standardised, np.isnan(X[:, flagged]).astype(np.float64)])


def _fit_logit(X: np.ndarray, y: np.ndarray, c: float, seed: int) -> _StandardisedLogit:
    present = ~np.isnan(X)
    counts = present.sum(axis=0)
    means = np.divide(np.where(present, X, 0).sum(axis=0), counts, out=np.zeros(X.shape[1]), where=counts > 0)
    scales = np.sqrt(np.divide(np.where(present, (X - means) ** 2, 0).sum(axis=0), counts,
                               out=np.zeros(X.shape[1]), where=counts > 0))
    scales[scales == 0] = 1.0  # a constant column carries nothing; keep it finite
    flagged = np.flatnonzero((~present).any(axis=0))
    estimator = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    estimator.fit(_logit_design(X, means, scales, flagged), y)
    return _StandardisedLogit(means, scales, flagged, estimator)


# --------------------------------------------------------------------------------------------
# Gradient boosting: one group per tree
# --------------------------------------------------------------------------------------------


def _group_codes(feature_groups: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(dict.fromkeys(feature_groups))
    return names, np.array([names.index(g) for g in feature_groups], dtype=np.int64)


def _fit_hgb(X: np.ndarray, y: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray,
             group_codes: np.ndarray, params: dict, config: MatcherConfig) -> HistGradientBoostingClassifier:
    """One boosted model whose trees each read one group; early stopping on VALID.

    VALID rather than a slice of TRAIN stops the boosting because TRAIN is often small
    (iTunes-Amazon: a few hundred pairs) and VALID is already the split every choice is made on.
    """
    constraints = [np.flatnonzero(group_codes == g).tolist() for g in np.unique(group_codes)]
    model = HistGradientBoostingClassifier(
        max_iter=config.max_iter, early_stopping=True, n_iter_no_change=config.n_iter_no_change,
        min_samples_leaf=config.min_samples_leaf, interaction_cst=constraints,
        random_state=config.seed, **params,
    )
    return model.fit(X, y, X_val=X_valid, y_val=y_valid)


def tree_groups(model: HistGradientBoostingClassifier, group_codes: np.ndarray) -> np.ndarray:
    """The group index of every tree of a fitted binary model; -1 for a tree with no split.

    Reads the split features from the fitted predictors (``model._predictors[i][0].nodes``):
    scikit-learn has no public accessor for them.

    Raises
    ------
    RuntimeError
        A tree that splits on two groups (the interaction constraints did not hold).
    """
    out = np.full(len(model._predictors), -1, dtype=np.int64)
    for i, (predictor,) in enumerate(model._predictors):
        nodes = predictor.nodes
        groups = np.unique(group_codes[nodes["feature_idx"][nodes["is_leaf"] == 0]])
        if len(groups) > 1:
            raise RuntimeError(f"tree {i} splits on feature groups {groups.tolist()}; "
                               "interaction constraints must keep each tree within one group")
        if len(groups):
            out[i] = groups[0]
    return out


def _hgb_baseline(model: HistGradientBoostingClassifier, group_of_tree: np.ndarray) -> float:
    """The model's initial log-odds plus every split-free tree's constant output."""
    constant_trees = [model._predictors[i][0].nodes["value"][0] for i in np.flatnonzero(group_of_tree < 0)]
    return float(model._baseline_prediction.ravel()[0]) + float(np.sum(constant_trees))


def _hgb_contributions(model: HistGradientBoostingClassifier, X: np.ndarray, group_of_tree: np.ndarray,
                       n_groups: int) -> tuple[float, np.ndarray]:
    """(baseline, (n, n_groups)) such that baseline + row sums = ``model.decision_function(X)``.

    Each tree's output is added to its group's column; split-free trees are constants and belong
    to the baseline. The rows are binned once with the fit's own bins and every tree reads the
    bins (``predict_binned``, as scikit-learn scores its training data): one byte per value
    instead of eight, 1.5x faster than predicting from the raw values over DBLP-ACM's 171K
    candidates, and a split sends each row the same way (a value is at most a threshold exactly
    when its bin is at most the threshold's bin). That holds for numeric features, the only kind
    :func:`_fit_hgb` fits (a float matrix: scikit-learn infers no categorical column from it).
    """
    baseline = _hgb_baseline(model, group_of_tree)
    contributions = np.zeros((len(X), n_groups))
    if len(X) == 0:
        return baseline, contributions
    if getattr(model, "is_categorical_", None) is not None and np.any(model.is_categorical_):
        raise RuntimeError("the combiner's boosted model has categorical features, which it never fits; "
                           "their binned predictions would not match the raw ones")
    binned = model._bin_mapper.transform(np.asarray(X, dtype=np.float64))
    missing_bin, threads = model._bin_mapper.missing_values_bin_idx_, _openmp_effective_n_threads()
    for group, (predictor,) in zip(group_of_tree, model._predictors):
        if group >= 0:
            contributions[:, group] += predictor.predict_binned(binned, missing_bin, threads)
    return baseline, contributions


def _logit_contributions(model: _StandardisedLogit, X: np.ndarray, group_codes: np.ndarray,
                         n_groups: int) -> tuple[float, np.ndarray]:
    design = model.design(X)
    design_groups = np.concatenate([group_codes, group_codes[model.flagged_columns]])
    terms = design * model.estimator.coef_.ravel()
    contributions = np.zeros((len(X), n_groups))
    for g in range(n_groups):
        contributions[:, g] = terms[:, design_groups == g].sum(axis=1)
    return float(model.estimator.intercept_[0]), contributions


def _raw_log_odds(model, X: np.ndarray) -> np.ndarray:
    if isinstance(model, _StandardisedLogit):
        return model.estimator.decision_function(model.design(X))
    return model.decision_function(X)


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------


def platt_scaling(raw_log_odds: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(a, b) so that ``sigmoid(a * raw + b)`` is calibrated on these (VALID) pairs.

    Platt's smoothed targets ((N+ + 1)/(N+ + 2) for matches, 1/(N- + 2) for non-matches) keep
    ``a`` finite when VALID is perfectly separated, which a small clean VALID often is.

    Examples
    --------
    Log-odds already calibrated by construction give back a ~ 1, b ~ 0:

    >>> rng = np.random.default_rng(0)
    >>> raw = rng.normal(0, 2, 20000)
    >>> a, b = platt_scaling(raw, rng.random(20000) < 1 / (1 + np.exp(-raw)))
    >>> bool(abs(a - 1) < 0.05), bool(abs(b) < 0.05)
    (True, True)
    """
    z = np.asarray(raw_log_odds, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    target = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss_and_gradient(params: np.ndarray) -> tuple[float, np.ndarray]:
        s = params[0] * z + params[1]
        loss = -(target * log_expit(s) + (1 - target) * log_expit(-s)).sum()
        residual = expit(s) - target
        return float(loss), np.array([(residual * z).sum(), residual.sum()])

    result = minimize(loss_and_gradient, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


# --------------------------------------------------------------------------------------------
# The fitted combiner
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FittedCombiner:
    """A fitted, tuned, calibrated and thresholded combiner.

    ``log_odds(X) == baseline_log_odds + contributions(X).sum(axis=1)`` (to rounding), and
    ``predict_proba(X) == sigmoid(log_odds(X))``. Pairs with ``predict_proba >= threshold`` are
    predicted matches (threshold chosen for F1 on VALID).
    """

    config: MatcherConfig
    feature_names: tuple[str, ...]
    feature_groups: tuple[str, ...]
    model: object
    hyper_parameters: dict
    platt_scale: float
    platt_offset: float
    threshold: float
    valid_f1: float
    valid_average_precision: float
    tree_group_codes: np.ndarray | None = field(default=None, repr=False)

    @property
    def group_names(self) -> tuple[str, ...]:
        """Contribution columns, in order of each group's first feature."""
        return _group_codes(self.feature_groups)[0]

    def _matrix(self, X) -> np.ndarray:
        if isinstance(X, FeatureBlock):
            if X.names != self.feature_names:
                raise ValueError(f"feature columns {list(X.names)} differ from those the combiner "
                                 f"was fitted on {list(self.feature_names)}")
            X = X.values
        return _check_matrix(X, len(self.feature_names), "X")

    def raw_log_odds(self, X) -> np.ndarray:
        """The model's own log-odds, before Platt scaling."""
        with _threads(self.config):
            return _raw_log_odds(self.model, self._matrix(X))

    def log_odds(self, X) -> np.ndarray:
        """Calibrated match log-odds, (n,)."""
        return self.platt_scale * self.raw_log_odds(X) + self.platt_offset

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated match probability of each pair, (n,) (not sklearn's (n, 2))."""
        return expit(self.log_odds(X))

    def predict(self, X) -> np.ndarray:
        """Whether each pair is a predicted match at the VALID-chosen threshold."""
        return self.predict_proba(X) >= self.threshold

    def _raw_decomposition(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        names, codes = _group_codes(self.feature_groups)
        if isinstance(self.model, _StandardisedLogit):
            return _logit_contributions(self.model, X, codes, len(names))
        with _threads(self.config):
            return _hgb_contributions(self.model, X, self.tree_group_codes, len(names))

    @property
    def baseline_log_odds(self) -> float:
        """Calibrated log-odds before any evidence: the waterfall's starting bar."""
        raw_baseline, _ = self._raw_decomposition(np.zeros((0, len(self.feature_names))))
        return self.platt_scale * raw_baseline + self.platt_offset

    def contributions(self, X) -> np.ndarray:
        """Each group's share of the calibrated log-odds, (n, n_groups) in ``group_names`` order.

        Exact: ``baseline_log_odds + contributions(X).sum(axis=1) == log_odds(X)`` up to float
        rounding, because each tree (or each coefficient) belongs to one group.
        """
        _, raw = self._raw_decomposition(self._matrix(X))
        return self.platt_scale * raw

    def save(self, path: str | Path) -> None:
        """Write to ``path`` (joblib pickle with a format tag and version; load only files you wrote)."""
        joblib.dump({"format": FILE_FORMAT, "version": FILE_VERSION,
                     "sklearn_version": sklearn.__version__, "combiner": self}, path)


def load_combiner(path: str | Path) -> FittedCombiner:
    """Read a combiner written by :meth:`FittedCombiner.save`.

    Raises
    ------
    ValueError
        The file is not a combiner file, or of a version this code cannot read.
    """
    data = joblib.load(path)
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
        raise ValueError(f"{path}: not a mualign matcher file (expected format {FILE_FORMAT!r})")
    if data.get("version") != FILE_VERSION:
        raise ValueError(f"{path}: matcher file version {data.get('version')!r}, this code reads "
                         f"version {FILE_VERSION}; refit the matcher")
    return data["combiner"]


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


def _threads(config: MatcherConfig):
    if config.n_threads is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=config.n_threads, user_api="openmp")


def _check_matrix(X, n_columns: int, label: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_columns:
        raise ValueError(f"{label} has shape {X.shape}, expected (n_pairs, {n_columns})")
    infinite = np.flatnonzero(np.isinf(X).any(axis=0))
    if len(infinite):
        raise ValueError(f"{label} has infinite values in columns {infinite.tolist()}; "
                         "use NaN for a missing value")
    return X


def _check_labels(y, n: int, label: str) -> np.ndarray:
    y = np.asarray(y)
    if len(y) != n:
        raise ValueError(f"{label} has {len(y)} labels for {n} rows")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{label} must be 0/1 (non-match/match)")
    if len(np.unique(y)) < 2:
        raise ValueError(f"{label} has only one class; fitting and tuning need matches and non-matches")
    return y.astype(np.int64)


def _grid(config: MatcherConfig) -> list[dict]:
    if config.kind is CombinerKind.LOGREG:
        return [{"C": c} for c in config.logreg_cs]
    return [{"learning_rate": lr, "max_leaf_nodes": leaves, "l2_regularization": l2}
            for lr, leaves, l2 in product(config.learning_rates, config.max_leaf_nodes,
                                          config.l2_regularizations)]


def chosen_only(combiner: FittedCombiner, config: MatcherConfig) -> MatcherConfig:
    """``config`` with the hyper-parameters VALID chose for ``combiner`` as its only grid point."""
    chosen = combiner.hyper_parameters
    if "C" in chosen:
        return replace(config, logreg_cs=(chosen["C"],))
    if {"learning_rate", "max_leaf_nodes", "l2_regularization"} <= set(chosen):
        return replace(config, learning_rates=(chosen["learning_rate"],), max_leaf_nodes=(chosen["max_leaf_nodes"],),
                       l2_regularizations=(chosen["l2_regularization"],))
    return config


def _fit_one(params: dict, X, y, X_valid, y_valid, group_codes, config: MatcherConfig):
    if config.kind is CombinerKind.LOGREG:
        return _fit_logit(X, y, params["C"], config.seed)
    return _fit_hgb(X, y, X_valid, y_valid, group_codes, params, config)


def _valid_score(model, X_valid: np.ndarray, y_valid: np.ndarray) -> tuple[float, float]:
    """(average precision, log loss) on VALID; the grid maximises the first, then minimises the second."""
    raw = _raw_log_odds(model, X_valid)
    return float(average_precision_score(y_valid, raw)), float(log_loss(y_valid, expit(raw), labels=[0, 1]))


def fit_combiner(train_X, train_y, valid_X, valid_y, *, feature_names: tuple[str, ...] | None = None,
                 feature_groups: tuple[str, ...] | None = None, config: MatcherConfig = MatcherConfig(),
                 valid_n_positives: int | None = None) -> FittedCombiner:
    """Fit on TRAIN, choose hyper-parameters, calibration and threshold on VALID.

    Parameters
    ----------
    train_X, valid_X : (n, d) float arrays or FeatureBlock
        Evidence per pair, NaN where missing. With FeatureBlocks, names and groups come from
        ``train_X`` and ``valid_X`` must have the same columns.
    train_y, valid_y : (n,) arrays of 0/1
        Both classes must occur in each.
    feature_names, feature_groups : tuples of str, length d
        Required with plain arrays; each column's group becomes one contribution.
    config : MatcherConfig
    valid_n_positives : int, optional
        True VALID matches including those blocking lost, so the F1 threshold is chosen against
        real recall (see :func:`core.evaluation.metrics.best_f1_threshold`).

    Returns
    -------
    FittedCombiner

    Raises
    ------
    ValueError
        Mismatched shapes or names, non-0/1 labels, a split with one class, infinite values.
    """
    feature_names, feature_groups, X, X_valid = _resolve_columns(train_X, valid_X, feature_names, feature_groups)
    y = _check_labels(train_y, len(X), "train_y")
    y_valid = _check_labels(valid_y, len(X_valid), "valid_y")
    group_names, group_codes = _group_codes(feature_groups)
    best = None
    with _threads(config):
        for params in _grid(config):
            model = _fit_one(params, X, y, X_valid, y_valid, group_codes, config)
            average_precision, loss = _valid_score(model, X_valid, y_valid)
            if best is None or (average_precision, -loss) > (best[1], -best[2]):
                best = (params, average_precision, loss, model)
        params, average_precision, _, model = best
        raw_valid = _raw_log_odds(model, X_valid)
        trees = None if config.kind is CombinerKind.LOGREG else tree_groups(model, group_codes)
    scale, offset = platt_scaling(raw_valid, y_valid)
    threshold, f1 = best_f1_threshold(y_valid, expit(scale * raw_valid + offset), n_positives=valid_n_positives)
    return FittedCombiner(config=config, feature_names=feature_names, feature_groups=feature_groups,
                          model=model, hyper_parameters=dict(params), platt_scale=scale,
                          platt_offset=offset, threshold=threshold, valid_f1=f1,
                          valid_average_precision=average_precision, tree_group_codes=trees)


def _resolve_columns(train_X, valid_X, feature_names, feature_groups):
    if isinstance(train_X, FeatureBlock):
        if isinstance(valid_X, FeatureBlock) and valid_X.names != train_X.names:
            raise ValueError("valid_X has different feature columns from train_X")
        feature_names, feature_groups = train_X.names, train_X.groups
        train_X = train_X.values
        valid_X = valid_X.values if isinstance(valid_X, FeatureBlock) else valid_X
    if feature_names is None or feature_groups is None:
        raise ValueError("feature_names and feature_groups are required when X is a plain array")
    feature_names, feature_groups = tuple(feature_names), tuple(feature_groups)
    if len(feature_names) != len(feature_groups):
        raise ValueError(f"{len(feature_names)} feature names but {len(feature_groups)} groups")
    d = len(feature_names)
    return feature_names, feature_groups, _check_matrix(train_X, d, "train_X"), _check_matrix(valid_X, d, "valid_X")
