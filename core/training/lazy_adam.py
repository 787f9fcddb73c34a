"""Adam for an embedding table whose gradient touches a few rows: only those rows are read or written.

``torch.optim.SparseAdam`` computes the same update ("lazy" Adam: the moments of rows absent from
a step's gradient are left as they are), but on CPU it also does work proportional to the whole
table: measured on the 2^18 x 64 name table with ~14K touched rows, 53 ms per step, against
about 1 ms here, a quarter of a training step on 2 cores. This optimiser gathers the touched
rows, updates them, and scatters them back.
"""

from __future__ import annotations

import math

import torch


class LazyAdam(torch.optim.Optimizer):
    """Adam on the rows of a sparse (COO, one sparse dimension) gradient; the same update as SparseAdam."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if not param.grad.is_sparse:
                    raise RuntimeError("LazyAdam expects sparse gradients (an embedding with sparse=True)")
                grad = param.grad.coalesce()  # one entry per row: the update is not linear in the gradient
                rows, values = grad.indices()[0], grad.values()
                if rows.numel() == 0:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                # index_select / index_copy_, not ``t[rows]``: advanced indexing is several times slower on CPU
                exp_avg = state["exp_avg"].index_select(0, rows).mul_(beta1).add_(values, alpha=1 - beta1)
                exp_avg_sq = state["exp_avg_sq"].index_select(0, rows).mul_(beta2).addcmul_(values, values,
                                                                                          value=1 - beta2)
                state["exp_avg"].index_copy_(0, rows, exp_avg)
                state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
                step_size = group["lr"] * math.sqrt(1 - beta2 ** state["step"]) / (1 - beta1 ** state["step"])
                update = exp_avg.div_(exp_avg_sq.sqrt_().add_(group["eps"])).mul_(step_size)
                param.index_copy_(0, rows, param.index_select(0, rows).sub_(update))  # rows are unique
        return loss
