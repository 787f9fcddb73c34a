"""Scoring on Ray: candidate pairs in chunks through actors that hold the model and both graphs once.

What travels: the two prepared graphs (CSR adjacency, sampling weights, hashed name n-grams,
dense features: numpy and scipy arrays only), the feature spec, the vocabulary and the weights
are put into Ray's object store once (:class:`ScoringInputs`). Each actor reads them from there
zero-copy (numpy arrays backed by the node's shared memory, one copy per node however many actors
it runs) and keeps a private copy of the weights only. Scoring is layer-wise
(:mod:`core.scoring.layerwise`): the driver computes the job's lower-layer tables once (every node
the pairs' top layers read) and puts them in the store too; chunks of candidate pairs (two int64
arrays) go out, each actor runs the top layer on its chunk, distances (float64) come back.

Scores are bit-identical to a local run. Sampling is keyed per edge by the scorer's seed, so a
pair's neighbourhood does not depend on its batch; its float sums do (a matrix product of 1,000
rows is summed in another order than one of 333), and so does torch's thread count. Chunks
therefore start on multiples of the scorer's batch size (:func:`aligned_chunks`), so an actor
scoring its chunk batch by batch makes exactly the local run's batches, and each actor runs as
many torch threads as the driver (``RayEngine.threads_per_worker``).

Faults: actors restart after they die (``max_restarts``) and a chunk in flight on a dead actor
is sent again (``max_task_retries``); a chunk's distances do not depend on which actor or which
attempt computed them, so the job ends with the same table. The table itself is written only
after every chunk is back, through the existing atomic write (:mod:`core.project.score_table`).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.distributed.cluster import RayEngine, aligned_chunks, check_capacity
from core.features.entity_features import FeatureSpec
from core.features.vocabulary import Vocabulary
from core.model.device import torch_threads
from core.model.setup import EncoderSetup
from core.sampling.blocks import PreparedGraph
from core.scoring.model_scorer import ModelScorer

#: Chunks in flight per actor: one being scored, one waiting, so an actor never idles on the driver.
IN_FLIGHT_PER_ACTOR = 2


@dataclass(frozen=True, eq=False)
class ScoringInputs:
    """Everything a scoring actor needs besides the pairs, in numpy: put in the object store once."""

    spec: FeatureSpec
    vocabulary: Vocabulary
    left: PreparedGraph
    right: PreparedGraph
    model_config: object  # core.model ModelConfig
    state: dict  # parameter name -> numpy array
    batch_size: int
    seed: int


def scoring_inputs(scorer: ModelScorer) -> ScoringInputs:
    """The scorer's model and graphs as :class:`ScoringInputs` (weights copied to numpy, on the CPU)."""
    state = {k: v.detach().cpu().numpy() for k, v in scorer.model.state_dict().items()}
    setup = scorer.setup
    return ScoringInputs(setup.spec, setup.vocabulary, setup.left, setup.right, scorer.model.config, state,
                         scorer.batch_size, scorer.seed)


def scorer_from_inputs(inputs: ScoringInputs) -> ModelScorer:
    """A :class:`ModelScorer` equal to the one :func:`scoring_inputs` was taken from (no dataset)."""
    import torch

    setup = EncoderSetup(None, inputs.spec, inputs.vocabulary, inputs.left, inputs.right, None, None)
    model = setup.new_model(inputs.model_config)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in inputs.state.items()})
    return ModelScorer(model, setup, batch_size=inputs.batch_size, seed=inputs.seed)


class ScoringWorker:
    """A Ray actor's state: one scorer, built once from the shared inputs."""

    def __init__(self, inputs: ScoringInputs, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.scorer = scorer_from_inputs(inputs)

    def distances(self, tables, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Distances of a chunk of pairs from the job's lower-layer tables ((nodes, h) numpy pairs)."""
        import warnings

        import torch

        from core.scoring.layerwise import LowerTable

        with warnings.catch_warnings():  # the object store's arrays are read-only; nothing writes them
            warnings.simplefilter("ignore", UserWarning)
            lower = tuple(LowerTable(nodes, torch.from_numpy(h)) for nodes, h in tables)
        return self.scorer.distances_from_tables(lower, left, right)

    def pid(self) -> int:
        return os.getpid()

    def memory(self) -> dict:
        """This worker process's memory in MB: peak RSS, current RSS, and USS (pages only it holds)."""
        import psutil

        info = psutil.Process().memory_full_info()
        return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_mb": info.rss / 2**20, "uss_mb": info.uss / 2**20}


class ScoringPool:
    """``engine.workers`` scoring actors over one model; :meth:`distances` spreads chunks among them.

    Needs a connected Ray (:func:`core.distributed.cluster.ray_session`). The inputs stay in the
    object store as long as the pool lives, so a restarted actor can rebuild itself from them.
    """

    def __init__(self, scorer: ModelScorer, engine: RayEngine):
        import ray

        check_capacity(engine)
        self.engine, self.scorer = engine, scorer
        self.batch_size = scorer.batch_size
        self.inputs = ray.put(scoring_inputs(scorer))
        actor = ray.remote(ScoringWorker).options(num_cpus=engine.worker_threads(), max_restarts=engine.retries,
                                                  max_task_retries=engine.retries)
        self.actors = [actor.remote(self.inputs, engine.worker_threads()) for _ in range(engine.workers)]

    def distances(self, left: np.ndarray, right: np.ndarray,
                  on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Distance of every pair, as :meth:`ModelScorer.distances` computes it locally.

        ``on_progress(pairs done, pairs in all)`` is called on the driver as each chunk comes back.
        """
        import ray

        left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
        if not len(left):
            return np.zeros(0, dtype=np.float64)
        # the layers below the top once per node, here, with the actors' thread count (so the same bits as
        # a local run with those threads); every actor reads the tables from the object store
        with torch_threads(self.engine.worker_threads()):
            tables = self.scorer.pair_tables(left, right)
        tables = ray.put(tuple((table.nodes, table.h.cpu().numpy()) for table in tables))
        chunks = aligned_chunks(len(left), self.batch_size, self.engine.batches_per_task)
        out = np.zeros(len(left), dtype=np.float64)
        waiting = list(range(len(chunks)))[::-1]  # popped from the end: chunk 0 first
        in_flight: dict = {}

        def submit(actor) -> None:
            index = waiting.pop()
            start, stop = chunks[index]
            in_flight[actor.distances.remote(tables, left[start:stop], right[start:stop])] = (index, actor)

        for _ in range(IN_FLIGHT_PER_ACTOR):
            for actor in self.actors:
                if waiting:
                    submit(actor)
        done = 0  # pairs
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            index, actor = in_flight.pop(ready[0])
            start, stop = chunks[index]
            out[start:stop] = ray.get(ready[0])
            done += stop - start
            if on_progress:
                on_progress(done, len(left))
            if waiting:
                submit(actor)
        return out

    def memory(self) -> list[dict]:
        """Each actor's :meth:`ScoringWorker.memory`."""
        import ray

        return ray.get([a.memory.remote() for a in self.actors])

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []


@dataclass(eq=False)
class RayScorer:
    """A :class:`ModelScorer` whose distances are computed on Ray; everything else is the scorer's.

    It fits wherever a scorer of candidates is expected (:func:`core.project.score_table.model_scores`,
    hence ``score_candidates`` and its atomic write of the score table).
    """

    scorer: ModelScorer
    engine: RayEngine
    on_progress: Callable[[int, int], None] | None = None  # (pairs done, pairs in all), on the driver

    @property
    def name(self) -> str:
        return self.scorer.name

    @property
    def calibration(self):
        return self.scorer.calibration

    def distances(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        pool = ScoringPool(self.scorer, self.engine)
        try:
            return pool.distances(left, right, self.on_progress)
        finally:
            pool.close()

    def score_pairs(self, left: np.ndarray, right: np.ndarray, types: np.ndarray | None = None) -> np.ndarray:
        return -self.distances(left, right)

    def probability_of_score(self, scores: np.ndarray) -> np.ndarray:
        return self.scorer.probability_of_score(scores)
