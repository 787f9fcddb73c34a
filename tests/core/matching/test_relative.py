"""Relative features: ranks, margins, mutual best and CSLS against hand-computed values."""

import numpy as np
import pytest

from core.matching.feature_block import FeatureBlock
from core.matching.relative import group_relative_stats, relative_features


def test_group_stats_by_hand():
    groups = np.array([0, 0, 0, 1, 1, 2])
    values = np.array([0.2, 0.9, 0.5, 0.4, 0.4, 0.7])
    rank, margin, topk = group_relative_stats(groups, values, top_k=2)
    np.testing.assert_array_equal(rank, [3, 1, 2, 1, 1, 1])  # ties share the best rank
    np.testing.assert_allclose(margin[:5], [0.2 - 0.9, 0.9 - 0.5, 0.5 - 0.9, 0.0, 0.0])
    assert np.isnan(margin[5])  # no other candidate
    np.testing.assert_allclose(topk, [0.7, 0.7, 0.7, 0.4, 0.4, 0.7])


def test_nan_values_are_left_out_of_the_ranking():
    groups = np.array([0, 0, 0])
    values = np.array([np.nan, 0.3, 0.1])
    rank, margin, topk = group_relative_stats(groups, values)
    assert np.isnan(rank[0]) and np.isnan(margin[0]) and np.isnan(topk[0])
    np.testing.assert_array_equal(rank[1:], [1, 2])
    np.testing.assert_allclose(margin[1:], [0.2, -0.2])
    np.testing.assert_allclose(topk[1:], [0.2, 0.2])


def test_order_of_rows_does_not_matter():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 400)
    values = np.round(rng.random(400), 2)
    values[rng.random(400) < 0.1] = np.nan
    perm = rng.permutation(400)
    a = group_relative_stats(groups, values)
    b = group_relative_stats(groups[perm], values[perm])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x[perm], y)


def test_group_stats_match_a_pandas_reference():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 50, 1000)
    values = np.round(rng.random(1000), 2)
    frame = pd.DataFrame({"g": groups, "v": values})
    rank, margin, topk = group_relative_stats(groups, values, top_k=3)
    np.testing.assert_array_equal(rank, frame.groupby("g")["v"].rank(method="min", ascending=False).to_numpy())
    expected_top = frame.groupby("g")["v"].transform(lambda s: s.nlargest(3).mean()).to_numpy()
    np.testing.assert_allclose(topk, expected_top)
    best_other = frame.groupby("g")["v"].transform(lambda s: [s.drop(i).max() if len(s) > 1 else np.nan
                                                              for i in s.index]).to_numpy()
    np.testing.assert_allclose(margin, values - best_other)


def test_relative_features_columns_groups_and_values():
    # left 0 has candidates right 0 (0.9) and right 1 (0.5); left 1 has right 1 (0.6)
    left, right = np.array([0, 0, 1]), np.array([0, 1, 1])
    block = FeatureBlock(("name.tfidf_char3_cosine", "gnn.distance", "name.other"), ("name", "gnn", "name"),
                         np.array([[0.9, 0.1, 0.0], [0.5, 0.3, 0.0], [0.6, 0.2, 0.0]]))
    out = relative_features(block, left, right, columns=("name.tfidf_char3_cosine", "-gnn.distance", "absent"),
                            top_k=10)
    assert set(out.groups) == {"name", "gnn"}
    assert all(g == n.split(".")[0] for n, g in zip(out.names, out.groups))  # each joins its source's group
    col = {n: out.values[:, j] for j, n in enumerate(out.names)}
    np.testing.assert_array_equal(col["name.tfidf_char3_cosine.rel_left_rr"], [1, 0.5, 1])
    np.testing.assert_array_equal(col["name.tfidf_char3_cosine.rel_right_rr"], [1, 0.5, 1])
    np.testing.assert_array_equal(col["name.tfidf_char3_cosine.rel_mutual_best"], [1, 0, 1])
    np.testing.assert_allclose(col["name.tfidf_char3_cosine.rel_left_margin"][:2], [0.4, -0.4])
    np.testing.assert_allclose(col["name.tfidf_char3_cosine.rel_csls"], [2 * 0.9 - 0.7 - 0.9, 1.0 - 0.7 - 0.55,
                                                                          1.2 - 0.6 - 0.55])
    # the distance is ranked lower-is-better: (0, 0) is closest for left 0, (1, 1) for right 1
    np.testing.assert_array_equal(col["gnn.distance.rel_left_rr"], [1, 0.5, 1])
    np.testing.assert_array_equal(col["gnn.distance.rel_right_rr"], [1, 0.5, 1])


def test_relative_features_refuse_mismatched_ids():
    block = FeatureBlock(("name.x",), ("name",), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="3 pairs"):
        relative_features(block, np.arange(2), np.arange(3), columns=("name.x",))


def test_matcher_uses_relative_columns_inside_their_groups(music):
    from dataclasses import replace

    from core.matching.combiner import MatcherConfig
    from core.matching.matcher import MatchingConfig, fit_matcher

    dataset, candidates = music
    config = MatchingConfig(combiner=MatcherConfig(learning_rates=(0.1,), max_leaf_nodes=(15,)), rounds=0)
    matcher = fit_matcher(dataset, candidates, config=config)
    names = matcher.combiners[-1].feature_names
    relative = [n for n in names if ".rel_" in n]
    assert relative and any(n.startswith("name.") for n in relative)
    scores, block, _, _ = matcher.score_with_evidence(dataset, candidates)
    # each relative column sits in its source column's group, so the waterfall stays exact
    for j, name in enumerate(block.names):
        if ".rel_" in name:
            assert block.groups[j] == block.groups[block.names.index(name.split(".rel_")[0])]
    np.testing.assert_allclose(scores.baseline + scores.contributions.sum(axis=1), scores.log_odds, atol=1e-9)
    # the ranks are taken over the whole candidate set handed to score()
    source = block.names.index("name.tfidf_char3_cosine")
    expected = relative_features(FeatureBlock(("name.tfidf_char3_cosine",), ("name",), block.values[:, [source]]),
                                 candidates.left, candidates.right, columns=("name.tfidf_char3_cosine",))
    for j, name in enumerate(expected.names):
        np.testing.assert_array_equal(block.values[:, block.names.index(name)], expected.values[:, j])
    off = fit_matcher(dataset, candidates, config=replace(config, relative_features=False))
    assert not any(".rel_" in n for n in off.combiners[-1].feature_names)
