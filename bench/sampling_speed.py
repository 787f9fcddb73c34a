"""Two-hop capped neighbour sampling: mualign's vectorised sampler against the reference approach.

    python bench/sampling_speed.py                         # demo movies, ~100K entities per side
    python bench/sampling_speed.py --entities 1350000      # the paper's Movie scale (~2.7M nodes)

Both samplers draw, for every seed entity, at most ``cap`` neighbours, then at most ``cap``
neighbours of each of those (two hops), on the same graph in the same run.

- **mualign**: ``core.sampling.neighbours.sample_blocks`` over a batch of unique seeds (CSR arrays,
  Efraimidis-Spirakis keys, one ``lexsort`` per hop, inverse-frequency relation weights). Timed
  at several batch sizes; batch 1 shows the per-call overhead a one-pair-at-a-time caller pays.
- **reference approach** (the public CG-MuAlign code's ``genEdgeBatch``, re-implemented here in
  pure Python, bench only): per seed, ``random.sample`` of the node's neighbour list (capped), hop
  by hop; per sampled edge a dict lookup of its relations, one DGL edge-id lookup and, for the
  pair's hop-1 edges, one graph mutation (``add_edges``), as the original did with DGL 0.4. Its
  sampling is uniform (the original ignored the weights), which only makes it cheaper.
- **reference, lists only**: the same ``random.sample`` walk with a Python list append per edge
  and no graph calls at all: a floor under any pure-Python sampler, shown so the speed-up is not
  read as coming from DGL's per-call overhead alone.

- **DGL** ``dgl.sampling.sample_neighbors`` (C++, with ``prob`` = the same weights), two calls
  per batch: a vectorised peer, for scale.

Prints neighbourhoods/s for each and the speed-up; targets (issue 7): >= 50x and >= 20,000
two-hop neighbourhoods/s on 2 cores. Writes bench/results/sampling_speed.json.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np
from _common import peak_rss_mb, record, write_results

from core.demo.movies import generate_movie_pair
from core.data.kg import Adjacency
from core.sampling.neighbours import edge_weights, sample_blocks

ENTITIES_PER_FILM = 11.5  # demo movies: entities per side per film (bench/generate.py's probe)


def reference_adjacency(adjacency: Adjacency) -> list[list[tuple[int, int]]]:
    """The reference code's view of a graph: a Python list of (neighbour, relation) per node."""
    neighbours, relations = adjacency.neighbours.tolist(), adjacency.relations.tolist()
    indptr = adjacency.indptr.tolist()
    return [list(zip(neighbours[a:b], relations[a:b])) for a, b in zip(indptr[:-1], indptr[1:])]


def reference_two_hop(adj: list[list[tuple[int, int]]], seed: int, cap: int, rnd: random.Random) -> list[tuple]:
    """One seed's two-hop neighbourhood, the reference way: random.sample per node, edge by edge."""
    edges = []
    frontier = [seed]
    for _ in range(2):
        next_frontier = []
        for node in frontier:
            around = adj[node]
            chosen = rnd.sample(around, cap) if len(around) > cap else around
            for neighbour, relation in chosen:
                edges.append((node, neighbour, relation))  # the reference mutated a DGL graph here
                next_frontier.append(neighbour)
        frontier = next_frontier
    return edges


class ReferenceGraph:
    """What ``genEdgeBatch`` worked on: a mutable DGL graph (both directions), neighbour lists
    without duplicates, and a dict (neighbour, node) -> relation ids (inverse ids offset)."""

    def __init__(self, adjacency: Adjacency):
        from core.model._dgl import dgl

        n = len(adjacency.indptr) - 1
        source = np.repeat(np.arange(n), adjacency.degree())
        self.graph = dgl.graph((adjacency.neighbours, source), num_nodes=n)  # message: neighbour -> node
        self.relations: dict[tuple[int, int], list[int]] = {}
        self.adj: list[list[int]] = [[] for _ in range(n)]
        for node, neighbour, relation in zip(source.tolist(), adjacency.neighbours.tolist(),
                                             adjacency.relations.tolist()):
            rels = self.relations.setdefault((neighbour, node), [])
            if not rels:
                self.adj[node].append(neighbour)
            rels.append(relation)


def reference_dgl_two_hop(ref: ReferenceGraph, seed: int, cap: int, rnd: random.Random) -> int:
    """One seed, the ``genEdgeBatch`` way; returns the number of sampled edges."""
    import torch

    g, n_edges = ref.graph, 0
    edge_index: dict[int, list[int]] = {}
    hop1 = rnd.sample(ref.adj[seed], min(cap, len(ref.adj[seed])))
    for neighbour in hop1:
        for relation in ref.relations[(neighbour, seed)]:
            edge_index.setdefault(relation, []).append(int(g.edge_ids(neighbour, seed)))
        g.add_edges(torch.tensor([neighbour]), torch.tensor([seed]))  # the cross-graph edge of the original
        n_edges += 1
    for node in hop1:
        for neighbour in rnd.sample(ref.adj[node], min(cap, len(ref.adj[node]))):
            for relation in ref.relations[(neighbour, node)]:
                edge_index.setdefault(relation, []).append(int(g.edge_ids(neighbour, node)))
            n_edges += 1
    return n_edges


def time_reference_dgl(ref: ReferenceGraph, seeds: np.ndarray, cap: int, budget_s: float) -> tuple[float, int, float]:
    rnd, done, n_edges = random.Random(0), 0, 0
    start = time.perf_counter()
    for seed in seeds.tolist():
        n_edges += reference_dgl_two_hop(ref, seed, cap, rnd)
        done += 1
        if done % 16 == 0 and time.perf_counter() - start > budget_s:
            break
    seconds = time.perf_counter() - start
    return done / seconds, done, n_edges / done


def time_reference(adj, seeds: np.ndarray, cap: int, budget_s: float) -> tuple[float, int, float]:
    """Neighbourhoods/s, seeds done, mean edges per neighbourhood (runs until ``budget_s``)."""
    rnd, done, n_edges = random.Random(0), 0, 0
    start = time.perf_counter()
    for seed in seeds.tolist():
        n_edges += len(reference_two_hop(adj, seed, cap, rnd))
        done += 1
        if done % 256 == 0 and time.perf_counter() - start > budget_s:
            break
    seconds = time.perf_counter() - start
    return done / seconds, done, n_edges / done


def time_mualign(adjacency: Adjacency, weights: np.ndarray, seeds: np.ndarray, cap: int, batch: int,
                 budget_s: float) -> tuple[float, int, float]:
    """Neighbourhoods/s over batches of ``batch`` unique seeds, mean sampled edges per seed."""
    rng = np.random.default_rng(0)
    done, n_edges = 0, 0
    start = time.perf_counter()
    for first in range(0, len(seeds), batch):
        chunk = np.unique(seeds[first:first + batch])
        blocks = sample_blocks(adjacency, weights, chunk, cap=cap, n_layers=2, rng=rng)
        n_edges += sum(len(b.edge_src) for b in blocks)
        done += len(chunk)
        if time.perf_counter() - start > budget_s:
            break
    seconds = time.perf_counter() - start
    return done / seconds, done, n_edges / done


def time_dgl(adjacency: Adjacency, weights: np.ndarray, seeds: np.ndarray, cap: int, batch: int,
             budget_s: float) -> float:
    """Two-hop neighbourhoods/s with DGL's C++ weighted sampler (two hops, unique frontier)."""
    import torch

    from core.model._dgl import dgl

    n = len(adjacency.indptr) - 1
    target = torch.from_numpy(np.repeat(np.arange(n), adjacency.degree()))
    g = dgl.graph((torch.from_numpy(adjacency.neighbours), target), num_nodes=n)
    g.edata["prob"] = torch.from_numpy(weights).float()
    done, start = 0, time.perf_counter()
    for first in range(0, len(seeds), batch):
        chunk = torch.from_numpy(np.unique(seeds[first:first + batch]))
        hop1 = dgl.sampling.sample_neighbors(g, chunk, cap, prob="prob")
        frontier = torch.unique(torch.cat([chunk, hop1.edges()[0]]))
        dgl.sampling.sample_neighbors(g, frontier, cap, prob="prob")
        done += len(chunk)
        if time.perf_counter() - start > budget_s:
            break
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=100_000, help="entities per side (demo movies)")
    parser.add_argument("--cap", type=int, default=10)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 32, 1024, 8192])
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget per measurement")
    parser.add_argument("--results", default="sampling_speed")
    args = parser.parse_args()

    pair = generate_movie_pair(max(1, round(args.entities / ENTITIES_PER_FILM)), seed=0)
    kg = pair.dataset.left
    adjacency = kg.adjacency
    weights = edge_weights(kg)
    name = f"demo_movies_left_{kg.n_entities}"
    degree = adjacency.degree()
    print(f"graph: {kg.n_entities:,} entities, {kg.n_triples:,} triples, mean degree {degree.mean():.1f}, "
          f"max {degree.max():,}; cap {args.cap}; load average {os.getloadavg()[0]:.2f}", flush=True)
    seeds = np.random.default_rng(1).permutation(kg.n_entities)
    records = []

    ref_rate, ref_done, ref_edges = time_reference_dgl(ReferenceGraph(adjacency), seeds, args.cap, args.seconds)
    print(f"method=reference-approach nbhd_per_s={ref_rate:,.0f} seeds={ref_done:,} edges_per_nbhd={ref_edges:.1f}",
          flush=True)
    records.append(record(name, "reference-approach", "neighbourhoods_per_s", round(ref_rate, 1), "1/s", 0,
                          cap=args.cap))
    floor_rate, floor_done, floor_edges = time_reference(reference_adjacency(adjacency), seeds, args.cap, args.seconds)
    print(f"method=reference-lists-only nbhd_per_s={floor_rate:,.0f} seeds={floor_done:,} "
          f"edges_per_nbhd={floor_edges:.1f}", flush=True)
    records.append(record(name, "reference-lists-only", "neighbourhoods_per_s", round(floor_rate, 1), "1/s", 0,
                          cap=args.cap))
    best = 0.0
    for batch in args.batches:
        rate, done, edges = time_mualign(adjacency, weights, seeds, args.cap, batch, args.seconds)
        best = max(best, rate)
        print(f"method=mualign batch={batch} nbhd_per_s={rate:,.0f} seeds={done:,} edges_per_nbhd={edges:.1f} "
              f"speedup={rate / ref_rate:.1f}x (vs lists only {rate / floor_rate:.1f}x)", flush=True)
        records.append(record(name, f"mualign-batch{batch}", "neighbourhoods_per_s", round(rate, 1), "1/s", 0,
                              cap=args.cap))
        records.append(record(name, f"mualign-batch{batch}", "speedup_vs_reference", round(rate / ref_rate, 2),
                              "x", 0, cap=args.cap))
        records.append(record(name, f"mualign-batch{batch}", "speedup_vs_lists_only", round(rate / floor_rate, 2),
                              "x", 0, cap=args.cap))
    for batch in (1024, 8192):
        rate = time_dgl(adjacency, weights, seeds, args.cap, batch, args.seconds)
        print(f"method=dgl-sample_neighbors batch={batch} nbhd_per_s={rate:,.0f}", flush=True)
        records.append(record(name, f"dgl-sample_neighbors-batch{batch}", "neighbourhoods_per_s", round(rate, 1),
                              "1/s", 0, cap=args.cap))
    print(f"best: {best:,.0f} two-hop neighbourhoods/s (target >= 20,000), "
          f"{best / ref_rate:.0f}x the reference approach (target >= 50x), {best / floor_rate:.1f}x its "
          f"lists-only floor; peak RSS {peak_rss_mb():.0f} MB; "
          f"load average {os.getloadavg()[0]:.2f}")
    records.append(record(name, "host", "load_average_1min", round(os.getloadavg()[0], 2), "load", None))
    write_results(args.results, records)


if __name__ == "__main__":
    main()
