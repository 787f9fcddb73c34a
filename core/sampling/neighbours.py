"""Capped, relation-aware neighbour sampling (CG-MuAlign, Section 3.4), vectorised over CSR arrays.

A node of type t keeps at most ``cap`` neighbours. A neighbour reached through relation r is drawn
with weight

    w(t, r) = (sum over r' of avg_{r'}^t) / avg_r^t

where avg_r^t is the average number of r-neighbours of the type-t nodes that have any. Relations
that come in crowds (forty actors) get a small weight per neighbour and relations that come alone
(one director) a large one, so one director beats any one of forty actors, and the cost per pair
stays O(cap^layers) whatever the graph size.

Drawing without replacement uses the Efraimidis-Spirakis keys ``u ** (1 / w)``: the ``cap`` largest
keys of a node's neighbours are a weighted sample without replacement. Keys for the neighbours of
all seeds over the cap are drawn at once and the per-node top-``cap`` is taken with one float
sort; seeds under the cap keep every neighbour without drawing. There is no Python loop over
nodes or edges (the reference code mutated a graph once per sampled edge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.kg import Adjacency, KnowledgeGraph


def relation_weight_table(kg: KnowledgeGraph) -> np.ndarray:
    """(n_types, 2 * n_relations) sampling weights w(t, r); 0 where type t never has relation r.

    Both directions count: relation ids >= n_relations are inverses, as in :class:`Adjacency`.
    """
    adj = kg.adjacency
    n_types, n_rel = len(kg.type_names), 2 * adj.n_relations
    source = np.repeat(np.arange(kg.n_entities), adj.degree())
    source_type = kg.entity_types[source]
    # edges per (node, relation) -> how many nodes of each type have the relation, and how many edges
    edge_count = np.zeros((n_types, n_rel), dtype=np.float64)
    np.add.at(edge_count, (source_type, adj.relations), 1.0)
    node_count = _nodes_with_relation(kg.entity_types, source, adj.relations, n_types, n_rel)
    with np.errstate(divide="ignore", invalid="ignore"):
        average = np.where(node_count > 0, edge_count / node_count, 0.0)
        weight = np.where(average > 0, average.sum(axis=1, keepdims=True) / average, 0.0)
    return weight


#: Largest node x relation mark table (bytes) :func:`_nodes_with_relation` builds.
MARK_TABLE_LIMIT = 400_000_000


def _nodes_with_relation(entity_types: np.ndarray, source: np.ndarray, relations: np.ndarray, n_types: int,
                         n_rel: int) -> np.ndarray:
    """(n_types, n_rel): how many nodes of each type have at least one edge of each relation.

    A node x relation mark table and one bincount per relation: linear time, where ``np.unique``
    over the 12M (node, relation) keys of a 2.7M-node pair took 2.6 s a side.
    """
    n = len(entity_types)
    out = np.zeros((n_types, n_rel), dtype=np.float64)
    if n * n_rel > MARK_TABLE_LIMIT:  # the mark table would not fit comfortably: count distinct keys instead
        node_rel = np.unique(source.astype(np.int64) * n_rel + relations)
        np.add.at(out, (entity_types[node_rel // n_rel], node_rel % n_rel), 1.0)
        return out
    seen = np.zeros((n_rel, n), dtype=bool)
    seen[relations, source] = True
    for r in range(n_rel):
        out[:, r] = np.bincount(entity_types[seen[r]], minlength=n_types)
    return out


def edge_weights(kg: KnowledgeGraph, table: np.ndarray | None = None) -> np.ndarray:
    """Sampling weight of every CSR edge of ``kg.adjacency`` (aligned with ``adjacency.neighbours``)."""
    table = relation_weight_table(kg) if table is None else table
    adj = kg.adjacency
    source = np.repeat(np.arange(kg.n_entities), adj.degree())
    return table[kg.entity_types[source], adj.relations]


def edge_uniforms(edge: np.ndarray, seed: int) -> np.ndarray:
    """A uniform in (0, 1) per edge id that depends only on (``seed``, edge): splitmix64 hashing.

    Scoring samples with these instead of a generator, so an entity's sampled neighbourhood does
    not depend on which other pairs share its batch: a pair scored alone, in the score table or
    for the explanation drawing gets the same sample, hence the same score and attention.
    """
    with np.errstate(over="ignore"):
        z = edge.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53


def sample_neighbours(adjacency: Adjacency, weights: np.ndarray, seeds: np.ndarray, cap: int,
                      rng: np.random.Generator | int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One hop: at most ``cap`` neighbours per seed, weighted, without replacement.

    ``rng``: a generator (training: a fresh draw every call) or an int seed (scoring: the draw of
    each node is fixed by the seed alone, see :func:`edge_uniforms`).

    Returns
    -------
    seed_position : (e,) int64 — index into ``seeds`` of each sampled edge's destination
    neighbour : (e,) int64 — the sampled neighbour (entity index)
    relation : (e,) int32 — the relation it was reached through (inverse ids >= n_relations)

    Examples
    --------
    A node with one "director" edge (weight 40) and forty "actor" edges (weight 1), cap 1: the
    director is drawn half the time, each actor 1/80 of the time.
    """
    if cap < 1:
        raise ValueError(f"cap must be >= 1, got {cap}")
    seeds = np.asarray(seeds, dtype=np.int64)
    starts, stops = adjacency.indptr[seeds], adjacency.indptr[seeds + 1]
    degree = stops - starts
    total = int(degree.sum())
    if total == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z.astype(np.int32)
    seed_position = np.repeat(np.arange(len(seeds), dtype=np.int64), degree)
    # edge ids: for each seed, starts..stops-1, built without a loop
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(degree) - degree, degree)
    edge = np.repeat(starts, degree) + offsets
    keep = weights[edge] > 0
    crowded = np.repeat(degree > cap, degree)  # only the edges of seeds over the cap compete
    if crowded.any():
        c_edge, c_position = edge[crowded], seed_position[crowded]
        c_weight = weights[c_edge]
        uniforms = (edge_uniforms(c_edge, int(rng)) if isinstance(rng, (int, np.integer))
                    else rng.random(len(c_edge)))
        # Efraimidis-Spirakis key u^(1/w) in [0, 1], larger wins; zero-weight edges sort last.
        # One float sort on "seed position + 0.5 * (1 - key)" orders by seed, then by key, descending.
        with np.errstate(divide="ignore"):
            key = np.where(c_weight > 0, np.exp(np.log(uniforms) / np.where(c_weight > 0, c_weight, 1.0)), -0.5)
        # a stable sort, so exact ties break the same way as in the torch sampler (core.sampling.on_device)
        order = np.argsort(c_position + 0.5 * (1.0 - key), kind="stable")
        # seeds keep their segments after the sort, so a sorted element's rank within its seed is
        # its offset from the segment start, exactly ``offsets``
        rank = np.empty(len(c_edge), dtype=np.int64)
        rank[order] = offsets[crowded]
        keep[crowded] &= rank < cap
    return seed_position[keep], adjacency.neighbours[edge[keep]], adjacency.relations[edge[keep]]


@dataclass(frozen=True, eq=False)
class SampledBlock:
    """One layer's message-passing graph, DGL-block style.

    ``dst_nodes`` are the entities this layer computes; ``src_nodes`` the entities it reads, with
    ``src_nodes[:len(dst_nodes)] == dst_nodes`` so every destination also reads its own previous
    representation (the self term). Edge ``e`` carries a message from ``src_nodes[edge_src[e]]`` to
    ``dst_nodes[edge_dst[e]]`` through ``edge_relation[e]``.
    """

    dst_nodes: np.ndarray
    src_nodes: np.ndarray
    edge_dst: np.ndarray
    edge_src: np.ndarray
    edge_relation: np.ndarray


def sample_blocks(adjacency: Adjacency, weights: np.ndarray, seeds: np.ndarray, *, cap: int, n_layers: int,
                  rng: np.random.Generator | int) -> list[SampledBlock]:
    """Blocks for an ``n_layers`` encoder, bottom layer first; the last block's dst are the seeds.

    ``seeds`` must be unique (use ``np.unique`` and map pairs back with ``searchsorted``).

    Each layer's destinations are the previous (upper) layer's sources, so every node the top
    layer reads (the seeds and their sampled neighbours) gets its own lower-layer representation,
    self term included (trap 1 of the reference code).
    """
    blocks = []
    dst = np.asarray(seeds, dtype=np.int64)
    if len(np.unique(dst)) != len(dst):
        raise ValueError("seeds must be unique")
    for _ in range(n_layers):
        position, neighbour, relation = sample_neighbours(adjacency, weights, dst, cap, rng)
        reached, inverse = np.unique(neighbour, return_inverse=True)
        # a reached node that is already a destination reads its own row; the others are appended
        order = np.argsort(dst, kind="stable")
        at = np.minimum(np.searchsorted(dst[order], reached), len(dst) - 1)
        known = dst[order][at] == reached
        extra = reached[~known]
        index = np.where(known, order[at], len(dst) + np.cumsum(~known) - 1)
        src = np.concatenate([dst, extra])
        blocks.append(SampledBlock(dst, src, position, index[inverse.reshape(-1)], relation))
        dst = src
    return blocks[::-1]
