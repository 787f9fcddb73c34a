"""Data parallelism's arithmetic: two gloo workers, each on half a batch, take the one-process step.

No Ray here: two processes joined by torch.distributed (gloo, a file rendezvous) run
:class:`AveragedOptimiser` around the loop's Adam + LazyAdam on a model with a sparse embedding
table and a dense layer, and must end where one process taking the whole batch ends.
"""

from __future__ import annotations

import torch
import torch.multiprocessing as mp
from torch import nn

from core.distributed.training import AveragedOptimiser
from core.training.optimisers import Adam, LazyAdam

BATCH = torch.tensor([[1, 5], [5, 9], [2, 3], [7, 7]])  # row ids per example; row 5 in both halves
TARGET = torch.tensor([1.0, -1.0, 0.5, 2.0])


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.names = nn.Embedding(16, 4, sparse=True)
        self.out = nn.Linear(4, 1)
        self.unused = nn.Linear(4, 1)  # never in the loss: must keep no gradient, as in one process

    def loss(self, rows: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((self.out(self.names(rows).sum(1)).squeeze(1) - target) ** 2).mean()


class Optimiser:  # the loop's split: Adam for dense parameters, LazyAdam for the sparse table
    def __init__(self, model: Tiny):
        self.dense = Adam([p for n, p in model.named_parameters() if n != "names.weight"], lr=0.1)
        self.sparse = LazyAdam([model.names.weight], lr=0.1)

    def zero_grad(self):
        self.dense.zero_grad()
        self.sparse.zero_grad()

    def step(self):
        self.dense.step()
        self.sparse.step()


def steps(model: Tiny, optimiser, rows, target, n: int = 3) -> dict:
    for _ in range(n):
        optimiser.zero_grad()
        model.loss(rows, target).backward()
        optimiser.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker(rank: int, world: int, rendezvous: str, results) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    model = Tiny()
    optimiser = AveragedOptimiser(Optimiser(model), [model], world)
    half = slice(rank * 2, rank * 2 + 2)
    results[rank] = steps(model, optimiser, BATCH[half], TARGET[half])
    dist.destroy_process_group()


def test_two_workers_on_half_batches_take_the_whole_batch_step(tmp_path):
    torch.set_num_threads(1)
    model = Tiny()
    alone = steps(model, Optimiser(model), BATCH, TARGET)
    with mp.Manager() as manager:
        results = manager.dict()
        # fork: the children start at once, without importing torch and this module again
        mp.start_processes(_worker, args=(2, str(tmp_path / "rendezvous"), results), nprocs=2, join=True,
                           start_method="fork")
        first, second = dict(results[0]), dict(results[1])
    for key in alone:
        assert torch.equal(first[key], second[key]), key  # the replicas stay identical
        torch.testing.assert_close(first[key], alone[key], rtol=1e-5, atol=1e-6)
    assert torch.equal(first["unused.weight"], Tiny().state_dict()["unused.weight"])  # untouched, not decayed
