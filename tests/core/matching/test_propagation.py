"""Anchor propagation, neighbour-name overlap and structural candidates on a 6-node pair, by hand.

Left graph (films 0, 1; people 2-5)          Right graph (same world, other ids)
    0 filmA  acted_by 2 X, 3 Y; directed_by 4 Z      1 filmA' actor 2 X', 0 Y'; director 5 Z'
    1 filmB  acted_by 3 Y, 5 W                       3 filmB' actor 0 Y', 4 W'

Anchors (known links), column order k = 0, 1, 2:  X = (2, 2), Y = (3, 0), Z = (4, 5).

One walk step, uniformly to a neighbour along either relation and direction:
    filmA -> {X, Y, Z} each 1/3;  filmB -> {Y, W} each 1/2;  people -> their films.
Hop-1 profiles (share of neighbours that are anchor k):
    filmA = filmA' = (1/3, 1/3, 1/3);  filmB = filmB' = (0, 1/2, 0);  people: (0, 0, 0).
Hop-2 profiles (a person's films' hop-1 profiles, averaged):
    W = W' = (0, 1/2, 0);  X = X' = (1/3, 1/3, 1/3).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from core.matching.propagation import (
    anchor_profile_features,
    anchor_profiles,
    combined_profile,
    hub_columns,
    neighbour_name_features,
    neighbour_name_jaccard,
    profile_cosine,
    structural_candidates,
    walk_matrix,
)


def adjacency(edges, n=6):
    heads, tails = zip(*edges) if edges else ((), ())
    return sp.csr_matrix((np.ones(len(heads)), (heads, tails)), shape=(n, n))


LEFT = {"acted_by": adjacency([(0, 2), (0, 3), (1, 3), (1, 5)]), "directed_by": adjacency([(0, 4)])}
RIGHT = {"acted_by": adjacency([(1, 2), (1, 0), (3, 0), (3, 4)]), "directed_by": adjacency([(1, 5)])}
ANCHOR_LEFT, ANCHOR_RIGHT = np.array([2, 3, 4]), np.array([2, 0, 5])
LEFT_NAMES = np.array(["The Matrix", "Speed", "Keanu Reeves", "Carrie-Anne Moss", "Lana W", "Sandra"], dtype=object)
RIGHT_NAMES = np.array(["carrie anne moss", "Matrix", "Keanu Reeves", "Speed", "Sandra B", "Lana W"], dtype=object)


@pytest.fixture(scope="module")
def profiles():
    left = anchor_profiles(list(LEFT.values()), ANCHOR_LEFT, n_entities=6)
    right = anchor_profiles(list(RIGHT.values()), ANCHOR_RIGHT, n_entities=6)
    return left, right


def test_walk_rows_sum_to_one_and_repeated_triples_count_once():
    walk = walk_matrix([adjacency([(0, 1), (0, 1), (0, 2)], n=3)], 3)
    assert walk.toarray().tolist() == [[0, 0.5, 0.5], [1, 0, 0], [1, 0, 0]]


def test_hop_profiles_match_the_hand_computation(profiles):
    left, right = profiles
    third = [1 / 3] * 3
    assert left.by_hop[0].toarray()[[2, 3, 4]].tolist() == np.eye(3).tolist()
    assert left.by_hop[1].toarray()[[0, 1]] == pytest.approx(np.array([third, [0, 0.5, 0]]))
    assert right.by_hop[1].toarray()[[1, 3]] == pytest.approx(np.array([third, [0, 0.5, 0]]))
    assert left.by_hop[2].toarray()[[5, 2]] == pytest.approx(np.array([[0, 0.5, 0], third]))
    assert right.by_hop[2].toarray()[[4, 2]] == pytest.approx(np.array([[0, 0.5, 0], third]))


def test_hop1_cosine_of_films(profiles):
    left, right = profiles
    # filmA-filmA' 1; filmA-filmB': (1/6) / (sqrt(1/3) * 1/2) = 1/sqrt(3); filmB-filmB' 1.
    cosine = profile_cosine(left, right, np.array([0, 0, 1]), np.array([1, 3, 3]), hop=1)
    assert cosine == pytest.approx([1.0, 1 / math.sqrt(3), 1.0])


def test_no_reachable_anchor_is_nan_not_zero(profiles):
    left, right = profiles
    # People's neighbours are films, never anchors: hop-1 profiles are empty.
    assert np.isnan(profile_cosine(left, right, np.array([5]), np.array([4]), hop=1)).all()


def test_own_anchors_are_excluded_from_the_pair_they_label(profiles):
    left, right = profiles
    # W vs X': X' is anchor 0, so column 0 is dropped: (0, 1/2, 0) . (0, 1/3, 1/3)
    # = 1/6 over (1/2 * sqrt(2)/3) -> 1/sqrt(2). Kept, it would be 1/sqrt(3).
    pairs = np.array([5]), np.array([2])
    assert profile_cosine(left, right, *pairs, hop=2) == pytest.approx([1 / math.sqrt(2)])
    assert profile_cosine(left, right, *pairs, hop=2, exclude_own_anchors=False) == pytest.approx([1 / math.sqrt(3)])
    # An anchor pair's own link never shows: hop 0 becomes empty instead of a perfect 1.
    assert np.isnan(profile_cosine(left, right, np.array([2]), np.array([2]), hop=0)).all()
    assert profile_cosine(left, right, np.array([2]), np.array([2]), hop=0, exclude_own_anchors=False) == [1.0]


def test_profile_features_block(profiles):
    left, right = profiles
    block = anchor_profile_features(left, right, np.array([0, 5]), np.array([1, 4]))
    assert block.names == ("structure.anchor_hop1_cosine", "structure.anchor_hop2_cosine")
    assert block.groups == ("structure", "structure")
    assert block.values[0, 0] == pytest.approx(1.0) and np.isnan(block.values[0, 1])
    assert np.isnan(block.values[1, 0]) and block.values[1, 1] == pytest.approx(1.0)


def test_neighbour_name_overlap_per_relation():
    pairs = np.array([0, 1, 2]), np.array([1, 3, 2])
    # filmA: {keanu reeves, carrie anne moss} on both sides -> 1.
    # filmB: {carrie anne moss, sandra} vs {carrie anne moss, sandra b} -> 1/3.
    # X: {the matrix} vs {matrix} -> 0 (names compare exactly after normalisation).
    acted = neighbour_name_jaccard(LEFT["acted_by"], RIGHT["acted_by"], LEFT_NAMES, RIGHT_NAMES, *pairs)
    assert acted == pytest.approx([1.0, 1 / 3, 0.0])
    block = neighbour_name_features(LEFT, RIGHT, LEFT_NAMES, RIGHT_NAMES, *pairs)
    assert block.names == ("structure.acted_by.neighbour_name_jaccard",
                           "structure.directed_by.neighbour_name_jaccard")
    directed = block.values[:, 1]
    assert directed[0] == 1.0 and np.isnan(directed[1])  # filmB has no director on either side


def test_relations_must_be_aligned_on_both_sides():
    with pytest.raises(ValueError, match="aligned relations differ"):
        neighbour_name_features({"a": LEFT["acted_by"]}, {"b": RIGHT["acted_by"]}, LEFT_NAMES,
                                RIGHT_NAMES, np.array([0]), np.array([0]))


def test_structural_candidates_find_the_counterparts_without_names(profiles):
    left, right = profiles
    left_vectors, right_vectors = combined_profile(left), combined_profile(right)
    films = structural_candidates(left_vectors, right_vectors, 1, left_rows=np.array([0, 1]),
                                  right_rows=np.array([1, 3]))
    assert list(zip(films.left, films.right)) == [(0, 1), (1, 3)]
    # Mean over hops 0, 1, 2 of the per-hop cosines: films agree at hop 1 only.
    assert films.similarity == pytest.approx([1 / 3, 1 / 3])
    people = structural_candidates(left_vectors, right_vectors, 2, left_rows=np.array([2]),
                                   right_rows=np.array([0, 2, 4, 5]))
    assert people.right[0] == 2 and people.similarity[0] == pytest.approx(2 / 3)  # hops 0 and 2


def test_relabelling_entities_permutes_the_cosines(profiles):
    left, right = profiles
    order = np.array([3, 5, 0, 4, 1, 2])  # new index of each old right entity
    permute = sp.csr_matrix((np.ones(6), (np.arange(6), order)), shape=(6, 6))
    relabelled = [permute.T @ a @ permute for a in RIGHT.values()]
    moved = anchor_profiles(relabelled, order[ANCHOR_RIGHT], n_entities=6)
    lefts, rights = np.array([0, 0, 1, 5]), np.array([1, 3, 3, 2])
    for hop in (1, 2):
        np.testing.assert_allclose(profile_cosine(left, moved, lefts, order[rights], hop=hop),
                                   profile_cosine(left, right, lefts, rights, hop=hop))


def test_a_bounded_walk_keeps_each_rows_largest_entries_and_is_exact_below_the_bound():
    """Hubs make two-hop profiles of a large graph dense; the walk keeps each row's largest entries only."""
    import scipy.sparse as sp

    from core.matching.propagation import anchor_indicator, anchor_profiles, walk_matrix, walk_step

    rng = np.random.default_rng(0)
    n = 300
    heads = np.r_[rng.integers(0, n, 600), np.zeros(150, dtype=np.int64)]  # entity 0: a hub
    tails = np.r_[rng.integers(0, n, 600), rng.integers(1, n, 150)]
    adjacency = sp.csr_matrix((np.ones(len(heads)), (heads, tails)), shape=(n, n))
    anchors = rng.choice(n, 120, replace=False)
    walk = walk_matrix([adjacency], n)
    hop1 = walk @ anchor_indicator(n, anchors)
    exact = sp.csr_matrix(walk @ hop1)
    assert np.diff(exact.indptr).max() > 20  # the hub's neighbours reach many anchors in two steps
    assert (walk_step(walk, sp.csr_matrix(hop1), 10_000, chunk=7) != exact).nnz == 0  # chunked, unbounded: exact
    bounded = walk_step(walk, sp.csr_matrix(hop1), 20, chunk=7)
    assert np.diff(bounded.indptr).max() <= 20
    for row in range(n):
        kept = bounded[row].toarray().ravel()
        full = exact[row].toarray().ravel()
        assert np.all((kept == 0) | (kept == full))  # kept entries are the exact ones
        if np.count_nonzero(full) > 20:
            assert np.count_nonzero(kept) == 20 and kept[kept > 0].min() >= np.sort(full)[-20]
        else:
            assert np.array_equal(kept, full)
    unbounded = anchor_profiles([adjacency], anchors, n_entities=n)
    capped = anchor_profiles([adjacency], anchors, n_entities=n, max_nonzeros=20 * n)
    for hop in (1, 2):  # a limit of 20 a row is raised to MIN_PROFILE_ENTRIES (32)
        small = np.diff(unbounded.by_hop[hop].indptr) <= 32
        assert (unbounded.by_hop[hop][small] != capped.by_hop[hop][small]).nnz == 0
        assert np.diff(capped.by_hop[hop].indptr).max() <= 32 < np.diff(unbounded.by_hop[hop].indptr).max()


def test_a_hub_anchor_is_dropped_before_the_product_and_the_telling_anchor_still_ranks():
    """Column 0 is an anchor every entity reaches (a genre); column k + 1 is entity k's own anchor.
    With the hub the similarities all share its term; without it each entity finds its counterpart
    by its own anchor alone, and the hub's left x right products are never computed."""
    n = 6
    hub = np.ones((n, 1))
    own = np.eye(n)
    left = sp.csr_matrix(np.hstack([hub, own]))
    right = sp.csr_matrix(np.hstack([hub, own[::-1]]))  # right entity n - 1 - k holds anchor k
    assert hub_columns(left, right, share=0.5, minimum=1).tolist() == [True] + [False] * n
    assert not hub_columns(left, right, share=0.5, minimum=n).any()  # at most `minimum` rows: never a hub
    every = structural_candidates(left, right, 3)
    assert len(every.left) == 3 * n  # the hub joins every pair
    assert len(structural_candidates(left, right, 3, hub_share=0.5).left) == 3 * n  # 6 rows: under the minimum
    pruned = structural_candidates(left, right, 3, hub_share=0.5, hub_minimum=1)
    assert list(zip(pruned.left, pruned.right)) == [(k, n - 1 - k) for k in range(n)]  # own anchors only
    assert np.allclose(pruned.similarity, 1.0)


def test_keeping_each_rows_largest_entries_breaks_ties_by_the_lower_column_in_any_storage_order():
    from core.matching.propagation import keep_largest_per_row

    rng = np.random.default_rng(0)
    for trial in range(20):
        dense = rng.choice([0.0, 0.0, 0.25, 0.5, 1.0], size=(int(rng.integers(1, 12)), int(rng.integers(1, 15))))
        k = int(rng.integers(1, 5))
        expected = np.zeros_like(dense)
        for r, row in enumerate(dense):
            nonzero = np.flatnonzero(row)
            best = nonzero[np.lexsort((nonzero, -row[nonzero]))][:k]  # largest first, lower column on ties
            expected[r, best] = row[best]
        matrix = sp.csr_matrix(dense)
        if trial % 2:  # the same matrix with each row's entries stored in reverse column order
            coo = matrix.tocoo()
            order = np.lexsort((-coo.col, coo.row))
            matrix = sp.csr_matrix((coo.data[order], coo.col[order], matrix.indptr), shape=matrix.shape)
            matrix.has_sorted_indices = False
        kept = keep_largest_per_row(matrix, k)
        np.testing.assert_array_equal(kept.toarray(), expected)
