"""Scoring throughput: blocked candidate pairs per second, and one pair with its attention.

    python bench/scoring_speed.py                   # demo movies, ~100K entities per side
    python bench/scoring_speed.py --device cuda     # on a GPU

Blocks the demo movie pair, trains the default model briefly (speed does not depend on the
weights), then scores every candidate with ``ModelScorer.score_pairs`` (the path `mualign score`
takes) at a few batch sizes, and times ``explain_pair`` (the forward pass with every neighbour's
alpha, beta and w that the review app draws) for single pairs. Target (issue 7): >= 5,000
candidate pairs/s on CPU. Writes bench/results/scoring_speed.json.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from _common import peak_rss_mb, record, write_results

from core.blocking.name_blocking import BlockingConfig, block
from core.demo.movies import generate_movie_pair
from core.model.setup import build_setup
from core.explanations.attention import explain_pair
from core.model.cg_mualign import ModelConfig
from core.training.loop import TrainConfig, train

ENTITIES_PER_FILM = 11.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=100_000, help="entities per side (demo movies)")
    parser.add_argument("--max-pairs", type=int, default=300_000, help="score at most this many candidates")
    parser.add_argument("--batches", type=int, nargs="*", default=[1024, 4096, 16384, 65536])
    parser.add_argument("--explain", type=int, default=30, help="single pairs explained")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--results", default="scoring_speed")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    dataset = generate_movie_pair(max(1, round(args.entities / ENTITIES_PER_FILM)), seed=0).dataset
    name = f"demo_movies_{dataset.left.n_entities}"
    candidates, _ = block(dataset, BlockingConfig(top_k=20))
    model_config = ModelConfig()
    setup = build_setup(dataset, model_config)
    result = train(setup, model_config, TrainConfig(epochs=1, max_steps_per_epoch=20, device=args.device))
    scorer = result.scorer
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu x{torch.get_num_threads()}"
    pick = np.random.default_rng(0).permutation(len(candidates))[: args.max_pairs]
    left, right = candidates.left[pick], candidates.right[pick]
    print(f"data: {dataset.left.n_entities:,} + {dataset.right.n_entities:,} entities, {len(candidates):,} candidates, "
          f"scoring {len(pick):,}; device {device_name}; load average {os.getloadavg()[0]:.2f}", flush=True)
    records = []
    best = 0.0
    for batch in args.batches:
        scorer.batch_size = batch
        load = os.getloadavg()[0]
        start, cpu = time.perf_counter(), time.process_time()
        scores = scorer.score_pairs(left, right)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rate = len(pick) / seconds
        best = max(best, rate)
        assert np.isfinite(scores).all()
        print(f"batch={batch} pairs_per_s={rate:,.0f} pairs_per_cpu_s={len(pick) / cpu:,.0f} seconds={seconds:.1f} "
              f"load={load:.2f}", flush=True)
        records.append(record(name, f"score_pairs batch={batch}", "pairs_per_s", round(rate, 1), "1/s", 0,
                              device=device_name, load_average_1min=round(load, 2),
                              pairs_per_cpu_second=round(len(pick) / cpu, 1), peak_rss_mb=round(peak_rss_mb())))
    times = []
    for i in range(args.explain):
        start = time.perf_counter()
        explain_pair(scorer, int(left[i]), int(right[i]))
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    print(f"explain_pair (one pair with alpha/beta/w and both neighbourhoods): median {median * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms")
    records.append(record(name, "explain_pair", "median_seconds", round(median, 4), "s", 0, device=device_name))
    print(f"best: {best:,.0f} candidate pairs/s (target >= 5,000 on CPU); peak RSS {peak_rss_mb():.0f} MB")
    records.append(record(name, "host", "load_average_1min", round(os.getloadavg()[0], 2), "load", None))
    write_results(args.results, records)


if __name__ == "__main__":
    main()
