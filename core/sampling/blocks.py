"""Turn sampled blocks into padded tensors the encoder reads.

Capped sampling gives every node at most ``cap`` neighbours, so a layer's neighbourhoods fit a
dense ``(n_dst, cap)`` index matrix with a mask. That is what the pair-conditioned top layer needs
anyway: the two sides' neighbourhoods side by side, to compare every neighbour of ``i`` with every
neighbour of ``i'`` in one batched distance computation.

Each graph of a batch of pairs is sampled once for the unique entities it contributes, so an
entity that appears in many pairs (a positive and its negatives) is encoded below the top layer
only once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.sampling import on_device
from core.sampling.neighbours import SampledBlock, sample_blocks
from core.sampling.on_device import step_seed


@dataclass(frozen=True, eq=False)
class PaddedBlock:
    """One layer: ``neighbours[i, s]`` indexes the layer's inputs; ``mask`` marks real slots.

    The real slots are also listed flat (``slots``: ``i * cap + s``, with their ``sources``,
    ``slot_relations`` and destination ``slot_dst``), so layers gather and scatter with
    ``index_select``/``index_add_`` instead of boolean-mask indexing, which is several times slower
    on CPU.
    """

    neighbours: torch.Tensor  # (n_dst, cap) long
    relations: torch.Tensor  # (n_dst, cap) long, model relation ids
    mask: torch.Tensor  # (n_dst, cap) bool
    n_dst: int
    n_src: int
    slots: torch.Tensor = field(init=False)
    sources: torch.Tensor = field(init=False)
    slot_relations: torch.Tensor = field(init=False)
    slot_dst: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        slots = self.mask.reshape(-1).nonzero().squeeze(1)
        object.__setattr__(self, "slots", slots)
        object.__setattr__(self, "sources", self.neighbours.reshape(-1).index_select(0, slots))
        object.__setattr__(self, "slot_relations", self.relations.reshape(-1).index_select(0, slots))
        object.__setattr__(self, "slot_dst", torch.div(slots, max(self.mask.shape[1], 1), rounding_mode="floor"))

    def to(self, device) -> "PaddedBlock":
        if self.neighbours.device == torch.device(device):
            return self
        return PaddedBlock(self.neighbours.to(device), self.relations.to(device), self.mask.to(device),
                           self.n_dst, self.n_src)


@dataclass(frozen=True, eq=False)
class GraphBatch:
    """What one graph contributes to a batch.

    ``input_nodes`` are the entities whose features enter the bottom layer; every layer's
    destinations are a prefix of its inputs, and the top layer's destinations are ``seeds``.
    ``input_types`` are their model type ids (layer 1 projects each type with its own matrix).
    """

    seeds: np.ndarray
    input_nodes: np.ndarray
    input_types: torch.Tensor
    blocks: tuple[PaddedBlock, ...]  # bottom first

    def to(self, device) -> "GraphBatch":
        return GraphBatch(self.seeds, self.input_nodes, self.input_types.to(device),
                          tuple(b.to(device) for b in self.blocks))


def pad_block(block: SampledBlock, cap: int, relation_ids: np.ndarray) -> PaddedBlock:
    """Edges of a block (grouped by destination, as the sampler emits them) as padded matrices."""
    n_dst = len(block.dst_nodes)
    counts = np.bincount(block.edge_dst, minlength=n_dst)
    if counts.size and counts.max() > cap:
        raise ValueError(f"a node has {counts.max()} sampled neighbours, more than the cap {cap}")
    order = np.argsort(block.edge_dst, kind="stable")
    dst = block.edge_dst[order]
    slot = np.arange(len(dst)) - np.repeat(np.cumsum(counts) - counts, counts)
    neighbours = np.zeros((n_dst, cap), dtype=np.int64)
    relations = np.zeros((n_dst, cap), dtype=np.int64)
    mask = np.zeros((n_dst, cap), dtype=bool)
    neighbours[dst, slot] = block.edge_src[order]
    relations[dst, slot] = relation_ids[block.edge_relation[order]]
    mask[dst, slot] = True
    return PaddedBlock(torch.from_numpy(neighbours), torch.from_numpy(relations), torch.from_numpy(mask),
                       n_dst, len(block.src_nodes))


def graph_batch(adjacency, edge_weights: np.ndarray, entity_types: np.ndarray, relation_ids: np.ndarray,
                seeds: np.ndarray, *, cap: int, n_layers: int, rng: np.random.Generator | int) -> GraphBatch:
    """Sample and pad the ``n_layers`` blocks of unique ``seeds`` in one graph."""
    blocks = sample_blocks(adjacency, edge_weights, seeds, cap=cap, n_layers=n_layers, rng=rng)
    input_nodes = blocks[0].src_nodes
    return GraphBatch(np.asarray(seeds), input_nodes, torch.from_numpy(entity_types[input_nodes]),
                      tuple(pad_block(b, cap, relation_ids) for b in blocks))


@dataclass(frozen=True, eq=False)
class PreparedGraph:
    """Everything about one graph that stays fixed during training and scoring."""

    adjacency: object  # core.data.kg.Adjacency
    edge_weights: np.ndarray
    entity_types: np.ndarray  # model type ids
    relation_ids: np.ndarray  # graph relation id (incl. inverse) -> model relation id
    features: object  # core.features.entity_features.EntityFeatures


def prepare_graph(kg, features, vocabulary, side: str) -> PreparedGraph:
    from core.sampling.neighbours import edge_weights

    return PreparedGraph(kg.adjacency, edge_weights(kg), vocabulary.entity_types(kg, side),
                         vocabulary.relations(side), features)


@dataclass(frozen=True, eq=False)
class PairBatch:
    """Both graphs' sampled neighbourhoods for a batch of pairs; pair b is (left rows[b], right rows[b])."""

    left: GraphBatch
    left_rows: torch.Tensor
    right: GraphBatch
    right_rows: torch.Tensor

    def to(self, device) -> "PairBatch":
        return PairBatch(self.left.to(device), self.left_rows.to(device), self.right.to(device),
                         self.right_rows.to(device))


def pair_batch(left: PreparedGraph, right: PreparedGraph, left_entities: np.ndarray, right_entities: np.ndarray,
               *, cap: int, n_layers: int, rng: np.random.Generator | int, device=None) -> PairBatch:
    """Sample each graph once for the unique entities of the pairs, and index the pairs into it.

    ``rng`` is an int seed (scoring: each entity's sample fixed by the seed) or a generator
    (training), from which one int seed is drawn per call (:func:`core.sampling.on_device.step_seed`):
    the draws are the hashed per-edge uniforms either way, so a batch sampled on a GPU
    (``device`` not CPU: :mod:`core.sampling.on_device`, no numpy sampling) holds the same neighbours
    as the numpy sampler gives on the CPU. The batch is returned on ``device`` (CPU when None).
    """
    seed = step_seed(rng)
    if device is not None and torch.device(device).type != "cpu":
        return on_device.pair_batch(left, right, left_entities, right_entities, cap=cap, n_layers=n_layers,
                                    seed=seed, device=device)
    batches, rows = [], []
    for graph, entities in ((left, left_entities), (right, right_entities)):
        seeds, inverse = np.unique(np.asarray(entities, dtype=np.int64), return_inverse=True)
        batches.append(graph_batch(graph.adjacency, graph.edge_weights, graph.entity_types, graph.relation_ids,
                                   seeds, cap=cap, n_layers=n_layers, rng=seed))
        rows.append(torch.from_numpy(inverse.reshape(-1).astype(np.int64)))
    return PairBatch(batches[0], rows[0], batches[1], rows[1])
