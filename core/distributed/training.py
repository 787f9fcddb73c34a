"""Data-parallel training of CG-MuAlign with Ray Train (``TorchTrainer``, gloo on CPU).

Each of N workers runs the project's own training loop (:mod:`core.training.loop`) on its share
of every step, and the workers average their gradients before each optimiser step, so all N
replicas take the same step and stay identical without ever sending weights:

- **the batch**: a step's ``batch_size`` positives are split among the workers (each trains on a
  disjoint 1/N of the TRAIN links per epoch, ``batch_size / N`` per step), so the global batch,
  the learning rate and the number of steps per epoch are the single-process run's; each worker
  draws its own negatives and neighbour samples (its own random stream);
- **dense parameters** (layers, attention, projections: small): their gradients go through one
  ``all_reduce`` of a flat buffer and are divided by N (what DDP does). A parameter no worker
  touched keeps no gradient, as in a single process, so Adam skips it there too;
- **the name-embedding table** (2^18 x 64 by default; a step touches a few thousand rows): its
  gradient is sparse. Each worker coalesces its rows, the (row ids, row values) pairs of all
  workers are ``all_gather``-ed (padded to the longest), and every worker builds the same averaged
  sparse gradient from them in rank order. Each then applies the same row-wise :class:`LazyAdam`
  update: only rows some worker touched move, exactly as with one process and the whole batch.
  An all-reduce of the dense table would send 64 MB per step instead of ~4 MB;
- **validation** after each epoch: each worker scores every N-th VALID pair, the scores are
  gathered, and every worker computes the same PR-AUC, so early stopping decides alike everywhere.

Rank 0 hands the best weights and the history to a small actor owned by the driver, which then
builds the trained scorer (calibrated on VALID as locally) from the driver's own setup. A worker
that dies makes Ray Train restart the group (``FailureConfig(max_failures)``) from the start:
every draw is seeded, so the rerun trains the same model.
"""

from __future__ import annotations

import resource
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from core.data.candidates import CandidatePairs
from core.distributed.cluster import RayEngine, check_capacity
from core.model.setup import EncoderSetup
from core.scoring.model_scorer import ModelScorer
from core.training import loop
from core.training.loop import EpochStats, TrainConfig, TrainResult


# ------------------------------------------------------------------ gradient averaging --------
def sparse_parameters(modules) -> set[int]:
    """ids of the weights of embeddings with ``sparse=True`` (their gradients are sparse rows)."""
    from torch import nn

    return {id(m.weight) for module in modules if module is not None for m in module.modules()
            if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse}


def average_dense_gradients(params: list, world: int) -> None:
    """Mean of each dense gradient over the workers; None where no worker had one."""
    import torch
    import torch.distributed as dist

    if not params:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
                     + [torch.tensor([float(p.grad is not None) for p in params])])
    dist.all_reduce(flat)
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).div_(world).clone()
        offset += n
    for p, present in zip(params, flat[offset:]):
        if present == 0:
            p.grad = None


def average_sparse_gradient(param, world: int) -> None:
    """Mean over the workers of a sparse (row) gradient, gathered as (row ids, rows), in rank order."""
    import torch
    import torch.distributed as dist

    if param.grad is not None:
        grad = param.grad.coalesce()
        rows, values = grad.indices()[0], grad.values()
    else:
        rows, values = torch.zeros(0, dtype=torch.long), param.new_zeros((0, param.shape[1]))
    sizes = [torch.zeros(1, dtype=torch.long) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([len(rows)]))
    longest = int(max(s.item() for s in sizes))
    padded_rows = torch.zeros(longest, dtype=torch.long)
    padded_rows[:len(rows)] = rows
    padded_values = param.new_zeros((longest, param.shape[1]))
    padded_values[:len(rows)] = values
    all_rows = [torch.empty_like(padded_rows) for _ in range(world)]
    all_values = [torch.empty_like(padded_values) for _ in range(world)]
    dist.all_gather(all_rows, padded_rows)
    dist.all_gather(all_values, padded_values)
    rows = torch.cat([r[:int(s.item())] for r, s in zip(all_rows, sizes)])
    values = torch.cat([v[:int(s.item())] for v, s in zip(all_values, sizes)])
    param.grad = None if len(rows) == 0 else torch.sparse_coo_tensor(
        rows.unsqueeze(0), values.div_(world), param.shape).coalesce()


class AveragedOptimiser:
    """The loop's optimiser, stepping on gradients averaged over all workers (see the module docstring)."""

    def __init__(self, optimiser, modules: list, world: int):
        sparse = sparse_parameters(modules)
        params = [p for m in modules if m is not None for p in m.parameters()]
        self.inner, self.world = optimiser, world
        self.dense = [p for p in params if id(p) not in sparse]
        self.sparse = [p for p in params if id(p) in sparse]

    def zero_grad(self) -> None:
        self.inner.zero_grad()

    def step(self) -> None:
        average_dense_gradients(self.dense, self.world)
        for param in self.sparse:
            average_sparse_gradient(param, self.world)
        self.inner.step()


@dataclass(eq=False)
class GatheringScorer:
    """Scores every ``world``-th pair on this worker and gathers the rest: all workers get all scores."""

    scorer: ModelScorer
    rank: int
    world: int

    def score_pairs(self, left: np.ndarray, right: np.ndarray, types: np.ndarray | None = None) -> np.ndarray:
        import torch.distributed as dist

        mine = self.scorer.score_pairs(left[self.rank::self.world], right[self.rank::self.world])
        shares: list = [None] * self.world
        dist.all_gather_object(shares, mine)
        scores = np.empty(len(left), dtype=np.float64)
        for rank, share in enumerate(shares):
            scores[rank::self.world] = share
        return scores


@dataclass(eq=False)
class ShardedValidation:
    """The loop's validation pairs, scored a share per worker (:class:`GatheringScorer`)."""

    pairs: object  # core.training.loop.ValidationPairs
    rank: int
    world: int

    def __getattr__(self, name):  # left, right, labels, has_both_labels: the whole set's
        return getattr(self.pairs, name)

    def pr_auc(self, scorer: ModelScorer) -> float | None:
        return self.pairs.pr_auc(GatheringScorer(scorer, self.rank, self.world))


# ------------------------------------------------------------------------- the worker ---------
def worker_share(n_links: int, rank: int, world: int, seed: int) -> np.ndarray:
    """This worker's 1/N of the TRAIN links (positions), the same split on every worker."""
    return np.sort(np.random.default_rng(seed).permutation(n_links)[rank::world])


def data_parallel_training(setup: EncoderSetup, model_config, config: TrainConfig,
                           candidates: CandidatePairs | None, rank: int, world: int):
    """The loop's training run, adapted to be one of ``world`` data-parallel workers.

    Each worker steps through its own share with ``batch_size / world`` positives per step, all
    workers for the same number of steps (the smallest share's), on averaged gradients.
    """
    import torch
    import torch.distributed as dist

    per_worker = max(1, config.batch_size // world)
    n_links = len(loop.training_links(setup))
    share = worker_share(n_links, rank, world, config.seed)
    steps = int(np.ceil((n_links // world) / per_worker)) or 1
    if config.max_steps_per_epoch:
        steps = min(steps, config.max_steps_per_epoch)
    # the learning rate is the whole step's (its batch is the global one), not rescaled for the share
    worker_config = replace(config, batch_size=per_worker, max_steps_per_epoch=steps,
                            learning_rate=config.step_learning_rate, lr_scaling="none")
    training = loop._Training(setup, model_config, worker_config, candidates, torch.device("cpu"))
    training.step_threads = None  # each worker's threads are the engine's share of the cores (train_worker)
    for param in list(training.model.parameters()) + (list(training.head.parameters()) if training.head else []):
        dist.broadcast(param.data, src=0)  # the same start everywhere, whatever each seeded
    training.links = training.links.select(share)
    training.rng = np.random.default_rng([config.seed, rank])
    # labelled non-matches per step were computed for this worker's smaller batch: ~1/N each
    training.optimiser = AveragedOptimiser(training.optimiser, [training.model, training.head], world)
    if training.valid is not None:
        training.valid = ShardedValidation(training.valid, rank, world)
    return training


class ResultBox:
    """A driver-owned actor that rank 0 hands its results to (it outlives the training workers)."""

    def __init__(self):
        self.epochs: list[EpochStats] = []
        self.result: dict | None = None

    def add_epoch(self, stats: EpochStats) -> None:
        self.epochs.append(stats)

    def put(self, result: dict) -> None:
        self.result = result

    def get(self) -> tuple[list[EpochStats], dict | None]:
        return self.epochs, self.result


def train_worker(config: dict) -> None:
    """Ray Train's loop per worker: train, then rank 0 sends the best weights to the box."""
    import ray
    import ray.train
    import torch

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.set_num_threads(config["threads"])
    train_config: TrainConfig = config["train_config"]
    torch.use_deterministic_algorithms(train_config.deterministic)
    torch.utils.deterministic.fill_uninitialized_memory = False
    setup, candidates = ray.get(config["setup"]), ray.get(config["candidates"])
    training = data_parallel_training(setup, config["model_config"], train_config, candidates, rank, world)
    box = config["box"]

    def on_epoch(stats: EpochStats) -> None:  # rank 0's positives per second, times the equal shares
        ray.get(box.add_epoch.remote(replace(stats, positives_per_second=stats.positives_per_second * world)))

    result = training.run(None, on_epoch if rank == 0 else None)
    checksum = float(sum(p.double().sum() for p in training.model.parameters()))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gathered: list = [None] * world
    torch.distributed.all_gather_object(gathered, (checksum, peak_mb))
    if rank == 0:
        ray.get(box.put.remote({
            "state": {k: v.detach().cpu().numpy() for k, v in result.model.state_dict().items()},
            "best_epoch": result.best_epoch, "best_valid_pr_auc": result.best_valid_pr_auc,
            "calibration": result.scorer.calibration, "seconds": result.seconds,
            "replica_checksums": [g[0] for g in gathered], "worker_peak_rss_mb": [g[1] for g in gathered]}))


# ------------------------------------------------------------------------- the driver ---------
@dataclass(eq=False)
class RayTrainResult(TrainResult):
    """:class:`TrainResult` plus what only a distributed run has."""

    workers: int = 1
    replica_checksums: list | None = None  # the sum of every weight on each worker: all equal
    worker_peak_rss_mb: list | None = None  # each worker process's peak resident memory


def train_on_ray(setup: EncoderSetup, model_config, config: TrainConfig, *, candidates: CandidatePairs | None = None,
                 on_step: Callable | None = None, on_epoch: Callable[[EpochStats], None] | None = None,
                 engine: RayEngine | None = None) -> RayTrainResult:
    """:func:`core.training.loop.train` on ``engine.workers`` Ray Train workers (data parallel).

    Same signature and result as the local function (``on_step`` is not called: steps run on the
    workers; ``on_epoch`` is, from the driver, as epochs finish). Needs a connected Ray.
    """
    import ray
    import torch
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    engine = engine or RayEngine()
    if config.batch_size < engine.workers:
        raise ValueError(f"batch_size {config.batch_size} is smaller than the {engine.workers} workers it is split among")
    if len(loop.training_links(setup)) < engine.workers:
        raise ValueError(f"fewer TRAIN links ({len(loop.training_links(setup))}) than workers ({engine.workers})")
    check_capacity(engine)
    threads = engine.worker_threads()
    box = ray.remote(ResultBox).options(num_cpus=0).remote()
    worker_config = {"setup": ray.put(setup), "candidates": ray.put(candidates), "model_config": model_config,
                     "train_config": config, "threads": threads, "box": box}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mualign-ray-train-") as storage:
        trainer = TorchTrainer(
            train_worker, train_loop_config=worker_config, torch_config=TorchConfig(backend="gloo"),
            scaling_config=ScalingConfig(num_workers=engine.workers, use_gpu=False,
                                         resources_per_worker={"CPU": threads}),
            run_config=RunConfig(name="mualign-train", storage_path=storage,
                                 failure_config=FailureConfig(max_failures=engine.retries)))
        relay = EpochRelay(box, on_epoch)
        relay.start()
        try:
            trainer.fit()
        finally:
            relay.stop()
    epochs, payload = ray.get(box.get.remote())
    if payload is None:
        raise RuntimeError("Ray training ended without a result from worker 0")
    model = setup.new_model(model_config)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in payload["state"].items()})
    scorer = ModelScorer(model, setup, seed=config.seed, calibration=payload["calibration"])
    result = RayTrainResult(model, scorer, list(epochs), payload["best_epoch"], payload["best_valid_pr_auc"],
                            time.perf_counter() - start, workers=engine.workers,
                            replica_checksums=payload["replica_checksums"],
                            worker_peak_rss_mb=payload["worker_peak_rss_mb"])
    ray.kill(box)
    return result


class EpochRelay:
    """Calls ``on_epoch`` on the driver for each epoch rank 0 reports, while the workers train."""

    def __init__(self, box, on_epoch: Callable[[EpochStats], None] | None, every_s: float = 1.0):
        self.box, self.on_epoch, self.every_s = box, on_epoch, every_s
        self.seen = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def start(self) -> None:
        if self.on_epoch:
            self.thread.start()

    def stop(self) -> None:
        """Stop polling and pass on the epochs not relayed yet."""
        if not self.on_epoch:
            return
        self.done.set()
        self.thread.join()
        self._relay()

    def _poll(self) -> None:
        while not self.done.wait(self.every_s):
            self._relay()

    def _relay(self) -> None:
        import ray

        epochs, _ = ray.get(self.box.get.remote())
        for stats in epochs[self.seen:]:
            self.on_epoch(stats)
        self.seen = len(epochs)
