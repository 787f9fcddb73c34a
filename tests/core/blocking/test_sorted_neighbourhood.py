"""Sorted-neighbourhood blocking: the n log n path for types too large for the exact product."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.blocking.name_blocking import (BlockingConfig, block, fit_name_vectors, pair_cosines, top_k_cosine, top_k_per_row,
                           top_k_sorted_neighbourhood)
from core.blocking.sorted_neighbourhood import normalise, sort_keys, window_pairs


def test_normalise_strips_accents_case_and_punctuation():
    assert normalise("Amélie Poulain-Dupont, Jr.") == ["amelie", "poulain", "dupont", "jr"]
    assert normalise("") == []


def test_sort_keys_are_plain_sorted_words_and_reversed():
    plain, words, reversed_ = sort_keys(["Raj Kapoor Aditya"])
    assert (plain[0], words[0], reversed_[0]) == ("raj kapoor aditya", "aditya kapoor raj", "aytida roopak jar")


def test_window_pairs_take_the_neighbours_in_sort_order():
    right = np.array(["b", "d", "f", "h", "j"])[[3, 0, 4, 1, 2]]  # unsorted on purpose
    rows, cols = window_pairs(np.array(["e", "a"]), right, window=1)
    got = {(r, right[c]) for r, c in zip(rows.tolist(), cols.tolist())}
    assert got == {(0, "d"), (0, "f"), (1, "b")}  # "a" sorts first: it has no left neighbour
    assert window_pairs(np.array([], dtype=str), right, 3)[0].size == 0
    assert window_pairs(np.array(["a"]), np.array([], dtype=str), 3)[0].size == 0


def test_pair_cosines_equal_the_dense_product():
    lv, rv = fit_name_vectors(["Aditya Raj", "Keanu Reeves", "Zed"], ["Aditya Raj Kapoor", "Keanu Reves"],
                              BlockingConfig())
    rows, cols = np.array([0, 1, 2, 0]), np.array([0, 1, 0, 1])
    dense = (lv @ rv.T).toarray()
    np.testing.assert_allclose(pair_cosines(lv, rv, rows, cols, chunk=3), dense[rows, cols], rtol=1e-5)


def test_top_k_per_row_keeps_the_best_positive_scores():
    rows, cols, scores = top_k_per_row(np.array([1, 0, 0, 0, 1]), np.array([5, 1, 2, 3, 6]),
                                       np.array([0.0, 0.2, 0.9, 0.5, 0.3], dtype=np.float32), 2)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 2), (0, 3), (1, 6)]  # the zero score is dropped


def test_a_changed_first_letter_is_found_through_the_reversed_key():
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    filler = ["".join(rng.choice(letters, 7)) + " " + "".join(rng.choice(letters, 6)) for _ in range(300)]
    left, right = ["Aditya Raj Kapoor"], filler + ["Xditya Raj Kapoor"]
    lv, rv = fit_name_vectors(left, right, BlockingConfig())
    keys_left, keys_right = sort_keys(left), sort_keys(right)
    rows, cols, scores = top_k_sorted_neighbourhood(lv, rv, keys_left, keys_right, top_k=3, window=2)
    assert cols[0] == len(filler) and scores[0] > 0.5
    # with the plain key alone the typo sorts the match far away, out of the window
    _, cols_plain, _ = top_k_sorted_neighbourhood(lv, rv, keys_left[:1], keys_right[:1], top_k=3, window=2)
    assert len(filler) not in cols_plain.tolist()


def test_block_switches_to_sorted_neighbourhood_above_the_limit_and_keeps_the_true_matches(music):
    pair, _ = music
    exact, exact_report = block(pair.dataset, BlockingConfig(top_k=10, structure_top_k=0))
    approx, approx_report = block(pair.dataset, BlockingConfig(top_k=10, exact_pairs_limit=0, window=10,
                                                                      structure_top_k=0))
    assert not any(s.sorted_neighbourhood for s in exact_report.per_type)
    assert all(s.sorted_neighbourhood for s in approx_report.per_type)
    assert approx_report.pair_completeness >= exact_report.pair_completeness - 0.03
    assert approx_report.pair_completeness > 0.9
    assert (np.bincount(approx.left) <= 10).all()
    # the scores are exact cosines: a pair both paths keep has the same score
    n_right = pair.dataset.right.n_entities
    exact_scores = dict(zip((exact.left.astype(np.int64) * n_right + exact.right).tolist(), exact.name_score.tolist()))
    shared = [(k, s) for k, s in zip((approx.left.astype(np.int64) * n_right + approx.right).tolist(),
                                      approx.name_score.tolist()) if k in exact_scores]
    assert len(shared) > 0.5 * len(approx)
    assert all(s == pytest.approx(exact_scores[k], abs=1e-5) for k, s in shared)


def test_a_type_only_one_side_has_gets_no_candidates():
    # TfidfVectorizer refuses to transform an empty list; blocking must not
    lv, rv = fit_name_vectors(["a name", "another"], [], BlockingConfig())
    assert lv.shape[0] == 2 and rv.shape[0] == 0
    assert top_k_cosine(lv, rv, 5)[0].size == 0
    keys = sort_keys([])
    assert top_k_sorted_neighbourhood(lv, rv, sort_keys(["a name", "another"]), keys, 5, 2)[0].size == 0


def test_window_is_validated():
    with pytest.raises(ValueError, match="window"):
        BlockingConfig(window=0)
    assert replace(BlockingConfig(), window=3).window == 3


@pytest.mark.parametrize("keys", [(), (("song", "release_date"),)])
def test_a_type_ranked_in_threaded_shards_gives_the_candidates_of_one_call(music, monkeypatch, keys):
    """rank_type splits a sorted-neighbourhood type's left rows over threads: the same rows,
    columns and cosines as ranking them in one call, with and without a key. A key groups the
    rows by key value, so the order is compared per left row (what type_candidates sorts by)."""
    import core.blocking.name_blocking as name_blocking

    pair, _ = music
    dataset = pair.dataset
    config = BlockingConfig(top_k=5, exact_pairs_limit=0, window=4, n_threads=2, keys=keys)
    inputs = name_blocking.type_blocking_inputs(dataset, 0, config)
    assert inputs.sorted_neighbourhood and inputs.n_left > 20 and (inputs.left_keys is not None) == bool(keys)
    whole = name_blocking.rank_left_rows(inputs, config)
    monkeypatch.setattr(name_blocking, "SHARD_LEFT_ROWS", 7)  # several shards, the last one short
    calls = []
    original = name_blocking.rank_left_rows
    monkeypatch.setattr(name_blocking, "rank_left_rows",
                        lambda shard, cfg: calls.append(shard.n_left) or original(shard, cfg))
    sharded = name_blocking.rank_type(inputs, config)
    assert len(calls) == -(-inputs.n_left // 7) and max(calls) == 7

    def by_row(ranked):
        rows, cols, scores = ranked
        order = np.lexsort((cols, -scores, rows))
        return rows[order], cols[order], scores[order]

    assert len(whole[0]) > inputs.n_left
    for a, b in zip(by_row(whole), by_row(sharded)):
        np.testing.assert_array_equal(a, b)
    calls.clear()
    single = name_blocking.rank_type(inputs, replace(config, n_threads=1))  # one thread: one call
    assert calls == [inputs.n_left]
    for a, b in zip(whole, single):
        np.testing.assert_array_equal(a, b)


def test_the_packed_row_score_sort_is_the_three_key_lexsort():
    """Pairs in (row, column) order take one stable sort of packed keys; any other input the lexsort.
    Equal scores, zeros, -0.0, negative scores and the float64 fallback are all ordered alike."""
    from core.blocking.name_blocking import _row_score_order

    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 300 * 50, 4000))
    rows, cols = keys // 50, keys % 50
    scores = rng.choice(np.array([0.0, -0.0, 0.25, 0.5, 0.75, -0.5, 1.0, 1e-30], dtype=np.float32), len(keys))
    scores[::3] = rng.random(len(scores[::3])).astype(np.float32)
    reference = np.lexsort((cols, -scores, rows))
    np.testing.assert_array_equal(_row_score_order(rows, cols, scores), reference)
    shuffled = rng.permutation(len(rows))  # not in pair order: the lexsort itself
    np.testing.assert_array_equal(_row_score_order(rows[shuffled], cols[shuffled], scores[shuffled]),
                                  np.lexsort((cols[shuffled], -scores[shuffled], rows[shuffled])))
    wide = scores.astype(np.float64) + 1e-12  # float64 scores would lose digits packed: the lexsort
    np.testing.assert_array_equal(_row_score_order(rows, cols, wide), np.lexsort((cols, -wide, rows)))
    kept_rows, kept_cols, kept_scores = top_k_per_row(rows, cols, scores, 3)
    assert (kept_scores > 0).all() and (np.bincount(kept_rows) <= 3).all()


def test_name_vectors_from_one_fit_transform_equal_fit_then_transform_each_side():
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(0)
    words = ["raj", "kapoor", "aditya", "amélie", "poulain", "zoë", "the", "data", "base", "query", "x"]
    left = ["Aditya Raj", "Amélie Poulain", "the the", "", "Ōe Kenzaburō", "x"] + [
        " ".join(rng.choice(words, rng.integers(1, 6))) for _ in range(300)]
    right = ["Aditya Raj Kapoor", "amelie poulain", "Zoë", "a b c d", "  spaced   out  "] + [
        " ".join(rng.choice(words, rng.integers(1, 6))) for _ in range(300)]
    config = BlockingConfig()
    got_left, got_right = fit_name_vectors(left, right, config)
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=config.ngram_range, strip_accents="unicode",
                                lowercase=True, sublinear_tf=True, dtype=np.float32).fit(left + right)
    for got, names in ((got_left, left), (got_right, right)):
        expected = reference.transform(names).tocsr()
        assert got.dtype == np.float32 and got.shape == expected.shape and got.has_sorted_indices
        for part in ("indptr", "indices", "data"):  # the same storage, not only the same values
            np.testing.assert_array_equal(getattr(got, part), getattr(expected, part))


def test_the_packed_two_key_order_is_the_lexsort_in_any_input_order():
    """row_score_order: by row, then decreasing score, equal scores in input order (lexsort's)."""
    from core.blocking.name_blocking import row_score_order

    rng = np.random.default_rng(1)
    rows = rng.integers(0, 200, 5000)
    scores = rng.choice(np.array([0.0, -0.0, 0.25, 0.5, -0.5, 1.0, 1e-30, 3e38], dtype=np.float32), len(rows))
    scores[::4] = rng.random(len(scores[::4])).astype(np.float32)
    np.testing.assert_array_equal(row_score_order(rows, scores), np.lexsort((-scores, rows)))
    wide = scores.astype(np.float64)
    np.testing.assert_array_equal(row_score_order(rows, wide), np.lexsort((-wide, rows)))  # not packed
    bad = scores.copy()
    bad[3] = np.nan
    np.testing.assert_array_equal(row_score_order(rows, bad), np.lexsort((-bad, rows)))
    assert row_score_order(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)).tolist() == []
