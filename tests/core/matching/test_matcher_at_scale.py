"""The matcher's memory bounds: chunked pair products, a sampled fit, chunked scoring; same numbers as whole."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

import core.matching.matcher as matcher_module
from core.data.links import Split
from core.matching.combiner import MatcherConfig
from core.matching.matcher import MatchingConfig, fit_matcher, fit_pair_set, load_matcher, training_rows
from core.matching.relative import relative_features
from core.matching.feature_block import FeatureBlock
from core.matching.sparse_rows import pair_rows_cosine, pair_rows_dot, rowwise_cosine, rowwise_dot

FAST = MatcherConfig(max_leaf_nodes=(15,), l2_regularizations=(0.0,), max_iter=40)
CONFIG = MatchingConfig(combiner=FAST, rounds=1)


def test_pair_products_in_chunks_equal_the_whole_gather():
    rng = np.random.default_rng(0)
    a = sp.random(40, 30, density=0.2, format="csr", random_state=1)
    b = sp.random(50, 30, density=0.2, format="csr", random_state=2)
    left, right = rng.integers(0, 40, 333), rng.integers(0, 50, 333)
    np.testing.assert_array_equal(pair_rows_dot(a, b, left, right, chunk_rows=7), rowwise_dot(a[left], b[right]))
    np.testing.assert_array_equal(pair_rows_cosine(a, b, left, right, chunk_rows=7),
                                  rowwise_cosine(a[left], b[right]))
    with pytest.raises(ValueError, match="one of each per pair"):
        pair_rows_dot(a, b, left, right[:-1])


def _rows(dataset, candidates):
    n_right = dataset.right.n_entities
    train = training_rows(dataset, candidates, Split.TRAIN)
    valid = training_rows(dataset, candidates, Split.VALID,
                          exclude_keys=train[0] * n_right + train[1])
    return train, valid, n_right


def test_under_the_limit_every_candidate_joins_the_fit(music):
    dataset, candidates = music
    train, valid, n_right = _rows(dataset, candidates)
    tr, va, extra, summary = fit_pair_set(candidates, train, valid, n_right, needs_context=True, limit=10 ** 9)
    assert summary == {} and len(tr[0]) == len(train[0]) and len(va[0]) == len(valid[0])
    row_keys = np.r_[train[0], valid[0]] * n_right + np.r_[train[1], valid[1]]
    assert extra.sum() == (~np.isin(candidates.pair_keys(n_right), row_keys)).sum()


def test_above_the_limit_a_sample_of_left_entities_keeps_each_rows_ranks_exact(music):
    dataset, candidates = music
    train, valid, n_right = _rows(dataset, candidates)
    whole = len(candidates.left)
    limit = whole // 3
    label_key = train[0][:1] * n_right + train[1][:1]
    tr, va, extra, summary = fit_pair_set(candidates, train, valid, n_right, needs_context=True, limit=limit,
                                          seed=3)
    size = len(tr[0]) + len(va[0]) + int(extra.sum())
    assert size <= limit and summary["pairs"] == size and 0 < summary["fraction"] < 1
    assert summary["train_rows"] == len(tr[0]) < len(train[0])
    for seed in range(5):  # an analyst's label is never sampled away
        labelled = fit_pair_set(candidates, train, valid, n_right, needs_context=True, limit=limit, seed=seed,
                                keep=label_key)[0]
        assert label_key[0] in labelled[0] * n_right + labelled[1]
    # a kept left entity keeps all its rows
    assert np.isin(train[0], np.unique(tr[0])).sum() == len(tr[0])
    # the relative columns of every kept row equal those computed over the whole candidate set
    scores = np.random.default_rng(0).random(n_right * dataset.left.n_entities)

    def relative(left, right):
        values = scores[left * n_right + right][:, None]
        return relative_features(FeatureBlock(("name.tfidf_char3_cosine",), ("name",), values), left, right).values

    rows_left, rows_right = np.r_[tr[0], va[0]], np.r_[tr[1], va[1]]
    fit_left, fit_right = np.r_[rows_left, candidates.left[extra]], np.r_[rows_right, candidates.right[extra]]
    all_keys = candidates.pair_keys(n_right)
    missing = ~np.isin(rows_left * n_right + rows_right, all_keys)  # labelled pairs outside the candidates
    every_left, every_right = np.r_[candidates.left, rows_left[missing]], np.r_[candidates.right, rows_right[missing]]
    in_fit = relative(fit_left, fit_right)[:len(rows_left)]
    everywhere = relative(every_left, every_right)
    position = {k: i for i, k in enumerate(every_left * n_right + every_right)}
    index = np.array([position[k] for k in rows_left * n_right + rows_right])
    np.testing.assert_array_equal(in_fit, everywhere[index])


def test_a_sampled_fit_scores_every_candidate_and_says_it_sampled(tmp_path, music):
    dataset, candidates = music
    limit = len(candidates.left) // 2
    matcher = fit_matcher(dataset, candidates, config=replace(CONFIG, fit_pairs_limit=limit))
    sample = matcher.describe()["fit_sample"]
    assert sample["pairs"] <= limit < sample["pairs_without_sample"] and 0 < sample["fraction"] < 1
    scores = matcher.score(dataset, candidates)
    assert len(scores) == len(candidates.left) and np.isfinite(scores.log_odds).all()
    test = dataset.links.in_split(Split.TEST).positives()
    n_right = dataset.right.n_entities
    is_match = np.isin(candidates.pair_keys(n_right), test.left * n_right + test.right)
    from sklearn.metrics import roc_auc_score

    of_test_left = np.isin(candidates.left, test.left)
    assert roc_auc_score(is_match[of_test_left], scores.log_odds[of_test_left]) > 0.9  # still ranks matches first
    matcher.save(tmp_path)
    assert load_matcher(tmp_path).describe()["fit_sample"] == sample
    assert fit_matcher(dataset, candidates, config=CONFIG).describe()["fit_sample"] == {}


@pytest.mark.parametrize("cap", ["rows", "bytes"])
def test_scoring_in_chunks_gives_the_numbers_of_one_pass(music, monkeypatch, cap):
    dataset, candidates = music
    matcher = fit_matcher(dataset, candidates, config=CONFIG)
    whole = matcher.score(dataset, candidates)
    if cap == "rows":
        monkeypatch.setattr(matcher_module, "SCORE_CHUNK_ROWS", 97)
    else:  # 61 rows of the combiner's float64 columns a chunk
        monkeypatch.setattr(matcher_module, "SCORE_CHUNK_BYTES", 61 * 8 * len(matcher.combiners[-1].feature_names))
    chunked = matcher.score(dataset, candidates)
    np.testing.assert_array_equal(chunked.log_odds, whole.log_odds)
    np.testing.assert_array_equal(chunked.contributions, whole.contributions)
    np.testing.assert_array_equal(chunked.decided, whole.decided)


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError, match="fit_pairs_limit"):
        MatchingConfig(fit_pairs_limit=0)
