"""Blocking on Ray: each aligned type's left entities in shards, each shard ranked by a task.

The driver builds one type's inputs as the local path does (:func:`type_blocking_inputs`: the
TF-IDF vocabulary and IDF need every name of both sides), puts them once into Ray's object store,
and starts one task per shard of left rows. A task reads the inputs zero-copy, slices its left
rows and ranks them against the whole right side (:func:`rank_left_rows`, the local code). Every
left row is ranked on its own, so the shards' rows, concatenated in shard order, are exactly the
local run's: same pairs, same scores, same order after the same final sort.

While the workers rank one type, the driver builds the next type's inputs. A task whose worker
dies is run again (``RayEngine.retries``); its shard's result does not depend on where it ran.
"""

from __future__ import annotations

import time

import numpy as np
from dataclasses import replace

from core.blocking.config import BlockingConfig
from core.blocking.name_blocking import (TypeBlockingInputs, add_other_sources, forget_name_vectors, rank_left_rows,
                                         type_blocking_inputs, type_candidates)
from core.blocking.report import BlockingReport
from core.data.candidates import CandidatePairs
from core.data.dataset import AlignmentDataset
from core.distributed.cluster import RayEngine, check_capacity, shard_bounds


def rank_shard(inputs: TypeBlockingInputs, start: int, stop: int, config: BlockingConfig
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left row within the type, right row, cosine) of left rows ``start:stop``: one task's work."""
    rows, cols, scores = rank_left_rows(inputs.left_shard(start, stop), config)
    return rows + start, cols, scores


def block_on_ray(dataset: AlignmentDataset, config: BlockingConfig | None = None, engine: RayEngine | None = None,
                 *, embeddings: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[CandidatePairs, BlockingReport]:
    """:func:`core.blocking.name_blocking.block` with each type's shards ranked by Ray tasks.

    ``embeddings`` (a trained model's per-entity vectors) add the embedding source, on the driver.

    Needs a connected Ray (:func:`core.distributed.cluster.ray_session`). The stats' seconds are
    wall time from the type's inputs to its last shard's result.
    """
    import ray

    config = config or BlockingConfig()
    engine = engine or RayEngine()
    check_capacity(engine, all_at_once=False)
    threads = engine.worker_threads()
    task = ray.remote(rank_shard).options(num_cpus=threads, max_retries=engine.retries)
    shard_config = replace(config, n_threads=threads)
    gold = dataset.gold_pairs()

    def submit(type_index: int):
        start = time.perf_counter()
        inputs = type_blocking_inputs(dataset, type_index, config)
        ref = ray.put(inputs)
        bounds = shard_bounds(inputs.n_left, engine.workers * engine.shards_per_worker)
        return start, inputs, [task.remote(ref, a, b, shard_config) for a, b in bounds]

    def collect(start, inputs, futures):
        results = ray.get(futures)
        rows, cols, scores = (np.concatenate([r[i] for r in results]) if results else np.zeros(0, dtype=dtype)
                              for i, dtype in ((0, np.int64), (1, np.int64), (2, np.float32)))
        return type_candidates(dataset, inputs, rows, cols, scores, time.perf_counter() - start, gold)

    # One type ahead: the driver builds type t+1's inputs while the workers rank type t, and at
    # most two types' vectors are held at a time (driver and object store).
    parts, stats, previous = [], [], None
    for type_index in range(len(dataset.schema.types)):
        current = submit(type_index)
        if previous is not None:
            pairs, type_stats = collect(*previous)
            parts.append(pairs)
            stats.append(type_stats)
        previous = current
    if previous is not None:
        pairs, type_stats = collect(*previous)
        parts.append(pairs)
        stats.append(type_stats)
    # the other sources (structure) are computed on the driver, as the local path does
    try:
        return add_other_sources(dataset, CandidatePairs.concat(parts), BlockingReport(tuple(stats), config),
                                 embeddings=embeddings)
    finally:
        forget_name_vectors()
