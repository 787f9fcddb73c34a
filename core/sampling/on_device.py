"""The sampler of :mod:`core.sampling.neighbours` in torch, over CSR tensors held on the training device.

On a GPU the numpy sampler makes every step wait for the host: the draws, the block building and
the padding run on the CPU and their tensors are then copied over. Everything here is plain
integer arithmetic, sorts and scatters, so it runs where the model runs: the graph's CSR arrays
and sampling weights are copied to the device once (:func:`device_graph`) and a step's sampling
stays there. Two small host copies remain per graph and step: the seeds and the bottom layer's
node list go back to numpy (``GraphBatch.seeds``/``input_nodes``), because the model's input
encoder gathers the entities' features (a scipy CSR matrix) on the host.

The draws are the hashed per-edge uniforms of :func:`core.sampling.neighbours.edge_uniforms`
(splitmix64), computed with int64 arithmetic that wraps like uint64, so for the same int seed
this module samples exactly the neighbours the numpy sampler samples (a test checks every array
on CPU). Training draws a fresh int seed per step from its generator (:func:`step_seed`), so CPU
and GPU training see the same neighbourhoods too.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch

from core.sampling.neighbours import SampledBlock

_MASK64 = (1 << 64) - 1


def _signed(value: int) -> int:
    """A uint64 constant as the int64 with the same bits (torch has no uint64 shifts)."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


_MIX1 = _signed(0xBF58476D1CE4E5B9)
_MIX2 = _signed(0x94D049BB133111EB)


def _shift_right(z: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical (unsigned) right shift of int64 bits: torch's ``>>`` on int64 copies the sign bit."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def edge_uniforms(edge: torch.Tensor, seed: int) -> torch.Tensor:
    """:func:`core.sampling.neighbours.edge_uniforms` on int64 tensors: the same float64 per edge.

    Multiplication and addition of int64 wrap modulo 2**64 exactly as uint64 does; only the right
    shifts differ, and :func:`_shift_right` masks the copied sign bits away.
    """
    offset = _signed(int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019)
    z = edge.to(torch.int64) + offset
    z = (z ^ _shift_right(z, 30)) * _MIX1
    z = (z ^ _shift_right(z, 27)) * _MIX2
    z = z ^ _shift_right(z, 31)
    return (_shift_right(z, 11).to(torch.float64) + 0.5) / 2.0**53


def step_seed(rng: np.random.Generator | int) -> int:
    """The int seed of one sampling call: ``rng`` itself if it is an int, else a fresh draw from it."""
    if isinstance(rng, (int, np.integer)):
        return int(rng)
    return int(rng.integers(0, 2**62))


@dataclass(frozen=True, eq=False)
class DeviceGraph:
    """What sampling reads of one graph, as tensors on one device."""

    indptr: torch.Tensor  # (n + 1,) int64
    neighbours: torch.Tensor  # (2m,) int64
    relations: torch.Tensor  # (2m,) int64, graph relation ids (inverses >= n_relations)
    weights: torch.Tensor  # (2m,) float64 sampling weight per edge
    entity_types: torch.Tensor  # (n,) int64 model type ids
    relation_ids: torch.Tensor  # graph relation id -> model relation id, int64


_ON_DEVICE: "weakref.WeakKeyDictionary[object, dict[str, DeviceGraph]]" = weakref.WeakKeyDictionary()


def device_graph(prepared, device) -> DeviceGraph:
    """``prepared`` (a :class:`core.sampling.blocks.PreparedGraph`) on ``device``, copied once and kept
    while ``prepared`` lives, so steps never copy the graph again."""
    device = torch.device(device)
    per_device = _ON_DEVICE.setdefault(prepared, {})
    key = str(device)
    if key not in per_device:
        adjacency = prepared.adjacency

        def put(array, dtype):
            return torch.as_tensor(np.asarray(array)).to(device=device, dtype=dtype)

        per_device[key] = DeviceGraph(put(adjacency.indptr, torch.int64), put(adjacency.neighbours, torch.int64),
                                      put(adjacency.relations, torch.int64), put(prepared.edge_weights, torch.float64),
                                      put(prepared.entity_types, torch.int64), put(prepared.relation_ids, torch.int64))
    return per_device[key]


def sample_neighbours(graph: DeviceGraph, seeds: torch.Tensor, cap: int,
                      seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One hop, as :func:`core.sampling.neighbours.sample_neighbours` with an int seed.

    Returns (seed_position, neighbour, relation), grouped by seed position in ascending order.
    """
    if cap < 1:
        raise ValueError(f"cap must be >= 1, got {cap}")
    device = seeds.device
    starts, stops = graph.indptr[seeds], graph.indptr[seeds + 1]
    degree = stops - starts
    total = int(degree.sum())
    seed_position = torch.repeat_interleave(torch.arange(len(seeds), device=device), degree, output_size=total)
    # edge ids: for each seed, starts..stops-1, built without a loop
    segment_start = torch.repeat_interleave(torch.cumsum(degree, 0) - degree, degree, output_size=total)
    offsets = torch.arange(total, device=device) - segment_start
    edge = torch.repeat_interleave(starts, degree, output_size=total) + offsets
    weight = graph.weights[edge]
    keep = weight > 0
    crowded = torch.repeat_interleave(degree > cap, degree, output_size=total)
    c_edge, c_position, c_weight = edge[crowded], seed_position[crowded], weight[crowded]
    uniforms = edge_uniforms(c_edge, seed)
    positive = c_weight > 0
    # the numpy sampler's Efraimidis-Spirakis key and its one-sort rank, step for step
    key = torch.where(positive, torch.exp(torch.log(uniforms) / torch.where(positive, c_weight, 1.0)),
                      torch.full_like(uniforms, -0.5))
    order = torch.argsort(c_position.to(torch.float64) + 0.5 * (1.0 - key), stable=True)
    rank = torch.empty_like(c_edge)
    rank[order] = offsets[crowded]
    keep[crowded] &= rank < cap
    kept = edge[keep]
    return seed_position[keep], graph.neighbours[kept], graph.relations[kept]


def sample_blocks(graph: DeviceGraph, seeds: torch.Tensor, *, cap: int, n_layers: int,
                  seed: int) -> list[SampledBlock]:
    """:func:`core.sampling.neighbours.sample_blocks` on the device; ``seeds`` unique, bottom block first.

    The blocks hold tensors where the numpy version holds arrays, with the same values.
    """
    blocks = []
    dst = seeds.to(torch.int64)
    for _ in range(n_layers):
        position, neighbour, relation = sample_neighbours(graph, dst, cap, seed)
        reached, inverse = torch.unique(neighbour, return_inverse=True)
        # a reached node that is already a destination reads its own row; the others are appended
        order = torch.argsort(dst, stable=True)
        sorted_dst = dst[order]
        at = torch.clamp(torch.searchsorted(sorted_dst, reached), max=max(len(dst) - 1, 0))
        known = sorted_dst[at] == reached
        extra = reached[~known]
        index = torch.where(known, order[at], len(dst) + torch.cumsum(~known, 0) - 1)
        src = torch.cat([dst, extra])
        blocks.append(SampledBlock(dst, src, position, index[inverse.reshape(-1)], relation))
        dst = src
    return blocks[::-1]


def pad_block(block: SampledBlock, cap: int, relation_ids: torch.Tensor):
    """:func:`core.sampling.blocks.pad_block` on the device (the sampler's edges are already grouped
    by destination in ascending order, so no sort is needed)."""
    from core.sampling.blocks import PaddedBlock

    n_dst = len(block.dst_nodes)
    device = block.edge_dst.device
    dst = block.edge_dst
    counts = torch.bincount(dst, minlength=n_dst)
    slot = torch.arange(len(dst), device=device) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts,
                                                                           output_size=len(dst))
    neighbours = torch.zeros((n_dst, cap), dtype=torch.int64, device=device)
    relations = torch.zeros((n_dst, cap), dtype=torch.int64, device=device)
    mask = torch.zeros((n_dst, cap), dtype=torch.bool, device=device)
    neighbours[dst, slot] = block.edge_src
    relations[dst, slot] = relation_ids[block.edge_relation]
    mask[dst, slot] = True
    return PaddedBlock(neighbours, relations, mask, n_dst, len(block.src_nodes))


def graph_batch(graph: DeviceGraph, seeds: torch.Tensor, *, cap: int, n_layers: int, seed: int):
    """Sample and pad the blocks of unique ``seeds`` (a tensor on the graph's device)."""
    from core.sampling.blocks import GraphBatch

    blocks = sample_blocks(graph, seeds, cap=cap, n_layers=n_layers, seed=seed)
    input_nodes = blocks[0].src_nodes
    return GraphBatch(seeds.cpu().numpy(), input_nodes.cpu().numpy(), graph.entity_types[input_nodes],
                      tuple(pad_block(b, cap, graph.relation_ids) for b in blocks))


def pair_batch(left, right, left_entities, right_entities, *, cap: int, n_layers: int, seed: int, device):
    """:func:`core.sampling.blocks.pair_batch` sampled on ``device``; ``left``/``right`` are
    :class:`~core.sampling.blocks.PreparedGraph`. Only the pairs' entity ids travel to the device."""
    from core.sampling.blocks import PairBatch

    device = torch.device(device)
    batches, rows = [], []
    for prepared, entities in ((left, left_entities), (right, right_entities)):
        graph = device_graph(prepared, device)
        entities = torch.as_tensor(np.asarray(entities, dtype=np.int64)).to(device)
        seeds, inverse = torch.unique(entities, return_inverse=True)
        batches.append(graph_batch(graph, seeds, cap=cap, n_layers=n_layers, seed=seed))
        rows.append(inverse.reshape(-1))
    return PairBatch(batches[0], rows[0], batches[1], rows[1])
