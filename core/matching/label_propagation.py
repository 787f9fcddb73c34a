"""Structural similarity by three-view label propagation (after LightEA, Mao et al. 2022).

Why: anchor profiles (:mod:`core.matching.propagation`) give each entity one sparse column per
anchor; two entities far from the few anchors share no column, and the profiles ignore what a
*relation* means. Here every anchor link k gets one random unit vector ``z_k`` of dimension ``d``
(near-orthogonal to the others when ``d`` is in the hundreds), put on *both* its entities; every
other entity starts at zero. Labels then spread ``hops`` times over three views of each graph:

    relation label   R_h = norm(mean of the labels of the entities it touches, hop h-1)
    entity label     X_h = norm(W X_{h-1} + mean of the labels of its relations, hop h-1)

(``W``: row-normalised adjacency over every triple, both directions; a relation and its inverse
are two relations). A relation's label says which anchors it touches, so "birthPlace" of one
graph and "lieuDeNaissance" of the other get the same label without any schema alignment, and
an entity then inherits its relations' labels. Each hop's rows are L2-normalised; an entity's
feature is its hops side by side, so the dot product of a left and a right feature is the mean
over hops of their cosines. Everything is sparse x dense products: (n x d) floats per hop.

Self-training, as LightEA does: the similarities of each aligned type's entities are sharpened
by a few Sinkhorn iterations over each entity's top-k (so that one right entity is not everyone's
best), and pairs that are each other's best with a Sinkhorn weight above ``min_confidence``
become extra anchors of the next round (each round restarts from the known anchors plus the
previous round's pairs, so a wrong pair of an early round is dropped when it stops being mutual).
No label is read beyond the anchors given: VALID and TEST links are never anchors.

For pair features the leakage guard of :func:`~core.matching.propagation.profile_cosine` is
kept: hop 0 (an anchor's own label) is left out, and per pair the labels of the anchors that
involve either entity are projected out of both features before the cosine, so a TRAIN pair is
not told its own label by walks that return home.

Scale: propagation is sparse (edges x d per hop), but ranking a type's counterparts is a dense
product, ``n_left x n_right x d`` per round. A type with more than ``DENSE_PAIRS_LIMIT`` entity
pairs (2e9: DBP15K's 20K x 20K is 4e8, a minute a round on 2 cores) is not ranked: it gets the
pair features (a dot product per candidate) but no candidates and no pseudo-anchors from here;
blocking then takes its structure candidates from the sparse anchor profiles
(:func:`core.blocking.structural.union_candidates`). The features themselves are dense too,
``n x (hops + 1) x dim`` float32 a side: a graph above ``FEATURE_FLOATS_LIMIT`` (3e8 floats, 1.2 GB;
about 390K entities at the defaults) is not propagated at all (:func:`propagation_fits`): no
label feature, profile candidates only, as before this module existed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from core.data.candidates import pair_keys
from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph
from core.data.sets import isin
from core.matching import ALIGNMENT_STORES
from core.matching.feature_block import FeatureBlock
from core.matching.memo import LastPairs
from core.matching.sparse_rows import row_normalise

#: entity pairs (n_left x n_right) above which a type is not ranked densely (see the module note)
DENSE_PAIRS_LIMIT = 2e9
#: floats of one side's features (n x (hops + 1) x dim) above which a graph is not propagated
FEATURE_FLOATS_LIMIT = 3e8
#: bytes of one block of :func:`_partition_rows`' temporary index array (below glibc's mmap threshold)
PARTITION_BLOCK_BYTES = 8 << 20

__all__ = ["DENSE_PAIRS_LIMIT", "FEATURE_FLOATS_LIMIT", "ranked_densely", "propagation_fits", "LabelPropagationConfig", "PropagationGraph", "propagation_graph", "graph_of", "random_labels",
           "propagate", "top_k_both_ways", "sinkhorn_pairs", "LabelRound", "LabelAlignment", "align_by_labels",
           "align_dataset", "cached_alignment", "label_cosine", "label_features", "LABEL_COLUMN"]

#: The pair feature's column (group ``structure``).
LABEL_COLUMN = "structure.label_cosine"


@dataclass(frozen=True)
class LabelPropagationConfig:
    """Settings of :func:`align_by_labels`; the defaults are general (not tuned to one benchmark).

    dim : width of the random anchor labels (noise between labels is about 1/sqrt(dim)).
    hops : propagation steps.
    relations : also propagate through relations (three views); False: entity -> entity only.
    rounds : self-training rounds after the first propagation (0: known anchors only).
    top_k : counterparts kept per entity for Sinkhorn and the mutual test.
    temperature, sinkhorn_iterations : Sinkhorn weights ``exp(temperature * (s - 1))``, iterations.
    min_confidence : a mutual pair becomes an anchor above this Sinkhorn weight (in [0, 1]).
    chunk : rows per dense block of the similarity product (memory ``chunk x n_right`` floats).
    seed : the random labels.
    """

    dim: int = 256
    hops: int = 2
    relations: bool = True
    rounds: int = 2
    top_k: int = 50
    temperature: float = 50.0
    sinkhorn_iterations: int = 10
    min_confidence: float = 0.5
    chunk: int = 2048
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dim", "hops", "top_k", "chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.rounds < 0:
            raise ValueError(f"rounds must be >= 0, got {self.rounds}")


@dataclass(frozen=True, eq=False)
class PropagationGraph:
    """One graph's three views, each row-normalised: entity -> entity, entity -> relation, relation -> entity."""

    entity: sp.csr_matrix
    entity_relation: sp.csr_matrix
    relation_entity: sp.csr_matrix

    @property
    def n_entities(self) -> int:
        return self.entity.shape[0]


def propagation_graph(heads: np.ndarray, relations: np.ndarray, tails: np.ndarray, *, n_entities: int,
                      n_relations: int) -> PropagationGraph:
    """The three views of a graph's triples; relation r's inverse is relation ``r + n_relations``.

    Repeated triples count once. An entity (relation) with no triple has a zero row.

    Examples
    --------
    >>> g = propagation_graph(np.array([0]), np.array([0]), np.array([1]), n_entities=3, n_relations=1)
    >>> g.entity.toarray().tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    >>> g.entity_relation.toarray().tolist(), g.relation_entity.toarray().tolist()
    ([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    """
    heads, tails = np.asarray(heads, dtype=np.int64), np.asarray(tails, dtype=np.int64)
    relations = np.asarray(relations, dtype=np.int64)
    ones = np.ones(len(heads))
    a = sp.csr_matrix((ones, (heads, tails)), shape=(n_entities, n_entities))
    a = sp.csr_matrix((a + a.T) != 0, dtype=np.float64)
    er = sp.csr_matrix((np.ones(2 * len(heads)), (np.r_[heads, tails], np.r_[relations, relations + n_relations])),
                       shape=(n_entities, 2 * n_relations))
    er = sp.csr_matrix(er != 0, dtype=np.float64)
    return PropagationGraph(row_normalise(a), row_normalise(er), row_normalise(sp.csr_matrix(er.T)))


def graph_of(kg: KnowledgeGraph) -> PropagationGraph:
    """:func:`propagation_graph` of every triple of a knowledge graph."""
    return propagation_graph(kg.heads, kg.relations, kg.tails, n_entities=kg.n_entities,
                             n_relations=len(kg.relation_names))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def random_labels(n: int, dim: int, seed: int) -> np.ndarray:
    """(n, dim) float32 random unit rows (Gaussian directions): one label per anchor link."""
    return _unit_rows(np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32))


def propagate(graph: PropagationGraph, anchors: np.ndarray, labels: np.ndarray, *, hops: int,
              relations: bool = True) -> np.ndarray:
    """(n_entities, hops + 1, dim) float32: each hop's entity labels, unit rows (zero where nothing arrived).

    Hop 0 is the anchors' own labels; see the module docstring for the update.

    Examples
    --------
    A path 0 - 1 - 2, entity 0 the anchor with label e1: entity 1 gets e1 at hop 1, entities 0 and
    2 at hop 2 (entity-to-entity view only).

    >>> g = propagation_graph(np.array([0, 1]), np.array([0, 0]), np.array([1, 2]), n_entities=3, n_relations=1)
    >>> x = propagate(g, np.array([0]), np.array([[1.0, 0.0]]), hops=2, relations=False)
    >>> x[:, :, 0].tolist()
    [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    anchors = np.asarray(anchors, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.float32)
    x = np.zeros((graph.n_entities, labels.shape[1]), dtype=np.float32)
    np.add.at(x, anchors, labels)
    x = _unit_rows(x)
    rel = np.zeros((graph.relation_entity.shape[0], labels.shape[1]), dtype=np.float32)
    out = [x]
    entity = graph.entity.astype(np.float32)
    entity_relation, relation_entity = graph.entity_relation.astype(np.float32), graph.relation_entity.astype(np.float32)
    for _ in range(hops):
        new_x = entity @ x
        if relations:
            new_x = new_x + entity_relation @ rel
            rel = _unit_rows(np.asarray(relation_entity @ x))
        x = _unit_rows(np.asarray(new_x))
        out.append(x)
    return np.stack(out, axis=1)


def _flat(features: np.ndarray, hops: Sequence[int]) -> np.ndarray:
    """The chosen hops side by side, scaled so that a dot product is the mean of per-hop cosines."""
    return np.ascontiguousarray(features[:, list(hops), :].reshape(len(features), -1) / np.sqrt(len(hops)))


def _partition_rows(matrix: np.ndarray, k: int) -> np.ndarray:
    """``np.argpartition(matrix, k - 1, axis=1)[:, :k]``, a block of rows at a time: the same positions
    (each row is partitioned on its own), without a full-size temporary index array. A ``k`` of the
    row length or more gives every position.

    Why: that array is 8 bytes a value (484 MB for a block of 2,048 x 29,547), and an allocation
    above glibc's largest mmap threshold (32 MiB) is mapped fresh and page-faulted on every call,
    which cost more than the partition itself; a block of :data:`PARTITION_BLOCK_BYTES` is
    recycled from the heap.
    """
    if k >= matrix.shape[1]:  # every position, in order
        return np.tile(np.arange(matrix.shape[1]), (len(matrix), 1))
    rows = max(1, PARTITION_BLOCK_BYTES // (8 * matrix.shape[1]))
    out = np.empty((len(matrix), k), dtype=np.int64)
    for start in range(0, len(matrix), rows):
        out[start:start + rows] = np.argpartition(matrix[start:start + rows], k - 1, axis=1)[:, :k]
    return out


def _top_k_rows(negated: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, values) of each row's k largest values of ``-negated``, best first."""
    top = _partition_rows(negated, k)
    values = -np.take_along_axis(negated, top, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(values, order, axis=1)


def top_k_both_ways(left: np.ndarray, right: np.ndarray, k: int, *, chunk: int = 2048
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each left row's k best right rows and each right row's k best left rows, by dot product, from one product.

    Returns (forward positions (n_left, k'), forward values, backward positions (n_right, k''),
    backward values), best first; ``k'`` and ``k''`` are k capped by the other side's size. The
    product is formed ``chunk`` left rows at a time, so ``n_left x n_right`` is never held.

    The product is negated as it is formed (from the negated right side: the same values, one
    pass less) and the backward selection runs on its transpose, made contiguous: a partition
    along the columns of a row-major block reads memory with a stride of a whole row, and took
    most of DBLP-ACM's structure blocking (the same positions and values come out, 1.7-1.9x
    sooner). The block and its transpose are written into two buffers allocated once: a fresh
    block of this size is mapped and page-faulted on every chunk, and on the 100K-entity demo
    pair (a type of 29.6K x 29.5K entities) those faults took most of the ranking's time.

    Examples
    --------
    >>> f, fv, b, bv = top_k_both_ways(np.eye(2, dtype=np.float32), np.array([[0., 1.], [1., .5]], np.float32), 1)
    >>> f.ravel().tolist(), b.ravel().tolist()
    ([1, 0], [1, 0])
    """
    n_left, n_right = len(left), len(right)
    k_forward, k_backward = min(k, n_right), min(k, n_left)
    forward = np.zeros((n_left, k_forward), dtype=np.int64)
    forward_values = np.zeros((n_left, k_forward), dtype=np.float32)
    back = np.zeros((n_right, 0), dtype=np.int64)  # per right row: its best left rows so far
    back_values = np.zeros((n_right, 0), dtype=np.float32)
    negated_right = -right
    product = np.empty((min(chunk, n_left), n_right), dtype=np.result_type(left, right))
    transposed = np.empty((n_right, min(chunk, n_left)), dtype=product.dtype)
    for start in range(0, n_left, chunk):
        rows = left[start:start + chunk]
        negated = np.matmul(rows, negated_right.T, out=product[:len(rows)])
        forward[start:start + chunk], forward_values[start:start + chunk] = _top_k_rows(negated, k_forward)
        by_right = transposed[:, :len(rows)]  # (n_right, rows of this chunk)
        np.copyto(by_right, negated.T)
        top = _partition_rows(by_right, k_backward)  # a short last chunk: all of its rows
        back = np.c_[back, top + start]
        back_values = np.c_[back_values, -np.take_along_axis(by_right, top, axis=1)]
        if back.shape[1] > k_backward:
            keep = np.argpartition(-back_values, k_backward - 1, axis=1)[:, :k_backward]
            back, back_values = np.take_along_axis(back, keep, axis=1), np.take_along_axis(back_values, keep, axis=1)
    order = np.argsort(-back_values, axis=1, kind="stable")
    return (forward, forward_values, np.take_along_axis(back, order, axis=1),
            np.take_along_axis(back_values, order, axis=1))


def sinkhorn_pairs(forward: np.ndarray, forward_values: np.ndarray, backward: np.ndarray, backward_values: np.ndarray,
                   *, temperature: float, iterations: int) -> sp.csr_matrix:
    """(n_left, n_right) Sinkhorn-balanced weights over the union of both top-k lists (local positions).

    Weights start at ``exp(temperature * (s - 1))`` and rows then columns are normalised
    ``iterations`` times: an entity that is many others' best keeps its weight only for the one
    that prefers it most, which is what the one-to-one step will want anyway.
    """
    n_left, n_right = len(forward), len(backward)
    rows = np.r_[np.repeat(np.arange(n_left), forward.shape[1]), backward.ravel()]
    cols = np.r_[forward.ravel(), np.repeat(np.arange(n_right), backward.shape[1])]
    values = np.r_[forward_values.ravel(), backward_values.ravel()].astype(np.float64)
    _, first = np.unique(pair_keys(rows, cols, n_right), return_index=True)  # each (row, col) once
    m = sp.csr_matrix((np.exp(temperature * (values[first] - 1.0)), (rows[first], cols[first])),
                      shape=(n_left, n_right))
    for _ in range(iterations):
        m = row_normalise(m)
        m = sp.csr_matrix(row_normalise(sp.csr_matrix(m.T)).T)
    return m


def _row_best(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(column of each row's largest entry or -1, that value or 0)."""
    m = sp.csr_matrix(m)
    counts = np.diff(m.indptr)
    rows = np.repeat(np.arange(m.shape[0]), counts)
    order = np.lexsort((-m.data, rows))
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]] if len(order) else order
    best, value = np.full(m.shape[0], -1, dtype=np.int64), np.zeros(m.shape[0])
    best[rows[first]], value[rows[first]] = m.indices[first], m.data[first]
    return best, value


@dataclass(frozen=True)
class LabelRound:
    """One round: anchors propagated, confident mutual pairs proposed for the next round, seconds."""

    round: int
    n_anchors: int
    n_mutual: int
    seconds: float


@dataclass(frozen=True, eq=False)
class LabelAlignment:
    """The last round's features, the anchors (and labels) that made them, its candidates and pairs.

    ``left_features``/``right_features``: (n, hops + 1, dim) per-hop unit rows. ``anchor_left``,
    ``anchor_right``, ``labels``: the last round's anchors (known first, then pseudo) and their
    labels. ``candidates``: (left, right, cosine) top-k per left entity of each aligned type, best
    first. ``pseudo_left``/``pseudo_right``: the last round's confident mutual pairs (not anchors).
    """

    left_features: np.ndarray
    right_features: np.ndarray
    anchor_left: np.ndarray
    anchor_right: np.ndarray
    labels: np.ndarray
    candidate_left: np.ndarray
    candidate_right: np.ndarray
    candidate_similarity: np.ndarray
    pseudo_left: np.ndarray
    pseudo_right: np.ndarray
    rounds: tuple[LabelRound, ...]


def align_by_labels(left_graph: PropagationGraph, right_graph: PropagationGraph, anchor_left: np.ndarray,
                    anchor_right: np.ndarray, type_rows: Sequence[tuple[np.ndarray, np.ndarray]],
                    config: LabelPropagationConfig = LabelPropagationConfig(), on_round=None) -> LabelAlignment:
    """Label propagation with ``config.rounds`` self-training rounds (see the module docstring).

    Parameters
    ----------
    left_graph, right_graph : PropagationGraph
    anchor_left, anchor_right : int arrays
        Known links (TRAIN, accepted labels); pair k is one label on both sides. May be empty:
        every feature is then zero and no candidate is proposed.
    type_rows : sequence of (left entities, right entities)
        The aligned types; similarities are only compared within a type.
    on_round : callable, optional
        ``on_round(LabelRound, LabelAlignment)`` after each round (a bench measures there).
    """
    known_left = np.asarray(anchor_left, dtype=np.int64)
    known_right = np.asarray(anchor_right, dtype=np.int64)
    pseudo_left = pseudo_right = np.zeros(0, dtype=np.int64)
    hops = range(config.hops + 1)
    history: list[LabelRound] = []
    state = None
    for round_index in range(config.rounds + 1):
        start = time.perf_counter()
        a_left, a_right = np.r_[known_left, pseudo_left], np.r_[known_right, pseudo_right]
        labels = random_labels(len(a_left), config.dim, config.seed + round_index)
        left_features = propagate(left_graph, a_left, labels, hops=config.hops, relations=config.relations)
        right_features = propagate(right_graph, a_right, labels, hops=config.hops, relations=config.relations)
        cand, mutual_left, mutual_right = [], [], []
        for left_rows, right_rows in type_rows:
            left_rows, right_rows = np.asarray(left_rows, dtype=np.int64), np.asarray(right_rows, dtype=np.int64)
            if len(left_rows) == 0 or len(right_rows) == 0 or len(a_left) == 0 \
                    or not ranked_densely(len(left_rows), len(right_rows)):
                continue
            f, fv, b, bv = top_k_both_ways(_flat(left_features[left_rows], hops), _flat(right_features[right_rows], hops),
                                           config.top_k, chunk=config.chunk)
            keep = fv > 0
            cand.append((left_rows[np.repeat(np.arange(len(f)), keep.sum(axis=1))], right_rows[f[keep]], fv[keep]))
            weights = sinkhorn_pairs(f, fv, b, bv, temperature=config.temperature,
                                     iterations=config.sinkhorn_iterations)
            best_right, value = _row_best(weights)
            best_left, _ = _row_best(sp.csr_matrix(weights.T))
            rows = np.flatnonzero((best_right >= 0) & (value > config.min_confidence))
            rows = rows[best_left[best_right[rows]] == rows]
            mutual_left.append(left_rows[rows])
            mutual_right.append(right_rows[best_right[rows]])
        empty = np.zeros(0, dtype=np.int64)
        m_left = np.concatenate(mutual_left) if mutual_left else empty
        m_right = np.concatenate(mutual_right) if mutual_right else empty
        fresh = ~isin(m_left, known_left) & ~isin(m_right, known_right)
        pseudo_left, pseudo_right = m_left[fresh], m_right[fresh]
        history.append(LabelRound(round_index, len(a_left), len(pseudo_left), time.perf_counter() - start))
        c_left, c_right, c_sim = ((np.concatenate([c[i] for c in cand]) for i in range(3)) if cand else
                                  (empty, empty, np.zeros(0, dtype=np.float32)))
        state = LabelAlignment(left_features, right_features, a_left, a_right, labels, c_left, c_right,
                               c_sim.astype(np.float64), pseudo_left, pseudo_right, tuple(history))
        if on_round is not None:
            on_round(history[-1], state)
    return state


def propagation_fits(dataset: AlignmentDataset, config: LabelPropagationConfig = LabelPropagationConfig()) -> bool:
    """Whether both graphs' features fit under ``FEATURE_FLOATS_LIMIT`` (see the module note on scale)."""
    largest = max(dataset.left.n_entities, dataset.right.n_entities)
    return largest * (config.hops + 1) * config.dim <= FEATURE_FLOATS_LIMIT


def ranked_densely(n_left: int, n_right: int) -> bool:
    """Whether a type of this many entities a side is ranked by the dense product (``DENSE_PAIRS_LIMIT``)."""
    return n_left * n_right <= DENSE_PAIRS_LIMIT


def align_dataset(dataset: AlignmentDataset, anchor_left: np.ndarray, anchor_right: np.ndarray,
                  config: LabelPropagationConfig = LabelPropagationConfig(), on_round=None) -> LabelAlignment:
    """:func:`align_by_labels` over a dataset's two graphs (every triple) and its aligned types."""
    type_rows = [dataset.entities_of_aligned_type(t) for t in range(len(dataset.schema.types))]
    return align_by_labels(graph_of(dataset.left), graph_of(dataset.right), anchor_left, anchor_right, type_rows,
                           config, on_round=on_round)


def _anchor_index(anchor_entities: np.ndarray, entities: np.ndarray) -> np.ndarray:
    """Index of each entity's anchor (its last one), -1 where it is none."""
    order = np.argsort(anchor_entities, kind="stable")
    sorted_entities = anchor_entities[order]
    position = np.searchsorted(sorted_entities, entities, side="right") - 1
    found = (position >= 0) & (sorted_entities[np.clip(position, 0, None)] == entities) if len(order) else \
        np.zeros(len(entities), dtype=bool)
    return np.where(found, order[np.clip(position, 0, None)] if len(order) else -1, -1)


def label_cosine(alignment: LabelAlignment, left: np.ndarray, right: np.ndarray, *, chunk: int = 8192
                 ) -> np.ndarray:
    """Per pair, the mean over hops 1..H of the cosine of the two features, own anchors' labels projected out.

    NaN where either entity has no label at some hop (nothing reached it: no evidence). See the
    module docstring for the leakage guard. Dot products and norms are one pass each over the
    gathered rows (``einsum``); the projection touches only the pairs that involve an anchor.
    A chunk's gathered rows stay below 32 MiB a side (8,192 pairs x 2 hops x 256 floats), so the
    allocator recycles them (see ``cli.keep_freed_memory``): at 16,384 they were mapped afresh
    every chunk, and 3M pairs took 3.3-3.7 s against 2.5 s.
    """
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    out = np.full(len(left), np.nan)
    if len(alignment.anchor_left) == 0:
        return out
    own_left = _anchor_index(alignment.anchor_left, left)
    own_right = _anchor_index(alignment.anchor_right, right)
    labels = np.asarray(alignment.labels, dtype=np.float32)
    for start in range(0, len(left), chunk):
        s = slice(start, start + chunk)
        u = alignment.left_features[left[s], 1:, :]
        v = alignment.right_features[right[s], 1:, :]
        rows = np.flatnonzero((own_left[s] >= 0) | (own_right[s] >= 0))  # most pairs touch no anchor
        if len(rows):
            for own in (own_left[s][rows], own_right[s][rows]):
                hit = own >= 0
                z = np.where(hit[:, None], labels[np.clip(own, 0, None)], 0.0).astype(np.float32)[:, None, :]
                u[rows] -= np.einsum("phd,pxd->ph", u[rows], z)[:, :, None] * z
                v[rows] -= np.einsum("phd,pxd->ph", v[rows], z)[:, :, None] * z
        nu = np.sqrt(np.einsum("phd,phd->ph", u, u))
        nv = np.sqrt(np.einsum("phd,phd->ph", v, v))
        present = (nu > 1e-6) & (nv > 1e-6)
        cos = np.einsum("phd,phd->ph", u, v) / np.where(present, nu * nv, 1.0)
        mean = np.where(present, cos, 0.0).mean(axis=1)
        out[s] = np.where(present.any(axis=1), mean, np.nan)
    return out


#: Pairs up to which the last call's label cosines are kept (24 bytes a pair with their keys).
LABEL_MEMO_PAIRS = 2_000_000
_LAST_LABELS = LastPairs()


def label_features(alignment: LabelAlignment | None, left: np.ndarray, right: np.ndarray) -> FeatureBlock:
    """Column :data:`LABEL_COLUMN` (group ``structure``); all NaN without an alignment (no anchors).

    A pair's value depends on that pair and the alignment alone, so a call for pairs the previous
    call (same alignment object) computed takes their values from it: the matcher's fit computes
    every candidate, its scoring pass asks for them again.
    """
    if alignment is None:
        return FeatureBlock((LABEL_COLUMN,), ("structure",), np.full((len(left), 1), np.nan))
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    keys = pair_keys(left, right, len(alignment.right_features))
    held = _LAST_LABELS.rows(alignment, None, keys)
    if held is not None:
        return FeatureBlock((LABEL_COLUMN,), ("structure",), held[0][held[1]][:, None])
    _LAST_LABELS.clear()
    values = label_cosine(alignment, left, right)
    _LAST_LABELS.keep(alignment, None, keys, values, limit=LABEL_MEMO_PAIRS)
    return FeatureBlock((LABEL_COLUMN,), ("structure",), values[:, None])


# One alignment kept per process: blocking, the matcher's fit and its scoring ask for the same
# graphs and anchors in turn, and a round costs seconds to minutes on a large pair.
_CACHE: dict = {}


def cached_alignment(dataset: AlignmentDataset, anchor_left: np.ndarray, anchor_right: np.ndarray,
                     config: LabelPropagationConfig = LabelPropagationConfig()) -> LabelAlignment | None:
    """:func:`align_dataset` for these anchors (as a set of links), reusing the last result for the same inputs.

    The cache holds the dataset object itself, so its identity cannot be taken by another one.
    None for graphs too large to propagate (:func:`propagation_fits`).
    """
    if not propagation_fits(dataset, config):
        return None
    links = np.unique(np.column_stack([np.asarray(anchor_left, dtype=np.int64).reshape(-1),
                                       np.asarray(anchor_right, dtype=np.int64).reshape(-1)]), axis=0)
    key = (id(dataset), links.tobytes(), config)
    if _CACHE.get("key") != key:
        _CACHE.clear()
        store = ALIGNMENT_STORES.get(dataset.left)

        def compute() -> LabelAlignment:
            return align_dataset(dataset, links[:, 0], links[:, 1], config)

        value = compute() if store is None else store(alignment_key(dataset, links, config), compute)
        _CACHE.update(key=key, dataset=dataset, value=value)
    return _CACHE["value"]


def alignment_key(dataset: AlignmentDataset, links: np.ndarray, config: LabelPropagationConfig) -> dict:
    """What an alignment depends on besides the graphs: the anchor links, the settings, the aligned types."""
    import hashlib
    import json
    from dataclasses import asdict

    return {"links": hashlib.sha256(np.ascontiguousarray(links, dtype=np.int64).tobytes()).hexdigest(),
            "n_links": int(len(links)), "config": json.dumps(asdict(config), sort_keys=True, default=str),
            "types": json.dumps(dataset.schema.to_dict(), sort_keys=True, default=str)}


#: The array fields of a LabelAlignment, in the order a store writes them.
ALIGNMENT_ARRAYS = ("left_features", "right_features", "anchor_left", "anchor_right", "labels", "candidate_left",
                    "candidate_right", "candidate_similarity", "pseudo_left", "pseudo_right")


def alignment_arrays(alignment: LabelAlignment) -> tuple[dict[str, np.ndarray], list[dict]]:
    """(arrays, rounds as plain dicts): a LabelAlignment in a form a file can hold."""
    from dataclasses import asdict

    return ({name: getattr(alignment, name) for name in ALIGNMENT_ARRAYS},
            [asdict(r) for r in alignment.rounds])


def alignment_from_arrays(arrays: dict[str, np.ndarray], rounds: list[dict]) -> LabelAlignment:
    """The inverse of :func:`alignment_arrays`; ValueError when the arrays do not fit together."""
    alignment = LabelAlignment(**{name: arrays[name] for name in ALIGNMENT_ARRAYS},
                               rounds=tuple(LabelRound(**r) for r in rounds))
    n_anchors = len(alignment.anchor_left)
    if (alignment.left_features.ndim != 3 or alignment.right_features.ndim != 3
            or len(alignment.anchor_right) != n_anchors or len(alignment.labels) != n_anchors
            or not len(alignment.candidate_left) == len(alignment.candidate_right) == len(alignment.candidate_similarity)
            or len(alignment.pseudo_left) != len(alignment.pseudo_right)):
        raise ValueError("the stored alignment's arrays do not fit together")
    return alignment
