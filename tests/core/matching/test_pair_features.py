"""Pair features on a hand-made two-film, two-person pair, checked against values computed by hand.

Left                                         Right
  0 film "The Matrix" (1999)                   0 movie "Matrix" (1999)
  1 film "Speed" (1994)                        1 movie "Speed" (year missing)
  2 person "Keanu Reeves"                      2 person "keanu reeves"
  3 person "Carrie-Anne Moss"                  3 person "Carrie Anne Moss"
  acted_in: 2->0, 3->0, 2->1                   starring: 2->0, 3->0, 2->1

People have no year at all (a type with no attribute value); the only anchor is Keanu (2, 2).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph
from core.data.links import Links, Split
from core.data.schema import Correspondence, SchemaMapping
from core.matching.pair_features import (
    anchor_pair_features,
    build_pair_features,
    comparison_specs,
    static_pair_features,
    structure_context,
)


def graph(names, types, year, triples, relation):
    heads, tails = (np.array(x, dtype=np.int64) for x in zip(*triples)) if triples else (np.zeros(0, np.int64),) * 2
    return KnowledgeGraph(
        entity_ids=np.array([f"e{i}" for i in range(len(names))], dtype=object),
        entity_types=np.array(types, dtype=np.int32), type_names=("film", "person"),
        names=np.array(names, dtype=object), attributes=pd.DataFrame({"year": np.array(year, dtype=np.float64)}),
        heads=heads, relations=np.zeros(len(heads), dtype=np.int32), tails=tails, relation_names=(relation,))


def tiny_dataset(*, relations: bool = True) -> AlignmentDataset:
    triples = [(2, 0), (3, 0), (2, 1)] if relations else []
    left = graph(["The Matrix", "Speed", "Keanu Reeves", "Carrie-Anne Moss"], [0, 0, 1, 1],
                 [1999, 1994, np.nan, np.nan], triples, "acted_in")
    right = graph(["Matrix", "Speed", "keanu reeves", "Carrie Anne Moss"], [0, 0, 1, 1],
                  [1999, np.nan, np.nan, np.nan], triples, "starring")
    schema = SchemaMapping(types=(Correspondence("film", "film", "film"), Correspondence("person", "person", "person")),
                           relations=(Correspondence("acted_in", "acted_in", "starring"),) if relations else (),
                           attributes=(Correspondence("year", "year", "year"),))
    links = Links(np.array([2]), np.array([2]), np.array([1], np.int32), np.array([1], np.int8),
                  np.array([Split.TRAIN.code], np.int8))
    return AlignmentDataset(left, right, schema, links, "tiny")


LEFT = np.array([0, 1, 0, 2, 3, 2])
RIGHT = np.array([0, 1, 1, 2, 3, 3])
NAN = math.nan


def column(block, name):
    return block.values[:, block.names.index(name)]


def same(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9, equal_nan=True)


@pytest.fixture(scope="module")
def block():
    dataset = tiny_dataset()
    return static_pair_features(dataset, LEFT, RIGHT, specs=comparison_specs(dataset))


def test_groups_are_name_each_attribute_and_structure(block):
    assert block.group_names == ("name", "attr:year", "structure")


def test_name_comparisons_by_hand(block):
    same(column(block, "name.exact"), [0, 1, 0, 1, 1, 0])
    same(column(block, "name.length_ratio")[:2], [6 / 10, 1])  # "matrix" against "the matrix"


def test_year_with_missing_values_and_a_type_that_has_no_year(block):
    same(column(block, "attr:year.absolute_difference"), [0, NAN, NAN, NAN, NAN, NAN])
    same(column(block, "attr:year.relative_difference"), [0, NAN, NAN, NAN, NAN, NAN])
    same(column(block, "attr:year.missing_on_one"), [0, 1, 1, 0, 0, 0])
    same(column(block, "attr:year.missing_on_both"), [0, 0, 0, 1, 1, 1])


def test_neighbour_name_overlap_by_hand(block):
    # film 0: {keanu reeves, carrie anne moss} both sides; film pair (0, 1): {k, c} vs {k};
    # Keanu: {the matrix, speed} vs {matrix, speed} -> 1/3; Carrie: {the matrix} vs {matrix} -> 0
    same(column(block, "structure.acted_in.neighbour_name_jaccard"), [1, 1, 0.5, 1 / 3, 0, 0])
    # the two actors' names share no character 3-gram, so {k, c} against {k} is 1 / sqrt(2)
    same(column(block, "structure.acted_in.neighbour_text_cosine")[:3], [1, 1, 1 / math.sqrt(2)])


def test_anchor_profiles_by_hand_and_blind_to_own_anchor():
    dataset = tiny_dataset()
    anchors = anchor_pair_features(structure_context(dataset), LEFT, RIGHT, np.array([2]), np.array([2]))
    # hop 1: each film has Keanu among its actors on both sides -> cosine 1; people reach no
    # anchor in one step (Keanu's own anchor is excluded for pairs involving him)
    same(column(anchors, "structure.anchor_hop1_cosine"), [1, 1, 1, NAN, NAN, NAN])
    # hop 2: Carrie -> The Matrix -> Keanu on both sides; pairs with Keanu see no anchor
    same(column(anchors, "structure.anchor_hop2_cosine"), [NAN, NAN, NAN, NAN, 1, NAN])


def test_anchor_columns_exist_without_anchors():
    dataset = tiny_dataset()
    anchors = anchor_pair_features(structure_context(dataset), LEFT, RIGHT, np.zeros(0), np.zeros(0))
    assert anchors.names == ("structure.anchor_hop1_cosine", "structure.anchor_hop2_cosine")
    assert np.isnan(anchors.values).all()


def test_dataset_without_relations_has_no_structure():
    dataset = tiny_dataset(relations=False)
    assert structure_context(dataset) is None
    block = build_pair_features(dataset, LEFT, RIGHT, anchors=(np.array([2]), np.array([2])))
    assert "structure" not in block.group_names


def test_gnn_distance_column_and_checks():
    dataset = tiny_dataset()
    block = build_pair_features(dataset, LEFT, RIGHT, gnn=lambda l, r: np.abs(l - r).astype(float))
    same(column(block, "gnn.distance"), np.abs(LEFT - RIGHT))
    with pytest.raises(ValueError, match="NaN or infinite"):
        build_pair_features(dataset, LEFT, RIGHT, gnn=lambda l, r: np.full(len(l), np.nan))


def test_overrides_switch_comparisons_off_by_aligned_name():
    dataset = tiny_dataset()
    specs = comparison_specs(dataset, {"year": {"off": ["relative_difference"]}, "name": {"off": ["length_ratio"]}})
    names = [n for s in specs for n in s.column_names]
    assert "attr:year.relative_difference" not in names and "name.length_ratio" not in names
    assert "attr:year.absolute_difference" in names
    with pytest.raises(ValueError, match="no such attribute"):
        comparison_specs(dataset, {"runtime": {"off": ["exact"]}})


def test_text_paired_with_number_is_compared_as_text():
    dataset = tiny_dataset()
    text_years = dataset.right.attributes.assign(year=["1999", None, None, None])
    right = KnowledgeGraph(**{**{f: getattr(dataset.right, f) for f in dataset.right.__dataclass_fields__},
                              "attributes": text_years})
    mixed = AlignmentDataset(dataset.left, right, dataset.schema, dataset.links)
    specs = comparison_specs(mixed)
    assert specs[1].kind.value == "string"
    block = static_pair_features(mixed, LEFT[:1], RIGHT[:1], specs=specs)
    assert column(block, "attr:year.exact").tolist() == [1.0]


def test_fast_own_anchor_free_cosine_equals_the_masked_reference():
    """Random graphs and anchors: the corrected dot product gives profile_cosine's values."""
    import scipy.sparse as sp

    from core.matching.pair_features import own_anchor_free_cosine
    from core.matching.propagation import anchor_profiles, profile_cosine

    rng = np.random.default_rng(3)
    n = 60
    adjacency = [sp.random(n, n, density=0.05, random_state=s, format="csr") for s in (1, 2)]
    anchor_left, anchor_right = rng.choice(n, 20, replace=False), rng.choice(n, 20, replace=False)
    left_p = anchor_profiles([adjacency[0]], anchor_left, n_entities=n)
    right_p = anchor_profiles([adjacency[1]], anchor_right, n_entities=n)
    left = np.r_[anchor_left[:10], rng.integers(0, n, 300)]
    right = np.r_[anchor_right[:10], rng.integers(0, n, 300)]
    for hop in (1, 2):
        same(own_anchor_free_cosine(left_p, right_p, left, right, hop=hop),
             profile_cosine(left_p, right_p, left, right, hop=hop))


def test_the_profiles_cap_keeps_each_rows_heaviest_against_a_sort_per_row():
    import scipy.sparse as sp

    from core.matching.propagation import keep_largest_per_row  # what StructureContext caps profiles with

    matrix = sp.random(40, 30, density=0.4, random_state=5, format="csr")
    kept = keep_largest_per_row(matrix, 5).toarray()
    dense = matrix.toarray()
    for row, full in zip(kept, dense):
        expected = np.zeros_like(full)
        top = np.argsort(-full, kind="stable")[:5]
        expected[top] = full[top]
        expected[full == 0] = 0
        np.testing.assert_array_equal(row, expected)


def test_a_call_for_pairs_the_last_call_computed_reads_them_back(music, monkeypatch):
    """The kept block gives the fresh values of any subset, in the order asked; other specs or
    pairs outside it are computed anew; a set above STATIC_MEMO_PAIRS is not kept."""
    import core.matching.pair_features as pair_features

    dataset, candidates = music
    specs = comparison_specs(dataset)
    left, right = candidates.left.astype(np.int64), candidates.right.astype(np.int64)
    everything = static_pair_features(dataset, left, right, specs=specs)
    rows = np.random.default_rng(0).permutation(len(left))[:40]
    kept = static_pair_features(dataset, left[rows], right[rows], specs=specs)
    assert pair_features._LAST_STATIC.value is everything
    pair_features._LAST_STATIC.clear()
    fresh = static_pair_features(dataset, left[rows], right[rows], specs=specs)
    np.testing.assert_array_equal(kept.values, fresh.values)
    assert kept.names == fresh.names
    np.testing.assert_array_equal(kept.values, everything.values[rows])

    # a pair the kept block lacks (here: the 40 rows kept, all candidates asked): computed, and kept instead
    again = static_pair_features(dataset, left, right, specs=specs)
    np.testing.assert_array_equal(again.values, everything.values)
    assert pair_features._LAST_STATIC.value is again
    no_structure = static_pair_features(dataset, left[rows], right[rows], specs=specs, use_structure=False)
    assert len(no_structure.names) < len(kept.names)  # other settings: not read from the kept block

    monkeypatch.setattr(pair_features, "STATIC_MEMO_PAIRS", 10)
    static_pair_features(dataset, left, right, specs=specs)
    assert pair_features._LAST_STATIC.value is None


def test_an_anchor_sets_profiles_are_walked_once_and_equal_a_fresh_walk(monkeypatch):
    """The fit, the scoring pass and the labelled pairs outside the candidates start from the same
    anchors: the second ask is the kept profiles; other anchors, or profiles over the size limit, walk."""
    import core.matching.pair_features as pair_features

    dataset = tiny_dataset()
    context = structure_context(dataset)
    walks = []
    real_walk = pair_features.StructureContext._walk
    monkeypatch.setattr(pair_features.StructureContext, "_walk",
                        lambda self, *args: walks.append(1) or real_walk(self, *args))
    pair_features._PROFILES.clear()
    first = context.profiles(np.array([2]), np.array([2]))
    again = structure_context(dataset).profiles(np.array([2]), np.array([2]))  # a new context, same graphs
    assert again is first and walks == [1]
    fresh = real_walk(context, np.array([2]), np.array([2]), False)
    for kept, walked in zip(first, fresh):
        for a, b in zip(kept.by_hop, walked.by_hop):
            np.testing.assert_array_equal(a.toarray(), b.toarray())
    context.profiles(np.array([2, 3]), np.array([2, 3]))
    assert len(walks) == 2
    monkeypatch.setattr(pair_features, "PROFILE_MEMO_ENTRIES", 0)
    context.profiles(np.array([3]), np.array([3]))
    context.profiles(np.array([3]), np.array([3]))
    assert len(walks) == 4  # too large to keep: walked each time
