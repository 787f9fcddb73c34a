"""Layer-wise scoring: the layers below the top once per node, the pair-conditioned top layer per pair.

Why: only CG-MuAlign's top layer looks at the other side of a pair (cross-graph attention); layer 0
and the AverageAgg layers below it see one graph. And scoring samples with draws fixed per edge by
an int seed (:func:`core.sampling.neighbours.edge_uniforms`), so a node's sampled neighbourhood,
hence its h^{K-1}, is the same in every batch and every pair it is read in. Scoring batch by batch
(:meth:`core.scoring.model_scorer.ModelScorer.forward_pairs`) encodes each entity's K-hop sample
below the top layer again in every batch that holds one of its pairs: about (1 + cap)^(K-1)
rows per entity per batch, and a right entity that is a candidate of ten left entities sits in up
to ten batches. Here the nodes the pairs' top layers read (the entities and their sampled
neighbours) are encoded once, in batches of their own (K-1)-hop samples (a :class:`LowerTable`);
each pair batch then samples one hop and gathers rows from the table. This is the usual offline
inference of sampled GNNs (all nodes, layer by layer), kept to the nodes the pairs need.

The distances equal the batch path's to float rounding (a row of a matrix product may be summed in
another order in a batch of another shape, about 1e-6): tests compare the two. Attention for
explanations keeps the batch path, which returns the sampled blocks it draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.data.sets import unique
from core.model.cg_mualign import CGMuAlign
from core.model.layers import PairSide
from core.sampling import on_device
from core.sampling.blocks import GraphBatch, PreparedGraph, graph_batch
from core.sampling.neighbours import sample_neighbours


@dataclass(frozen=True, eq=False)
class LowerTable:
    """h^{K-1} of a set of nodes of one graph: what the top layer reads, computed once."""

    nodes: np.ndarray  # (n,) sorted unique node ids
    h: torch.Tensor  # (n, top layer's input width), on the model's device

    def gather(self, nodes: np.ndarray) -> torch.Tensor:
        """The rows of ``nodes`` (each must be in the table)."""
        index = np.searchsorted(self.nodes, nodes)
        return self.h.index_select(0, torch.from_numpy(index).to(self.h.device))


def sample_batch(graph: PreparedGraph, seeds: np.ndarray, *, cap: int, n_layers: int, seed: int,
                 device: torch.device) -> GraphBatch:
    """The ``n_layers``-hop sample of unique ``seeds``, drawn on ``device`` (the same draws on any device)."""
    if device.type == "cpu":
        return graph_batch(graph.adjacency, graph.edge_weights, graph.entity_types, graph.relation_ids,
                           seeds, cap=cap, n_layers=n_layers, rng=seed)
    return on_device.graph_batch(on_device.device_graph(graph, device), torch.as_tensor(seeds).to(device),
                                 cap=cap, n_layers=n_layers, seed=seed).to(device)


def top_layer_inputs(graph: PreparedGraph, entities: np.ndarray, *, cap: int, seed: int,
                     batch_size: int) -> np.ndarray:
    """Sorted unique nodes the top layer reads for ``entities``: themselves and their sampled neighbours."""
    entities = unique(np.asarray(entities, dtype=np.int64))
    parts = [entities]
    for start in range(0, len(entities), batch_size):
        _, neighbour, _ = sample_neighbours(graph.adjacency, graph.edge_weights, entities[start:start + batch_size],
                                            cap, seed)
        parts.append(neighbour.astype(np.int64))
    return unique(np.concatenate(parts))


def lower_table(model: CGMuAlign, graph: PreparedGraph, entities: np.ndarray, *, seed: int, batch_size: int,
                device: torch.device) -> LowerTable:
    """h^{K-1} of every node the top layer reads for ``entities``, in batches of ``batch_size`` nodes.

    Run under ``torch.no_grad()`` with the model in eval mode (the caller's job, as for any scoring).
    """
    config = model.config
    nodes = top_layer_inputs(graph, entities, cap=config.neighbour_cap, seed=seed, batch_size=batch_size)
    h = None
    for start in range(0, len(nodes), batch_size):
        chunk = nodes[start:start + batch_size]
        batch = (None if config.n_layers == 1 else
                 sample_batch(graph, chunk, cap=config.neighbour_cap, n_layers=config.n_layers - 1, seed=seed,
                              device=device))
        rows = model.encode_nodes(graph.features, batch, chunk)[: len(chunk)]
        if h is None:
            h = torch.empty((len(nodes), rows.shape[1]), dtype=rows.dtype, device=rows.device)
        h[start:start + len(chunk)] = rows
    if h is None:
        h = torch.zeros((0, 1), device=device)
    return LowerTable(nodes, h)


def pair_tables(model: CGMuAlign, left_graph: PreparedGraph, right_graph: PreparedGraph, left: np.ndarray,
                right: np.ndarray, *, seed: int, batch_size: int, device: torch.device
                ) -> tuple[LowerTable, LowerTable]:
    """Each side's :class:`LowerTable` for the pairs (left[b], right[b]): the first step of scoring them."""
    return (lower_table(model, left_graph, left, seed=seed, batch_size=batch_size, device=device),
            lower_table(model, right_graph, right, seed=seed, batch_size=batch_size, device=device))


def top_side(table: LowerTable, graph: PreparedGraph, entities: np.ndarray, *, cap: int, seed: int,
             device: torch.device) -> PairSide:
    """What the top layer reads for ``entities`` (one per pair, repeats allowed): their one-hop
    sample, drawn as scoring draws it, over the table's rows."""
    seeds, inverse = np.unique(entities, return_inverse=True)
    batch = sample_batch(graph, seeds, cap=cap, n_layers=1, seed=seed, device=device)
    rows = torch.from_numpy(inverse.reshape(-1).astype(np.int64)).to(device)
    return PairSide(table.gather(batch.input_nodes), batch.blocks[0].to(device), rows,
                    batch.input_types.to(device)[rows])


def top_layer_distances(model: CGMuAlign, left_graph: PreparedGraph, right_graph: PreparedGraph,
                        tables: tuple[LowerTable, LowerTable], left: np.ndarray, right: np.ndarray, *, seed: int,
                        batch_size: int, device: torch.device,
                        on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The second step: the distance of every pair from tables holding all the nodes its top layer reads.

    Batches of ``batch_size`` pairs, each sampling one hop of its unique entities; a pair's
    distance depends on the tables and its batch, not on the other batches, so any run of
    consecutive batches (a Ray task's chunk) gives the numbers of the whole run.
    ``on_progress(done, total)`` after each batch.
    """
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    out = np.zeros(len(left), dtype=np.float64)
    cap = model.config.neighbour_cap
    for start in range(0, len(left), batch_size):
        stop = min(start + batch_size, len(left))
        sides = [top_side(table, graph, entities, cap=cap, seed=seed, device=device) for table, graph, entities
                 in zip(tables, (left_graph, right_graph), (left[start:stop], right[start:stop]))]
        out[start:stop] = model.pair_output(*sides).distance.double().cpu().numpy()
        if on_progress is not None:
            on_progress(stop, len(left))
    return out


def layerwise_distances(model: CGMuAlign, left_graph: PreparedGraph, right_graph: PreparedGraph, left: np.ndarray,
                        right: np.ndarray, *, seed: int, batch_size: int, device: torch.device,
                        on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The model's distance of every pair (left[b], right[b]), float32 values in a float64 array.

    Each side's :class:`LowerTable` is built first (:func:`pair_tables`), then the pairs run through
    the top layer in batches of ``batch_size`` (:func:`top_layer_distances`).
    """
    if not len(left):
        return np.zeros(0, dtype=np.float64)
    tables = pair_tables(model, left_graph, right_graph, left, right, seed=seed, batch_size=batch_size, device=device)
    return top_layer_distances(model, left_graph, right_graph, tables, left, right, seed=seed, batch_size=batch_size,
                               device=device, on_progress=on_progress)


def layerwise_embeddings(model: CGMuAlign, graph: PreparedGraph, entities: np.ndarray, *, seed: int,
                         batch_size: int, device: torch.device) -> np.ndarray:
    """(len(entities), hidden) float32: each entity's top-layer output with no counterpart.

    :meth:`CGMuAlign.embed_alone` (cross-graph attention uniform) for every entity, from one
    :class:`LowerTable`: the neighbours two entities share are encoded once, not once per batch.
    """
    entities = np.asarray(entities, dtype=np.int64)
    out = np.zeros((len(entities), model.config.hidden), dtype=np.float32)
    if not len(entities):
        return out
    table = lower_table(model, graph, entities, seed=seed, batch_size=batch_size, device=device)
    for start in range(0, len(entities), batch_size):
        part = entities[start:start + batch_size]
        side = top_side(table, graph, part, cap=model.config.neighbour_cap, seed=seed, device=device)
        out[start:start + len(part)] = model.top.alone(side).float().cpu().numpy()
    return out
