"""Capped relation-aware sampling: the draw frequencies follow the paper's weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.kg import KnowledgeGraph
from core.sampling.neighbours import edge_uniforms, edge_weights, relation_weight_table, sample_blocks, sample_neighbours


def film_graph(n_actors: int = 40) -> KnowledgeGraph:
    """Film 0 with one director (entity 1) and ``n_actors`` actors (2..); relations 0=directed_by, 1=acted_by."""
    n = 2 + n_actors
    heads = np.zeros(1 + n_actors, dtype=np.int64)
    tails = np.arange(1, n, dtype=np.int64)
    relations = np.array([0] + [1] * n_actors, dtype=np.int32)
    return KnowledgeGraph(
        entity_ids=np.array([f"e{i}" for i in range(n)], dtype=object),
        entity_types=np.array([0] + [1] * (n - 1), dtype=np.int32), type_names=("film", "person"),
        names=np.array([f"n{i}" for i in range(n)], dtype=object), attributes=pd.DataFrame(index=range(n)),
        heads=heads, relations=relations, tails=tails, relation_names=("directed_by", "acted_by"))


def test_weights_follow_the_inverse_average_count():
    kg = film_graph(40)
    table = relation_weight_table(kg)
    # films: avg 1 director and 40 actors -> weights 41/1 and 41/40
    assert table[0, 0] == pytest.approx(41.0) and table[0, 1] == pytest.approx(41 / 40)
    # people reach the film through the inverse relations (ids 2 and 3), one each
    assert table[1, 2] == pytest.approx(2.0) and table[1, 3] == pytest.approx(2.0)
    assert table[0, 2] == 0.0  # films never have an inverse edge


def test_one_director_beats_any_one_of_forty_actors():
    kg = film_graph(40)
    w = edge_weights(kg)
    n = 40_000
    _, neighbour, _ = sample_neighbours(kg.adjacency, w, np.zeros(n, dtype=np.int64), 1, np.random.default_rng(0))
    assert len(neighbour) == n
    freq = np.bincount(neighbour, minlength=kg.n_entities) / n
    assert freq[1] == pytest.approx(0.5, abs=0.015)  # 41 / (41 + 40 * 41/40)
    assert np.abs(freq[2:] - 1 / 80).max() < 0.004


def test_without_replacement_matches_sequential_weighted_draws():
    kg = film_graph(12)
    w = edge_weights(kg)
    cap, n = 4, 20_000
    seed_pos, neighbour, _ = sample_neighbours(kg.adjacency, w, np.zeros(n, dtype=np.int64), cap,
                                               np.random.default_rng(1))
    assert np.bincount(seed_pos).max() == cap  # capped, and no neighbour twice for one seed
    assert all(len(set(neighbour[seed_pos == i])) == cap for i in range(50))
    ours = np.bincount(neighbour, minlength=kg.n_entities) / n
    film_neighbours, _ = kg.adjacency.neighbours_of(0)
    film_weights = w[kg.adjacency.indptr[0]:kg.adjacency.indptr[1]]
    rng = np.random.default_rng(2)
    reference = np.zeros(kg.n_entities)
    for _ in range(n):
        reference[film_neighbours[rng.choice(len(film_weights), size=cap, replace=False,
                                             p=film_weights / film_weights.sum())]] += 1
    assert ours[1] > 0.7  # the director is in nearly every sample of four
    assert np.abs(ours - reference / n).max() < 0.02


def test_small_neighbourhoods_are_taken_whole_and_isolated_nodes_give_nothing():
    kg = film_graph(3)
    w = edge_weights(kg)
    pos, neighbour, relation = sample_neighbours(kg.adjacency, w, np.array([0, 1]), 10, np.random.default_rng(0))
    assert sorted(neighbour[pos == 0]) == [1, 2, 3, 4]
    assert neighbour[pos == 1].tolist() == [0] and relation[pos == 1].tolist() == [2]


def test_blocks_give_every_node_the_top_layer_reads_its_own_lower_representation():
    kg = film_graph(40)
    blocks = sample_blocks(kg.adjacency, edge_weights(kg), np.array([0]), cap=10, n_layers=2,
                           rng=np.random.default_rng(0))
    lower, top = blocks
    assert top.dst_nodes.tolist() == [0]
    assert np.array_equal(top.src_nodes[:1], top.dst_nodes)
    assert np.array_equal(lower.dst_nodes, top.src_nodes)  # seed and hop-1 nodes are all computed below
    assert len(top.edge_src) == 10
    assert np.array_equal(lower.src_nodes[:len(lower.dst_nodes)], lower.dst_nodes)


def test_sampling_is_reproducible_under_a_seed():
    kg = film_graph(40)
    w = edge_weights(kg)
    a = sample_neighbours(kg.adjacency, w, np.zeros(100, dtype=np.int64), 5, np.random.default_rng(7))
    b = sample_neighbours(kg.adjacency, w, np.zeros(100, dtype=np.int64), 5, np.random.default_rng(7))
    c = sample_neighbours(kg.adjacency, w, np.zeros(100, dtype=np.int64), 5, np.random.default_rng(8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_edge_uniforms_are_uniform_and_fixed_by_the_seed():
    edges = np.arange(200_000)
    u = edge_uniforms(edges, 7)
    assert ((u > 0) & (u < 1)).all()
    assert np.histogram(u, bins=10, range=(0, 1))[0] == pytest.approx(np.full(10, 20_000), rel=0.03)
    assert np.array_equal(u[[5, 99]], edge_uniforms(np.array([5, 99]), 7))  # independent of what else is asked
    assert not np.allclose(u[:100], edge_uniforms(edges[:100], 8))


def test_a_seeded_sample_does_not_depend_on_the_other_seeds_of_the_batch():
    rng = np.random.default_rng(0)
    n = 300
    heads, tails = rng.integers(0, n, 3000), rng.integers(0, n, 3000)
    kg = KnowledgeGraph(np.array([f"e{i}" for i in range(n)], dtype=object), np.zeros(n, dtype=np.int32), ("t",),
                        np.array([f"n{i}" for i in range(n)], dtype=object), pd.DataFrame(index=range(n)),
                        heads, np.zeros(3000, dtype=np.int32), tails, ("r",))
    weights = edge_weights(kg)

    def neighbours_of(node, batch):
        position, neighbour, _ = sample_neighbours(kg.adjacency, weights, batch, 5, 11)
        return sorted(neighbour[position == list(batch).index(node)])

    alone = neighbours_of(3, np.array([3]))
    assert len(alone) == 5
    assert neighbours_of(3, np.array([1, 3, 250])) == alone == neighbours_of(3, np.arange(100))


def test_nodes_per_relation_count_each_node_once_however_many_edges(monkeypatch):
    from core.sampling import neighbours

    rng = np.random.default_rng(0)
    types = rng.integers(0, 3, 500).astype(np.int32)
    source = np.sort(rng.integers(0, 500, 4000))
    relations = rng.integers(0, 6, 4000).astype(np.int32)
    keys = np.unique(source.astype(np.int64) * 6 + relations)
    expected = np.zeros((3, 6))
    np.add.at(expected, (types[keys // 6], keys % 6), 1.0)
    assert np.array_equal(neighbours._nodes_with_relation(types, source, relations, 3, 6), expected)
    monkeypatch.setattr(neighbours, "MARK_TABLE_LIMIT", 0)  # the path for graphs too big for a mark table
    assert np.array_equal(neighbours._nodes_with_relation(types, source, relations, 3, 6), expected)
