"""The two optimisers training uses: Adam for the dense weights, row-wise ("lazy") Adam for the name table.

Both are plain classes over a list of parameters, not ``torch.optim.Optimizer`` subclasses. The
reason is start-up: torch's optimiser base class wraps ``add_param_group``, ``zero_grad`` and
``step`` in TorchDynamo guards, and the first call imports ``torch._dynamo``, which cost 2.4
CPU-seconds of every ``mualign train`` on 2 cores (DBLP-ACM: 6% of the whole pipeline) for a
compiler training never uses. The updates are torch's own, step for step (tests compare them
with ``torch.optim.Adam`` and ``torch.optim.SparseAdam``).

``torch.optim.SparseAdam`` computes LazyAdam's update (the moments of rows absent from a step's
gradient are left as they are), but on CPU it also does work proportional to the whole table:
measured on the 2^18 x 64 name table with ~14K touched rows, 53 ms per step against a few ms
here. LazyAdam gathers the touched rows' moments (kept side by side in one table, so one gather
and one scatter), updates them, and adds the step to the parameter's rows.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch


class _Optimiser:
    """The parameters, Adam's settings and ``zero_grad``: what both optimisers share."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None


class Adam(_Optimiser):
    """Adam (Kingma & Ba) on dense gradients: ``torch.optim.Adam``'s default update, without its machinery."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr, betas, eps)
        self.steps = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1 ** self.steps)
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** self.steps)
        for param, exp_avg, exp_avg_sq in zip(self.params, self.exp_avg, self.exp_avg_sq):
            if param.grad is None:  # torch skips such a parameter and leaves its moments as they are
                continue
            grad = param.grad
            if grad.is_sparse:
                raise RuntimeError("Adam expects dense gradients; use LazyAdam for a sparse embedding")
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)


class LazyAdam(_Optimiser):
    """Adam on the rows of a sparse (COO, one sparse dimension) gradient; the same update as SparseAdam.

    Each parameter counts its own steps (a step whose gradient touches no row is not one), as
    SparseAdam does.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr, betas, eps)
        self.steps = [0] * len(self.params)
        # per row: [first moment | second moment], so a step reads and writes both with one index op each
        self.moments = [torch.zeros((p.shape[0], 2 * p[0].numel()), dtype=p.dtype, device=p.device)
                        for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            if not param.grad.is_sparse:
                raise RuntimeError("LazyAdam expects sparse gradients (an embedding with sparse=True)")
            grad = param.grad.coalesce()  # one entry per row: the update is not linear in the gradient
            rows, values = grad.indices()[0], grad.values().reshape(grad.values().shape[0], -1)
            if rows.numel() == 0:
                continue
            self.steps[i] += 1
            step = self.steps[i]
            width = values.shape[1]
            # index_select / index_copy_ / index_add_, not ``t[rows]``: advanced indexing is slower on CPU
            moments = self.moments[i].index_select(0, rows)
            exp_avg, exp_avg_sq = moments[:, :width], moments[:, width:]
            exp_avg.mul_(beta1).add_(values, alpha=1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(values, values, value=1 - beta2)
            self.moments[i].index_copy_(0, rows, moments)
            step_size = self.lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
            update = exp_avg.div(exp_avg_sq.sqrt().add_(self.eps)).mul_(-step_size)
            param.view(param.shape[0], -1).index_add_(0, rows, update)  # rows are unique after coalesce
