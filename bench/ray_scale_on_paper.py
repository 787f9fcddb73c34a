"""Scale on paper: the Ray engine's wall time and memory per worker for 10M and 100M entities a side.

    nice -n 5 python bench/ray_scale_on_paper.py --measure   # take the missing per-shard costs, then project
    python bench/ray_scale_on_paper.py                       # project again from the stored figures

Nothing here runs at 10M: every time and byte count is a cost measured on this 2-core machine
(bench/results/ray_engine*.json, scale_*.json, and the few costs those files lack, measured by
``--measure`` on the 100K-entity demo pair and kept in ray_scale_on_paper.json), multiplied out
under the assumptions of :class:`Assumptions`, each stated there. Model, per stage, N workers of
1 thread each, one worker per node (no node shares its object-store copy between workers):

- blocking: the driver builds each type's TF-IDF inputs alone (us/entity x all entities: does not
  shrink with N), the inputs are broadcast to the nodes, the workers rank n_left rows (ms/row / N);
  both types at 10M+ exceed ``exact_pairs_limit``, so the sorted-neighbourhood path's costs apply;
- scoring: actor start + graphs broadcast + candidates / (N x pairs/s of one 1-thread actor);
- training, one epoch: per-worker batch of 32 (global 32 N), steps x (compute of 32 positives +
  the step's collectives: ring all-reduce of the dense gradients, all-gather of the name rows);
- memory per worker: a fixed part (the measured worker minus its graph share) + bytes/entity x
  both sides' entities (each worker reads both graphs whole). Writes ray_scale_on_paper.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import time
from dataclasses import asdict, dataclass

from _common import RESULTS, record, write_results

NAME = "ray_scale_on_paper"
GIB = 2**30
MB = 2**20


@dataclass(frozen=True)
class Assumptions:
    """What is assumed, not measured: every figure the projection uses besides the json files."""

    entities_per_side: tuple[int, ...] = (10_000_000, 100_000_000)
    workers: tuple[int, ...] = (8, 32, 128)
    worker_ram_gib: float = 64.0  # one node per worker
    object_store_share: float = 0.3  # Ray's default object store: 30% of a node's memory
    network_gbit_s: float = 10.0  # per node, both directions
    latency_us: float = 50.0  # per message of a collective (gloo over TCP in one data centre)
    per_worker_batch: int = 32  # training: global batch = 32 N (the measured runs step 32 positives)
    # blocking: shards of the measured size (5,000 left rows): shards_per_worker raised to n_type / (5,000 N);
    # the default 4 shards per worker would make shards of 10^5-10^6 rows (20 KB each, slower per row)
    shard_rows: int = 5000
    # an object reaches N nodes in ceil(log2(N+1)) rounds: Ray pulls from any node already holding it
    tree_broadcast: bool = True


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def read(name: str) -> list[dict]:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def find(records: list[dict], method: str, metric: str | None = None) -> dict:
    """The one record whose method starts with ``method`` (and metric equals ``metric``)."""
    hits = [r for r in records if r["method"].startswith(method) and (metric is None or r["metric"] == metric)]
    if not hits:
        raise KeyError(f"no record {method!r} {metric!r}")
    return hits[-1]


# ----------------------------------------------------------------------- measured inputs ---
def measure_missing(entities: int = 100_000) -> list[dict]:
    """Per-shard costs the ray_engine files lack, on the demo pair: a blocking shard's working memory,
    the training inputs' bytes per entity, name-table rows a step touches, TRAIN links per entity."""
    import tracemalloc

    import numpy as np
    import torch

    from core.blocking.name_blocking import BlockingConfig, type_blocking_inputs
    from core.demo.movies import generate_movie_pair
    from core.distributed.blocking import rank_shard
    from core.model.config import ModelConfig
    from core.model.setup import build_setup
    from core.training import loop
    from core.training.loop import TrainConfig

    torch.set_num_threads(1)
    dataset = generate_movie_pair(round(entities / 11.5), seed=0).dataset
    name, out = f"demo_movies_scale_{entities}", []
    sizes = [len(dataset.entities_of_aligned_type(t)[0]) for t in range(len(dataset.schema.types))]
    largest = int(np.argmax(sizes))
    config = BlockingConfig(top_k=10, exact_pairs_limit=0, n_threads=1)  # the sorted-neighbourhood path
    inputs = type_blocking_inputs(dataset, largest, config)
    for rows in (1000, 5000, 20000):  # the working memory is per row; the time per row grows with the shard
        tracemalloc.start()
        start = time.perf_counter()
        rank_shard(inputs, 0, rows, config)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out += [record(name, f"measured: block shard of {rows} left rows, working memory (sorted-neighbourhood)",
                       "bytes_per_left_row", round(peak / rows), "B", rows=rows, load_average_1min=load_average()),
                record(name, f"measured: block shard of {rows} left rows, 1 thread (sorted-neighbourhood)",
                       "ms_per_left_row", round(1e3 * seconds / rows, 4), "ms", rows=rows,
                       load_average_1min=load_average())]
    setup = build_setup(dataset, ModelConfig())
    n = dataset.left.n_entities + dataset.right.n_entities
    out.append(record(name, "measured: training inputs in the object store (setup: dataset, graphs, features)",
                      "bytes_per_entity", round(len(pickle.dumps(setup, protocol=5)) / n), "B", entities=n))
    links = len(loop.training_links(setup))
    out.append(record(name, "measured: TRAIN links per left entity", "ratio", round(links / dataset.left.n_entities, 4),
                      "1", train_links=links, left_entities=dataset.left.n_entities))
    training = loop._Training(setup, ModelConfig(), TrainConfig(epochs=1, seed=0, max_steps_per_epoch=8), None,
                              torch.device("cpu"))
    table = training.model.inputs.names.weight
    touched: list[int] = []
    inner_step = training.optimiser.step

    def counting_step() -> None:
        touched.append(int(table.grad.coalesce().indices().shape[1]) if table.grad is not None else 0)
        inner_step()

    training.optimiser.step = counting_step
    training.epoch(0, None)
    dense = sum(p.numel() * p.element_size() for p in training.model.parameters() if p is not table)
    out += [record(name, "measured: name-table rows touched per positive (batch 32)", "rows_per_positive",
                   round(float(np.mean(touched)) / 32, 1), "rows", steps=len(touched), row_bytes=table.shape[1] * 4),
            record(name, "measured: dense parameters (all-reduced each step)", "bytes", dense, "B"),
            record(name, "measured: candidate pair in memory (left, right, type, name_score)", "bytes_per_pair",
                   sum(np.dtype(d).itemsize for d in (np.int64, np.int64, np.int64, np.float32)), "B")]
    return out


@dataclass(frozen=True)
class Costs:
    """The per-unit costs the projection multiplies out, each read from a measured record."""

    block_driver_us_per_entity: float
    block_store_bytes_per_entity: float
    block_ms_per_left_row: float
    block_shard_bytes_per_row: float
    block_worker_fixed_mb: float
    largest_type_share: float  # of all entities (both sides): the largest type's inputs held at once
    candidates_per_left: float
    score_pairs_per_s: float  # one actor, 1 thread, on the 2.7M-node pair
    score_actor_start_s: float
    score_store_bytes_per_entity: float
    score_weights_mb: float
    score_worker_fixed_mb: float  # the actor's own memory (USS) on the 2.7M-node pair
    train_positives_per_s: float  # one Ray worker, 1 thread, 100K pair, slowed as measured up to 2.7M
    train_start_s: float
    train_store_bytes_per_entity: float
    train_worker_fixed_mb: float
    train_links_per_left: float
    name_rows_per_positive: float
    name_row_bytes: int
    dense_bytes: float
    driver_bytes_per_entity: float
    pair_bytes: float
    sources: dict


def costs_from(measured: list[dict]) -> Costs:
    ray, large, one = read("ray_engine"), read("ray_engine_large"), read("ray_engine_1thread")
    block_store = find(ray, "block inputs in the object store (sorted-neighbourhood)")
    n_type = block_store["n_left"] + block_store["n_right"]
    score_store = find(ray, "scoring inputs in the object store: graphs and features")
    n_100k = score_store["entities"]
    block_worker = find(ray, "block Ray 2 worker(s) x 1 thread(s)", "worker_peak_rss")["value"]
    blocked = [r for r in read("scale_block") if r["metric"] == "candidates"][0]["value"]
    n_large = [r for r in read("scale_quiet_growth") if r["dataset"] == "movies-1350000" and "nodes" in r][0]["nodes"]
    score = find(large, "score 1048576 pairs Ray 1 actor(s) x 1 thread(s)", "seconds")
    train = find(one, "train 1 epoch x 60 steps Ray 1 worker(s) x 1 thread(s)", "seconds")
    train_rss = find(one, "train 1 epoch x 60 steps Ray 1 worker(s) x 1 thread(s)", "worker_peak_rss")["value"]
    growth = {r["dataset"]: r["value"] for r in read("scale_quiet_growth") if r["metric"] == "epoch_seconds"
              and r["method"] == "epoch pairs=10000" and "nodes" in r}
    slowdown = growth["movies-1350000"] / growth["movies-100000"]  # per positive, 100K -> 2.7M nodes
    train_store = find(measured, "measured: training inputs")["value"]
    candidates_100k = find(ray, "block local (2 threads)")["candidates"]
    pair_bytes = find(measured, "measured: candidate pair")["value"]
    driver_peak = find(large, "driver", "peak_rss")["value"]
    return Costs(
        block_driver_us_per_entity=find(ray, "block inputs on the driver (sorted-neighbourhood)")["value"],
        block_store_bytes_per_entity=block_store["value"],
        block_ms_per_left_row=find(ray, "block shard of 5000 left rows, 1 thread (sorted-neighbourhood)")["value"],
        block_shard_bytes_per_row=find(measured, "measured: block shard of 5000 left rows, working memory")["value"],
        block_worker_fixed_mb=block_worker - n_type * block_store["value"] / MB,
        largest_type_share=n_type / n_100k,
        candidates_per_left=blocked / (n_large / 2),
        score_pairs_per_s=1048576 / score["scoring_seconds"],
        score_actor_start_s=score["actor_start_seconds"],
        score_store_bytes_per_entity=score_store["value"],
        score_weights_mb=find(ray, "scoring inputs in the object store: model weights")["value"],
        score_worker_fixed_mb=find(large, "score 1048576 pairs Ray 1 actor(s) x 1 thread(s)", "actor_uss")["value"],
        train_positives_per_s=train["positives_per_s"] / slowdown,
        train_start_s=train["value"] - train["epoch_seconds"],
        train_store_bytes_per_entity=train_store,
        train_worker_fixed_mb=train_rss - (n_100k * train_store + candidates_100k * pair_bytes) / MB,
        train_links_per_left=find(measured, "measured: TRAIN links per left entity")["value"],
        name_rows_per_positive=find(measured, "measured: name-table rows")["value"],
        name_row_bytes=find(measured, "measured: name-table rows")["row_bytes"],
        dense_bytes=find(measured, "measured: dense parameters")["value"],
        driver_bytes_per_entity=driver_peak * MB / n_large,
        pair_bytes=pair_bytes,
        sources={"slowdown_100k_to_2.7M_per_positive": round(slowdown, 3),
                 "training_seconds_load": train["load_average_1min"],
                 "scoring_load": score["load_average_1min"], "block_costs_load": block_store["load_average_1min"]})


# ---------------------------------------------------------------------------- projection ---
def broadcast_s(nbytes: float, workers: int, a: Assumptions) -> float:
    """Seconds to get one object to every worker's node over ``network_gbit_s`` links."""
    rounds = math.ceil(math.log2(workers + 1)) if a.tree_broadcast else workers
    return rounds * nbytes / (a.network_gbit_s * 1e9 / 8)


def project(c: Costs, n: int, workers: int, a: Assumptions) -> dict:
    """Wall seconds and memory per worker (GiB) of each stage at ``n`` entities a side on ``workers``."""
    bandwidth = a.network_gbit_s * 1e9 / 8
    entities = 2 * n
    # blocking: driver inputs serially, broadcast of the largest type's inputs, ranking spread over N
    type_bytes = c.largest_type_share * entities * c.block_store_bytes_per_entity
    block = {"wall_s": c.block_driver_us_per_entity * 1e-6 * entities + broadcast_s(type_bytes, workers, a)
             + n * c.block_ms_per_left_row * 1e-3 / workers,
             "driver_s": c.block_driver_us_per_entity * 1e-6 * entities,
             "worker_gib": (c.block_worker_fixed_mb * MB + type_bytes + a.shard_rows * c.block_shard_bytes_per_row) / GIB}
    # scoring: graphs once per node, candidate chunks out (16 B/pair) and distances back (8 B/pair) via the driver
    pairs = c.candidates_per_left * n
    graphs = entities * c.score_store_bytes_per_entity + c.score_weights_mb * MB
    score = {"wall_s": c.score_actor_start_s + broadcast_s(graphs, workers, a)
             + max(pairs / (workers * c.score_pairs_per_s), 24 * pairs / bandwidth),
             "pairs": pairs,
             "worker_gib": (c.score_worker_fixed_mb * MB + graphs) / GIB}
    # training: steps of 32 positives per worker, then the step's collectives
    positives = c.train_links_per_left * n
    global_batch = a.per_worker_batch * workers
    steps = math.ceil(positives / global_batch)
    latency = a.latency_us * 1e-6
    allreduce = 2 * (workers - 1) * (latency + c.dense_bytes / workers / bandwidth)
    rows = c.name_rows_per_positive * a.per_worker_batch  # per worker, padded alike
    allgather = 3 * (workers - 1) * latency + (workers - 1) * rows * (c.name_row_bytes + 8) / bandwidth
    compute = a.per_worker_batch / c.train_positives_per_s
    setup_bytes = entities * c.train_store_bytes_per_entity + pairs * c.pair_bytes
    train = {"wall_s": c.train_start_s + broadcast_s(setup_bytes, workers, a) + steps * (compute + allreduce + allgather),
             "positives": positives, "steps": steps, "sync_share": (allreduce + allgather) / (compute + allreduce + allgather),
             "worker_gib": (c.train_worker_fixed_mb * MB + setup_bytes) / GIB}
    return {"blocking": block, "scoring": score, "training": train}


def fits_up_to(fixed_mb: float, bytes_per_entity: float, a: Assumptions, extra_per_entity: float = 0.0) -> float:
    """Entities a side a worker of ``worker_ram_gib`` can hold (both sides read whole)."""
    return (a.worker_ram_gib * GIB - fixed_mb * MB) / (2 * bytes_per_entity + extra_per_entity)


def hms(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure", action="store_true", help="measure the costs the ray_engine files lack (~1 min)")
    args = parser.parse_args()
    a = Assumptions()
    if args.measure:
        measured = measure_missing()
    else:
        measured = [r for r in read(NAME) if r["method"].startswith("measured")]
    for r in measured:
        print(f"  {r['method']}: {r['value']} {r['unit']} (load {r.get('load_average_1min', '-')})")
    c = costs_from(measured)
    print("costs:", {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(c).items()})
    records = list(measured)
    print(f"\n{'entities/side':>13} {'workers':>7} | {'blocking':>9} {'GiB/wkr':>7} | {'scoring':>9} {'GiB/wkr':>7}"
          f" | {'train ep.':>9} {'GiB/wkr':>7} {'sync':>5}")
    for n in a.entities_per_side:
        dataset = f"scale_on_paper_{n // 1_000_000}M"
        for w in a.workers:
            p = project(c, n, w, a)
            print(f"{n:>13,} {w:>7} | {hms(p['blocking']['wall_s']):>9} {p['blocking']['worker_gib']:>7.1f} | "
                  f"{hms(p['scoring']['wall_s']):>9} {p['scoring']['worker_gib']:>7.1f} | "
                  f"{hms(p['training']['wall_s']):>9} {p['training']['worker_gib']:>7.1f} "
                  f"{100 * p['training']['sync_share']:>4.0f}%")
            for stage, values in p.items():
                records += [record(dataset, "ray", f"{stage}_wall_s_{w}_workers", round(values["wall_s"], 1), "s",
                                   entities_per_side=n, assumptions=asdict(a)),
                            record(dataset, "ray", f"{stage}_memory_per_worker_{w}_workers",
                                   round(values["worker_gib"], 2), "GiB", entities_per_side=n)]
            records.append(record(dataset, "ray", f"blocking_driver_s_{w}_workers", round(p["blocking"]["driver_s"], 1),
                                  "s", entities_per_side=n))
        records.append(record(dataset, "ray", "driver_memory", round(2 * n * c.driver_bytes_per_entity / GIB, 1),
                              "GiB", entities_per_side=n,
                              note="driver peak RSS per entity on the 2.7M-node pair (scoring), times 2n"))
    limits = {"blocking": fits_up_to(c.block_worker_fixed_mb + a.shard_rows * c.block_shard_bytes_per_row / MB,
                                     c.largest_type_share * c.block_store_bytes_per_entity, a),
              "scoring": fits_up_to(c.score_worker_fixed_mb + c.score_weights_mb, c.score_store_bytes_per_entity, a),
              "training": fits_up_to(c.train_worker_fixed_mb, c.train_store_bytes_per_entity, a,
                                     c.candidates_per_left * c.pair_bytes)}
    store = a.object_store_share * a.worker_ram_gib * GIB
    for stage, n in limits.items():
        print(f"{stage}: a {a.worker_ram_gib:.0f} GiB worker holds up to {n / 1e6:.0f}M entities a side")
        records.append(record("scale_on_paper", "ray", f"{stage}_max_entities_per_side_in_{a.worker_ram_gib:.0f}_GiB",
                              round(n), "entities"))
    store_n = store / (2 * c.score_store_bytes_per_entity)
    print(f"default object store ({a.object_store_share:.0%} of {a.worker_ram_gib:.0f} GiB) holds the scoring graphs "
          f"up to {store_n / 1e6:.0f}M entities a side; driver {c.driver_bytes_per_entity:.0f} B/entity")
    records.append(record("scale_on_paper", "ray", "scoring_graphs_fit_default_object_store_up_to", round(store_n),
                          "entities_per_side", load_average_1min=load_average(), costs=asdict(c)))
    print(f"wrote {write_results(NAME, records)}")


if __name__ == "__main__":
    main()
