"""The Ray engine against the local one: same results, what it costs, and what a cluster would need.

    python bench/ray_engine.py                       # the 100K-entity demo movie pair, every stage
    python bench/ray_engine.py --stages overhead score --max-pairs 100000
    python bench/ray_engine.py --entities 1350000 --stages score --max-pairs 0 --results ray_engine_large

The pair is the demo movie generator at ``--entities`` per side (as bench/scale.py makes it, kept
in $MUALIGN_SCALE_DIR, default /tmp/mualign-scale), blocked top-10. Ray runs locally in this
process (``ray.init`` on 127.0.0.1, as ``mualign ... --engine ray`` without ``--address``).
Stages:

- ``overhead``: ``ray.init``; a tiny job (1,024 pairs scored; one type blocked) local vs on Ray;
- ``block``: local vs Ray 1 worker (2 threads) vs Ray 2 workers (1 thread each); candidates equal;
- ``score``: ``--max-pairs`` candidates (0: all) with an untrained seeded model (the cost does not
  depend on the weights' values): local 2 threads vs Ray 1 actor x 2 threads, and local 1 thread
  vs Ray 2 actors x 1 thread; distances compared bit for bit (each against the local run with its
  thread count); actor start (graphs put in the object store, model built) timed apart;
- ``train``: one epoch of ``--train-steps`` steps (batch 32) local vs Ray Train 1 and 2 workers;
- ``quality``: the demo movie pair at scale 300, ``--quality-epochs`` epochs, seeds 0 1 2, local vs
  Ray 2 workers: VALID and TEST PR-AUC (the seed spread of each);
- ``costs``: per-shard costs for the scale-on-paper table: the driver's per-type inputs (TF-IDF
  fit and transform, sort keys) per entity, and one shard's ranking per left row on the exact
  and the sorted-neighbourhood path, with the bytes the object store holds per entity.

Peak memory per worker is sampled (every 0.2 s) from the resident memory of every Ray worker
process under this driver, per stage (RSS counts the object-store pages a worker has read; the
scoring actors also report their USS, the memory only they hold). Writes
bench/results/ray_engine.json; every time record carries the 1-minute load average beside it.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np
from _common import peak_rss_mb, record, write_results

DEFAULT_DIR = Path(os.environ.get("MUALIGN_SCALE_DIR", "/tmp/mualign-scale"))
ENTITIES_PER_FILM = 11.5  # as bench/scale.py


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


class WorkerMemory:
    """Samples the RSS of every process under this one (Ray's workers), keeping each one's peak."""

    def __init__(self, every_s: float = 0.2):
        import psutil

        self.me = psutil.Process()
        self.every_s = every_s
        self.peaks: dict[int, tuple[str, float]] = {}
        self.driver_peak = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "WorkerMemory":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.done.wait(self.every_s):
            self.sample()

    def sample(self) -> None:
        try:
            self.driver_peak = max(self.driver_peak, self.me.memory_info().rss / 2**20)
            children = self.me.children(recursive=True)
        except Exception:  # noqa: BLE001 - a process that ended between listing and reading
            return
        for child in children:
            try:
                title = " ".join(child.cmdline())[:80]
                rss = child.memory_info().rss / 2**20
            except Exception:  # noqa: BLE001
                continue
            if not title.startswith("ray::"):
                continue
            old_title, old = self.peaks.get(child.pid, ("", 0.0))
            kind = title if not title.startswith("ray::IDLE") else old_title or title
            self.peaks[child.pid] = (kind, max(old, rss))

    def peak(self, *kinds: str) -> float:
        """The largest peak RSS (MB) among worker processes whose title starts with one of ``kinds``."""
        values = [rss for title, rss in self.peaks.values() if any(title.startswith(f"ray::{k}") for k in kinds)]
        return round(max(values), 1) if values else float("nan")


# ------------------------------------------------------------------------------------ data ---
def ensure_project(entities: int) -> Path:
    from core.demo.movies import generate_movie_pair
    from core.formats.native import save_project

    directory = DEFAULT_DIR / f"movies-{entities}"
    if not (directory / "links.tsv").exists():
        start = time.perf_counter()
        save_project(generate_movie_pair(max(1, round(entities / ENTITIES_PER_FILM)), seed=0).dataset, directory)
        print(f"generated {directory} in {time.perf_counter() - start:.1f} s", flush=True)
    return directory


def blocked(directory: Path, top_k: int, records: list, name: str, on_ray: bool = False):
    """The project's dataset and candidates, blocked now (locally, or on Ray 2 x 1) if not yet."""
    from core.blocking.name_blocking import BlockingConfig, block
    from core.distributed.blocking import block_on_ray
    from core.distributed.cluster import RayEngine
    from core.formats.native import CANDIDATES_FILE, load_candidates, load_project, save_candidates

    dataset, seconds = timed(load_project, directory)
    records.append(record(name, "load_project", "seconds", round(seconds, 1), "s", load_average_1min=load_average()))
    if (directory / CANDIDATES_FILE).exists():
        return dataset, load_candidates(dataset, directory)
    config = BlockingConfig(top_k=top_k)
    if on_ray:
        (candidates, _), seconds = timed(block_on_ray, dataset, config, RayEngine(workers=2, threads_per_worker=1))
    else:
        (candidates, _), seconds = timed(block, dataset, config)
    label = f"block {'Ray 2 workers x 1 thread' if on_ray else 'local'} (candidates for the other stages)"
    print(f"{label}: {seconds:.0f}s, {len(candidates):,} candidates (load {load_average()})", flush=True)
    records.append(record(name, label, "seconds", round(seconds, 1), "s", load_average_1min=load_average(),
                          candidates=len(candidates)))
    save_candidates(dataset, candidates, directory)
    return dataset, candidates


def untrained_scorer(dataset, threads: int):
    import torch

    from core.model.config import ModelConfig
    from core.model.setup import build_setup
    from core.scoring.model_scorer import ModelScorer

    torch.manual_seed(0)
    setup = build_setup(dataset, ModelConfig())
    return ModelScorer(setup.new_model(ModelConfig()), setup, seed=0)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


# ---------------------------------------------------------------------------------- stages ---
def stage_overhead(name, dataset, candidates, records, init_seconds) -> None:
    """What Ray adds to a small job: starting Ray, an actor, tasks, for a second's worth of work."""
    import ray
    import torch

    from core.blocking.name_blocking import BlockingConfig, block
    from core.demo.movies import generate_movie_pair
    from core.distributed.blocking import block_on_ray
    from core.distributed.cluster import RayEngine
    from core.distributed.scoring import ScoringPool

    records.append(record(name, "ray.init (local, 127.0.0.1)", "seconds", round(init_seconds, 2), "s",
                          load_average_1min=load_average()))
    scorer = untrained_scorer(dataset, 1)
    left, right = candidates.left[:1024], candidates.right[:1024]
    torch.set_num_threads(1)
    local, local_s = timed(scorer.distances, left, right)
    start = time.perf_counter()
    pool = ScoringPool(scorer, RayEngine(workers=1, threads_per_worker=1))
    ray.get([a.pid.remote() for a in pool.actors])  # the actor is built
    start_s = time.perf_counter() - start
    distances, ray_s = timed(pool.distances, left, right)
    pool.close()
    torch.set_num_threads(2)
    print(f"tiny scoring job (1,024 pairs): local {local_s:.2f}s; Ray {ray_s:.2f}s + {start_s:.2f}s actor start "
          f"(graphs put, model built); bit-identical={np.array_equal(local, distances)} (load {load_average()})",
          flush=True)
    records += [record(name, "score 1,024 pairs, local 1 thread", "seconds", round(local_s, 3), "s",
                       load_average_1min=load_average()),
                record(name, "score 1,024 pairs, Ray 1 actor x 1 thread (actor up)", "seconds", round(ray_s, 3), "s",
                       load_average_1min=load_average()),
                record(name, "score: Ray actor start (graphs put in the object store, model built)", "seconds",
                       round(start_s, 3), "s", load_average_1min=load_average())]
    small = generate_movie_pair(40, seed=0).dataset
    config = BlockingConfig(top_k=10)
    _, local_s = timed(block, small, config)
    _, ray_s = timed(block_on_ray, small, config, RayEngine(workers=2, threads_per_worker=1))
    print(f"tiny blocking job ({small.left.n_entities} entities a side): local {local_s:.2f}s, "
          f"Ray 2 workers {ray_s:.2f}s (load {load_average()})", flush=True)
    records += [record("demo_movies_scale_40", "block local", "seconds", round(local_s, 3), "s",
                       load_average_1min=load_average()),
                record("demo_movies_scale_40", "block Ray 2 workers x 1 thread", "seconds", round(ray_s, 3), "s",
                       load_average_1min=load_average())]


def stage_block(name, dataset, records, top_k) -> None:
    from core.blocking.name_blocking import BlockingConfig, block
    from core.distributed.blocking import block_on_ray
    from core.distributed.cluster import RayEngine

    config = BlockingConfig(top_k=top_k)
    (local, _), local_s = timed(block, dataset, config)
    records.append(record(name, "block local (2 threads)", "seconds", round(local_s, 2), "s",
                          load_average_1min=load_average(), candidates=len(local)))
    print(f"block local: {local_s:.1f}s, {len(local):,} candidates (load {load_average()})", flush=True)
    for workers, threads in ((1, 2), (2, 1)):
        with WorkerMemory() as memory:
            (distributed, _), ray_s = timed(block_on_ray, dataset, config,
                                            RayEngine(workers=workers, threads_per_worker=threads))
        equal = all(np.array_equal(getattr(local, f), getattr(distributed, f))
                    for f in ("left", "right", "type", "name_score"))
        label = f"block Ray {workers} worker(s) x {threads} thread(s)"
        print(f"{label}: {ray_s:.1f}s, equal={equal}, worker peak RSS {memory.peak('rank_shard')} MB, "
              f"driver {memory.driver_peak:.0f} MB (load {load_average()})", flush=True)
        records += [record(name, label, "seconds", round(ray_s, 2), "s", load_average_1min=load_average(),
                           same_candidates=equal),
                    record(name, label, "worker_peak_rss", memory.peak("rank_shard"), "MB"),
                    record(name, label, "driver_peak_rss", round(memory.driver_peak, 1), "MB")]


def stage_score(name, dataset, candidates, records, max_pairs, configs=((1, 2), (2, 1)), repeats: int = 1) -> None:
    """Local and Ray scoring alternated ``repeats`` times: on a shared machine the load moves under
    a run, so each side's fastest run is compared (the medians are recorded too)."""
    import ray
    import torch

    from core.distributed.cluster import RayEngine
    from core.distributed.scoring import ScoringPool

    n = len(candidates) if not max_pairs else min(max_pairs, len(candidates))
    left, right = candidates.left[:n], candidates.right[:n]
    scorer = untrained_scorer(dataset, 2)
    for workers, threads in configs:
        local_runs, ray_runs, start_runs, equal, loads = [], [], [], True, []
        with WorkerMemory() as memory:
            for _ in range(repeats):
                torch.set_num_threads(threads)
                local, local_s = timed(scorer.distances, left, right)
                local_runs.append(local_s)
                start = time.perf_counter()
                pool = ScoringPool(scorer, RayEngine(workers=workers, threads_per_worker=threads))
                ray.get([a.pid.remote() for a in pool.actors])
                start_runs.append(time.perf_counter() - start)
                distances, ray_s = timed(pool.distances, left, right)
                ray_runs.append(ray_s)
                actor_memory = pool.memory()
                pool.close()
                equal = equal and bool(np.array_equal(local, distances))
                loads.append(load_average())
                print(f"  score {n:,} pairs, {threads} thread(s): local {local_s:.1f}s, Ray {workers} actor(s) "
                      f"{ray_s:.1f}s + {start_runs[-1]:.1f}s start (load {loads[-1]})", flush=True)
        local_s, ray_s, start_s = min(local_runs), min(ray_runs), min(start_runs)
        total = start_s + ray_s
        label = f"score {n} pairs Ray {workers} actor(s) x {threads} thread(s)"
        print(f"{label}: best {ray_s:.1f}s scoring + {start_s:.1f}s actor start = {total:.1f}s against local "
              f"{local_s:.1f}s ({100 * (total / local_s - 1):+.1f}%), bit-identical={equal}, "
              f"actor peak RSS {max(m['peak_rss_mb'] for m in actor_memory):.0f} MB, "
              f"USS {max(m['uss_mb'] for m in actor_memory):.0f} MB (load {loads})", flush=True)
        records += [record(name, f"score {n} pairs local ({threads} threads)", "seconds", round(local_s, 2), "s",
                           load_average_1min=loads, pairs_per_s=round(n / local_s),
                           runs=[round(x, 2) for x in local_runs]),
                    record(name, label, "seconds", round(total, 2), "s", load_average_1min=loads,
                           scoring_seconds=round(ray_s, 2), actor_start_seconds=round(start_s, 2),
                           runs=[round(x, 2) for x in ray_runs], bit_identical=equal,
                           over_local_percent=round(100 * (total / local_s - 1), 1),
                           over_local_percent_median=round(100 * ((float(np.median(ray_runs)) + start_s)
                                                                  / float(np.median(local_runs)) - 1), 1)),
                    record(name, label, "actor_peak_rss", round(max(m["peak_rss_mb"] for m in actor_memory), 1), "MB"),
                    record(name, label, "actor_uss", round(max(m["uss_mb"] for m in actor_memory), 1), "MB"),
                    record(name, label, "driver_peak_rss", round(memory.driver_peak, 1), "MB")]
    torch.set_num_threads(2)


def stage_train(name, dataset, candidates, records, steps, configs=((1, 2), (2, 1))) -> None:
    import torch

    from core.distributed.cluster import RayEngine
    from core.distributed.training import train_on_ray
    from core.model.config import ModelConfig
    from core.model.setup import build_setup
    from core.training.loop import TrainConfig, train

    setup = build_setup(dataset, ModelConfig())
    config = TrainConfig(epochs=1, seed=0, max_steps_per_epoch=steps)
    for threads in sorted({t for _, t in configs}):
        torch.set_num_threads(threads)
        result, local_s = timed(train, setup, ModelConfig(), config, candidates=candidates)
        epoch = result.history[0]
        records += [record(name, f"train 1 epoch x {steps} steps local ({threads} threads)", "seconds",
                           round(local_s, 2), "s", load_average_1min=load_average(),
                           epoch_seconds=round(epoch.seconds, 2), positives_per_s=round(epoch.positives_per_second, 1))]
        print(f"train local {threads} thread(s): {local_s:.1f}s wall, epoch {epoch.seconds:.1f}s = "
              f"{epoch.positives_per_second:.0f} pos/s (load {load_average()})", flush=True)
    torch.set_num_threads(2)
    for workers, threads in configs:
        result, ray_s = timed(train_on_ray, setup, ModelConfig(), config, candidates=candidates,
                              engine=RayEngine(workers=workers, threads_per_worker=threads))
        epoch = result.history[0]
        label = f"train 1 epoch x {steps} steps Ray {workers} worker(s) x {threads} thread(s)"
        print(f"{label}: {ray_s:.1f}s wall, epoch {epoch.seconds:.1f}s = {epoch.positives_per_second:.0f} pos/s, "
              f"worker peak RSS {max(result.worker_peak_rss_mb):.0f} MB (load {load_average()})", flush=True)
        records += [record(name, label, "seconds", round(ray_s, 2), "s", load_average_1min=load_average(),
                           epoch_seconds=round(epoch.seconds, 2), positives_per_s=round(epoch.positives_per_second, 1)),
                    record(name, label, "worker_peak_rss", round(max(result.worker_peak_rss_mb), 1), "MB")]


def stage_quality(records, epochs: int, seeds: list[int]) -> None:
    import torch

    from core.blocking.name_blocking import BlockingConfig, block
    from core.data.links import Split
    from core.demo.movies import generate_movie_pair
    from core.distributed.cluster import RayEngine
    from core.distributed.training import train_on_ray
    from core.evaluation.harness import evaluate
    from core.model.config import ModelConfig
    from core.model.setup import build_setup
    from core.training.loop import TrainConfig, train

    dataset = generate_movie_pair(300, seed=0).dataset
    candidates, _ = block(dataset, BlockingConfig(top_k=20))
    setup = build_setup(dataset, ModelConfig())
    torch.set_num_threads(2)
    for method in ("local", "ray-2-workers"):
        for seed in seeds:
            config = TrainConfig(epochs=epochs, seed=seed)
            if method == "local":
                result, seconds = timed(train, setup, ModelConfig(), config, candidates=candidates)
            else:
                result, seconds = timed(train_on_ray, setup, ModelConfig(), config, candidates=candidates,
                                        engine=RayEngine(workers=2, threads_per_worker=1))
            valid = evaluate(dataset, candidates, result.scorer, split=Split.VALID).overall.pr_auc
            test = evaluate(dataset, candidates, result.scorer, split=Split.TEST).overall.pr_auc
            print(f"quality {method} seed {seed}: valid PRAUC {valid:.4f} test PRAUC {test:.4f} ({seconds:.0f}s, "
                  f"load {load_average()})", flush=True)
            records += [record("demo_movies_scale_300", f"cg-mualign {method} {epochs} epochs", "valid_pr_auc",
                               round(valid, 4), "PRAUC", seed),
                        record("demo_movies_scale_300", f"cg-mualign {method} {epochs} epochs", "test_pr_auc",
                               round(test, 4), "PRAUC", seed, seconds=round(seconds, 1),
                               load_average_1min=load_average())]


def stage_costs(name, dataset, records) -> None:
    """Per-entity driver costs and per-left-row shard costs, on the largest aligned type."""
    import pickle

    from core.blocking.name_blocking import BlockingConfig, type_blocking_inputs
    from core.distributed.blocking import rank_shard

    sizes = [len(dataset.entities_of_aligned_type(t)[0]) for t in range(len(dataset.schema.types))]
    largest = int(np.argmax(sizes))
    shard = 5000
    for path, limit in (("exact", 10**18), ("sorted-neighbourhood", 0)):
        config = BlockingConfig(top_k=10, exact_pairs_limit=limit, n_threads=1)
        inputs, inputs_s = timed(type_blocking_inputs, dataset, largest, config)
        n = inputs.n_left + len(inputs.right_entities)
        size = len(pickle.dumps(inputs, protocol=5))
        _, shard_s = timed(rank_shard, inputs, 0, shard, config)
        print(f"costs {path}: type {dataset.schema.types[largest].name} {inputs.n_left:,} x "
              f"{len(inputs.right_entities):,}: driver inputs {1e6 * inputs_s / n:.1f} us/entity, "
              f"object store {size / n:.0f} B/entity, shard {1e3 * shard_s / shard:.3f} ms/left row "
              f"(load {load_average()})", flush=True)
        extra = {"type": dataset.schema.types[largest].name, "n_left": inputs.n_left,
                 "n_right": len(inputs.right_entities), "load_average_1min": load_average()}
        records += [record(name, f"block inputs on the driver ({path})", "us_per_entity", round(1e6 * inputs_s / n, 2),
                           "us", **extra),
                    record(name, f"block inputs in the object store ({path})", "bytes_per_entity", round(size / n), "B",
                           **extra),
                    record(name, f"block shard of {shard} left rows, 1 thread ({path})", "ms_per_left_row",
                           round(1e3 * shard_s / shard, 4), "ms", **extra)]
    from core.distributed.scoring import scoring_inputs

    scorer = untrained_scorer(dataset, 2)
    inputs = scoring_inputs(scorer)
    size = len(pickle.dumps(inputs, protocol=5))
    weights = sum(v.nbytes for v in inputs.state.values())
    n = dataset.left.n_entities + dataset.right.n_entities
    edges = dataset.left.n_triples + dataset.right.n_triples
    print(f"costs scoring inputs: {size / 2**20:.0f} MB in the object store for {n:,} entities and {edges:,} edges: "
          f"weights {weights / 2**20:.0f} MB, graphs and features {(size - weights) / n:.0f} B/entity", flush=True)
    records += [record(name, "scoring inputs in the object store: graphs and features", "bytes_per_entity",
                       round((size - weights) / n), "B", entities=n, edges=edges, total_mb=round(size / 2**20, 1)),
                record(name, "scoring inputs in the object store: model weights", "megabytes",
                       round(weights / 2**20, 1), "MB")]


# ------------------------------------------------------------------------------------ main ---
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=100_000, help="entities per side (demo movies)")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--max-pairs", type=int, default=400_000, help="candidates scored (0: all)")
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--quality-epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--stages", nargs="*", default=["overhead", "costs", "block", "score", "train", "quality"],
                        choices=["overhead", "costs", "block", "score", "train", "quality"])
    parser.add_argument("--score-configs", nargs="*", default=["1x2", "2x1"], metavar="WORKERSxTHREADS",
                        help="score stage: Ray actors x torch threads each (the local run uses the same threads)")
    parser.add_argument("--train-configs", nargs="*", default=["1x2", "2x1"], metavar="WORKERSxTHREADS",
                        help="train stage: Ray workers x torch threads each (local runs with each thread count)")
    parser.add_argument("--repeats", type=int, default=1, help="score stage: local/Ray runs alternated")
    parser.add_argument("--block-on-ray", action="store_true",
                        help="block a project not blocked yet on Ray (2 workers x 1 thread) rather than locally")
    parser.add_argument("--results", default="ray_engine")
    args = parser.parse_args()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from core.distributed.cluster import local_ray_options

    directory = ensure_project(args.entities)
    name = f"demo_movies_scale_{args.entities}"
    records: list[dict] = []
    _, init_s = timed(ray.init, **local_ray_options(os.cpu_count() or 2))
    try:
        dataset, candidates = blocked(directory, args.top_k, records, name, on_ray=args.block_on_ray)
        print(f"{directory}: {dataset.left.n_entities:,} + {dataset.right.n_entities:,} entities, "
              f"{len(candidates):,} candidates; load {load_average()}", flush=True)
        for stage in args.stages:
            if stage == "overhead":
                stage_overhead(name, dataset, candidates, records, init_s)
            elif stage == "costs":
                stage_costs(name, dataset, records)
            elif stage == "block":
                stage_block(name, dataset, records, args.top_k)
            elif stage == "score":
                configs = [tuple(int(x) for x in c.split("x")) for c in args.score_configs]
                stage_score(name, dataset, candidates, records, args.max_pairs, configs, args.repeats)
            elif stage == "train":
                configs = [tuple(int(x) for x in c.split("x")) for c in args.train_configs]
                stage_train(name, dataset, candidates, records, args.train_steps, configs)
            elif stage == "quality":
                stage_quality(records, args.quality_epochs, args.seeds)
            write_results(args.results, records)  # what is measured so far survives a stop
    finally:
        ray.shutdown()
    records.append(record(name, "driver", "peak_rss", round(peak_rss_mb(), 1), "MB", load_average_1min=load_average()))
    print(f"wrote {write_results(args.results, records)}", flush=True)


if __name__ == "__main__":
    main()
