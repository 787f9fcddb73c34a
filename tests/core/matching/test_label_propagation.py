"""Three-view label propagation: the propagation by hand, determinism, anchors only from TRAIN."""

from __future__ import annotations

import numpy as np
import pytest

from core.matching.label_propagation import (LabelPropagationConfig, align_by_labels, label_cosine, propagate,
                                             propagation_graph, top_k_both_ways)


def _star_pair():
    """Per side, entities 0-5: 0 -r0-> 1, 0 -r0-> 2, 3 -r1-> 4, 3 -r1-> 5; the right side renumbers e -> 5 - e."""
    heads, rels, tails = np.array([0, 0, 3, 3]), np.array([0, 0, 1, 1]), np.array([1, 2, 4, 5])
    left = propagation_graph(heads, rels, tails, n_entities=6, n_relations=2)
    right = propagation_graph(5 - heads, rels, 5 - tails, n_entities=6, n_relations=2)
    return left, right


def test_propagation_by_hand_on_a_six_node_graph():
    left, _ = _star_pair()
    e1, e2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    x = propagate(left, np.array([1, 4]), np.stack([e1, e2]), hops=2, relations=True)
    # hop 0: the anchors' own labels
    assert x[1, 0].tolist() == e1.tolist() and x[4, 0].tolist() == e2.tolist() and not x[0, 0].any()
    # hop 1: entity 0's neighbours are 1 (e1) and 2 (nothing): e1; relation labels are still zero
    assert x[0, 1] == pytest.approx(e1) and x[3, 1] == pytest.approx(e2)
    assert not x[1, 1].any() and not x[2, 1].any()  # their only neighbour (0) has no hop-0 label
    # hop 2: entity 2 gets its neighbour 0's hop-1 label (e1) plus its relation r0's label, which
    # is the mean of the hop-0 labels of r0's entities (heads: none; tails: entity 1 -> e1): e1
    assert x[2, 2] == pytest.approx(e1) and x[5, 2] == pytest.approx(e2)
    # without relations entity 2 gets e1 too (from 0), entity 1 gets its own label back
    y = propagate(left, np.array([1, 4]), np.stack([e1, e2]), hops=2, relations=False)
    assert y[1, 2] == pytest.approx(e1) and y[2, 2] == pytest.approx(e1)


def test_alignment_finds_the_mirrored_entities_and_is_deterministic():
    left, right = _star_pair()
    config = LabelPropagationConfig(dim=64, rounds=1, top_k=3, seed=3)
    rows = [(np.arange(6), np.arange(6))]
    a = align_by_labels(left, right, np.array([1, 4]), np.array([4, 1]), rows, config)
    b = align_by_labels(left, right, np.array([1, 4]), np.array([4, 1]), rows, config)
    best = {l: r for l, r in zip(a.candidate_left[::-1].tolist(), a.candidate_right[::-1].tolist())}
    assert best[0] == 5 and best[3] == 2  # the hubs, through their anchored neighbours
    for name in ("left_features", "right_features", "candidate_left", "candidate_right", "candidate_similarity",
                 "pseudo_left", "pseudo_right"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    # the given anchors stay first; pseudo-anchors never reuse a known anchor's entity
    assert a.anchor_left[:2].tolist() == [1, 4]
    assert not np.isin(a.pseudo_left, [1, 4]).any() and not np.isin(a.pseudo_right, [4, 1]).any()


def test_no_anchor_means_no_evidence():
    left, right = _star_pair()
    empty = np.zeros(0, dtype=np.int64)
    a = align_by_labels(left, right, empty, empty, [(np.arange(6), np.arange(6))], LabelPropagationConfig(dim=8))
    assert len(a.candidate_left) == 0 and not a.left_features.any()
    assert np.isnan(label_cosine(a, np.array([0]), np.array([5]))).all()


def test_own_anchor_label_is_projected_out():
    # a pair whose only shared evidence is its own anchor label has no similarity left
    left, right = _star_pair()
    config = LabelPropagationConfig(dim=256, rounds=0, relations=False)
    a = align_by_labels(left, right, np.array([1]), np.array([4]), [(np.arange(6), np.arange(6))], config)
    own = label_cosine(a, np.array([1]), np.array([4]))  # hop 2 returns entity 1's own label
    assert np.nan_to_num(own) == pytest.approx([0.0], abs=1e-5)
    assert label_cosine(a, np.array([0]), np.array([5]))[0] > 0.4  # a neighbour of the anchor keeps it


def test_top_k_both_ways_matches_a_dense_sort_in_any_chunking():
    rng = np.random.default_rng(0)
    left, right = rng.normal(size=(37, 5)).astype(np.float32), rng.normal(size=(23, 5)).astype(np.float32)
    sim = left @ right.T
    for chunk in (1, 7, 100):
        f, fv, b, bv = top_k_both_ways(left, right, 4, chunk=chunk)
        assert np.array_equal(f, np.argsort(-sim, axis=1, kind="stable")[:, :4])
        assert np.array_equal(b, np.argsort(-sim.T, axis=1, kind="stable")[:, :4])
        assert fv == pytest.approx(np.sort(sim, axis=1)[:, ::-1][:, :4], rel=1e-5)
        assert bv == pytest.approx(np.take_along_axis(sim.T, b, axis=1), rel=1e-5)
    f, fv, b, bv = top_k_both_ways(left, right, 30, chunk=7)  # k above the right side's 23 rows: all of them
    assert f.shape == (37, 23) and b.shape == (23, 30)
    assert np.array_equal(f, np.argsort(-sim, axis=1, kind="stable"))
    assert np.array_equal(b, np.argsort(-sim.T, axis=1, kind="stable")[:, :30])


def test_label_columns_of_pairs_the_last_call_computed_are_read_back(monkeypatch):
    """The fit computes every candidate's label cosine and the scoring pass asks again: a subset of
    the last call's pairs (same alignment) gets the fresh values, in the order asked."""
    import core.matching.label_propagation as lp

    left, right = _star_pair()
    alignment = align_by_labels(left, right, np.array([1, 4]), np.array([4, 1]), [(np.arange(6), np.arange(6))],
                                LabelPropagationConfig(dim=16, rounds=1, top_k=3, seed=0))
    pairs_left, pairs_right = np.repeat(np.arange(6), 6), np.tile(np.arange(6), 6)
    lp._LAST_LABELS.clear()
    everything = lp.label_features(alignment, pairs_left, pairs_right).values
    rows = np.array([35, 0, 7, 20, 7])
    calls = []
    real = lp.label_cosine
    monkeypatch.setattr(lp, "label_cosine", lambda *args, **kw: calls.append(1) or real(*args, **kw))
    kept = lp.label_features(alignment, pairs_left[rows], pairs_right[rows]).values
    assert calls == []  # read back
    np.testing.assert_array_equal(kept, everything[rows])
    np.testing.assert_array_equal(kept[:, 0], real(alignment, pairs_left[rows], pairs_right[rows]))
    other = align_by_labels(left, right, np.array([1]), np.array([4]), [(np.arange(6), np.arange(6))],
                            LabelPropagationConfig(dim=16, rounds=1, top_k=3, seed=0))
    lp.label_features(other, pairs_left[rows], pairs_right[rows])  # another alignment: computed anew
    assert calls == [1]
    monkeypatch.setattr(lp, "LABEL_MEMO_PAIRS", 3)
    lp.label_features(alignment, pairs_left, pairs_right)
    assert lp._LAST_LABELS.value is None  # above the limit: nothing is kept


def test_the_ranking_partitions_blocks_of_rows_and_reuses_its_buffers_with_the_same_answer(monkeypatch):
    """Blocks of a few rows (and chunks that reuse the product buffers, the last one shorter) give
    exactly the positions and values of one partition of the whole product, ties included."""
    import core.matching.label_propagation as lp

    rng = np.random.default_rng(5)
    left = rng.integers(0, 3, size=(53, 4)).astype(np.float32)  # small integers: many tied similarities
    right = rng.integers(0, 3, size=(31, 4)).astype(np.float32)
    whole = lp.top_k_both_ways(left, right, 6, chunk=1000)
    monkeypatch.setattr(lp, "PARTITION_BLOCK_BYTES", 8 * 31 * 3)  # three rows a block
    for chunk in (7, 20, 53):
        blocked = lp.top_k_both_ways(left, right, 6, chunk=chunk)
        if chunk == 53:  # one chunk: the same partitions row by row as without blocks
            for a, b in zip(whole, blocked):
                assert np.array_equal(a, b)
        sim = left @ right.T
        assert np.array_equal(blocked[1], np.sort(sim, axis=1)[:, ::-1][:, :6])
        assert np.array_equal(blocked[3], np.sort(sim.T, axis=1)[:, ::-1][:, :6])
        assert np.array_equal(blocked[1], np.take_along_axis(sim, blocked[0], axis=1))
        assert np.array_equal(blocked[3], np.take_along_axis(sim.T, blocked[2], axis=1))
