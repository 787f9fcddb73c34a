"""The optimisers and the name-embedding gradient: the fast paths compute what the library paths compute."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.training.optimisers import Adam, LazyAdam
from core.model.inputs import _BagSum, _transposed_bags


def _sparse_steps(optimiser_class, steps: int = 6) -> torch.Tensor:
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(50, 4))
    optimiser = optimiser_class([weight], lr=0.05)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        rows = torch.from_numpy(rng.integers(0, 50, 12))  # repeated rows: the gradient must be coalesced
        loss = (F.embedding(rows, weight, sparse=True) ** 2).sum() + F.embedding(rows[:3], weight, sparse=True).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return weight.detach()


def test_lazy_adam_matches_torch_sparse_adam():
    torch.testing.assert_close(_sparse_steps(LazyAdam), _sparse_steps(torch.optim.SparseAdam), rtol=1e-5, atol=1e-6)


def _dense_steps(optimiser_class, steps: int = 6) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    frozen = torch.nn.Parameter(torch.ones(3))  # never in the loss: no gradient, left as it is
    optimiser = optimiser_class([*model.parameters(), frozen], lr=0.05)
    x, y = torch.randn(16, 5), torch.randn(16, 1)
    for _ in range(steps):
        optimiser.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        optimiser.step()
    return [p.detach() for p in [*model.parameters(), frozen]]


def test_adam_matches_torch_adam_step_for_step():
    ours, torchs = _dense_steps(Adam), _dense_steps(torch.optim.Adam)
    assert not torch.equal(ours[0], _dense_steps(Adam, steps=0)[0])  # the weights moved
    for a, b in zip(ours, torchs):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_training_does_not_import_the_torch_compiler():
    """torch.optim's base class imports torch._dynamo on first use (2.4 CPU-s); ours must not."""
    import subprocess
    import sys

    code = ("import sys, torch; from core.training.optimisers import Adam, LazyAdam\n"
            "w = torch.nn.Parameter(torch.ones(4, 2)); e = torch.nn.Parameter(torch.ones(4, 2))\n"
            "a, b = Adam([w]), LazyAdam([e])\n"
            "loss = (w ** 2).sum() + torch.nn.functional.embedding(torch.tensor([1]), e, sparse=True).sum()\n"
            "a.zero_grad(); b.zero_grad(); loss.backward(); a.step(); b.step()\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lazy_adam_leaves_untouched_rows_alone_and_refuses_dense_gradients():
    weight = torch.nn.Parameter(torch.ones(5, 2))
    optimiser = LazyAdam([weight], lr=0.1)
    F.embedding(torch.tensor([1, 3]), weight, sparse=True).sum().backward()
    optimiser.step()
    assert torch.equal(weight.detach()[[0, 2, 4]], torch.ones(3, 2))
    assert (weight.detach()[[1, 3]] < 1).all()
    dense = torch.nn.Parameter(torch.ones(2))
    dense.sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        LazyAdam([dense]).step()
    with pytest.raises(RuntimeError, match="dense gradients"):
        weight.grad = None
        F.embedding(torch.tensor([1]), weight, sparse=True).sum().backward()
        Adam([weight]).step()


def test_bag_sum_gradient_equals_embedding_bag_gradient():
    rng = np.random.default_rng(0)
    lengths = np.array([3, 0, 5, 1])  # an empty name included
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    lookup = rng.integers(0, 6, indptr[-1])
    weights = rng.random(indptr[-1]).astype(np.float32)
    offsets = torch.from_numpy(indptr[:-1].astype(np.int64))
    grad_out = torch.randn(len(lengths), 3)
    grads = []
    for fast in (True, False):
        table = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
        if fast:
            out = _BagSum.apply(table, torch.from_numpy(lookup), offsets, torch.from_numpy(weights),
                                _transposed_bags(indptr, lookup, weights, 6))
        else:
            out = F.embedding_bag(torch.from_numpy(lookup), table, offsets, mode="sum",
                                  per_sample_weights=torch.from_numpy(weights))
        out.backward(grad_out)
        grads.append((out.detach(), table.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])
