"""Where the distributed stages run: a Ray cluster to join, or a local Ray started for one command.

A command given ``--address`` joins that cluster (started beforehand with ``ray start --head`` and
``ray start --address``, see the README "Running on a cluster") and leaves it running afterwards.
Without an address it starts Ray inside this process for the length of the command, bound to
127.0.0.1, without the dashboard, and with usage statistics off, so nothing leaves the machine.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: Actor restarts and task retries after a worker dies (killed, out of memory, its node lost).
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class RayEngine:
    """How a command uses Ray.

    ``threads_per_worker`` is torch's (and the blocking product's) thread count inside each worker;
    None takes the driver's torch thread count, which is what makes scores bit-identical to a local
    run on the same kind of CPU (float sums are split differently on another thread count).
    """

    address: str | None = None  # None: a local Ray for this command only
    workers: int = 2
    threads_per_worker: int | None = None
    retries: int = DEFAULT_RETRIES
    shards_per_worker: int = 4  # blocking: left shards per worker and type (evens out uneven shards)
    batches_per_task: int = 16  # scoring: scorer batches handed to an actor at a time

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.threads_per_worker is not None and self.threads_per_worker < 1:
            raise ValueError(f"threads_per_worker must be >= 1, got {self.threads_per_worker}")
        if self.retries < 0 or self.shards_per_worker < 1 or self.batches_per_task < 1:
            raise ValueError("retries must be >= 0, shards_per_worker and batches_per_task >= 1")

    def worker_threads(self) -> int:
        if self.threads_per_worker is not None:
            return self.threads_per_worker
        import torch

        return torch.get_num_threads()


def local_ray_options(num_cpus: int) -> dict:
    """``ray.init`` arguments for a Ray that lives in this process and never leaves 127.0.0.1."""
    return {"num_cpus": num_cpus, "include_dashboard": False, "log_to_driver": False,
            "_node_ip_address": "127.0.0.1", "logging_level": logging.WARNING}


@contextmanager
def ray_session(engine: RayEngine) -> Iterator[RayEngine]:
    """Connect Ray as ``engine`` says (a Ray already connected is reused) and yield ``engine``.

    A local Ray is given enough logical CPUs for every worker (``workers * threads``) even on a
    smaller machine: Ray would otherwise wait for CPUs that never come; the threads then share
    the cores, which costs speed, not correctness.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        yield engine
        return
    if engine.address:
        ray.init(address=engine.address, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(**local_ray_options(max(os.cpu_count() or 1, engine.workers * engine.worker_threads())))
    try:
        yield engine
    finally:
        ray.shutdown()


def check_capacity(engine: RayEngine, *, all_at_once: bool = True) -> None:
    """Refuse, with what to change, a job whose workers cannot all run at once on the cluster.

    Ray would otherwise wait, silently and for ever, for CPUs that never come (a scoring actor that
    cannot be placed holds on to the chunks queued for it). Tasks (``all_at_once=False``) only
    need one worker's threads to fit: the others queue.
    """
    import ray

    wanted = engine.worker_threads() * (engine.workers if all_at_once else 1)
    available = ray.cluster_resources().get("CPU", 0)
    if wanted > available:
        raise ValueError(f"{engine.workers} Ray workers x {engine.worker_threads()} threads need {wanted} CPUs, "
                         f"the cluster has {available:g}: give fewer --workers or --threads, or add nodes "
                         "(`ray start --address ...`)")


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous (start, stop) ranges covering ``range(n)``, sizes differing by at most 1."""
    shards = max(1, min(shards, n))
    edges = [round(i * n / shards) for i in range(shards + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def aligned_chunks(n: int, batch_size: int, batches_per_chunk: int) -> list[tuple[int, int]]:
    """(start, stop) chunks of ``range(n)`` that start on multiples of ``batch_size``.

    A chunk scored batch by batch then splits into exactly the batches a local run makes, so each
    pair is computed in the same batch, with the same float sums, as locally.
    """
    step = batch_size * batches_per_chunk
    return [(start, min(start + step, n)) for start in range(0, n, step)]
