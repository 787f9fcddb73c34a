"""The lower layers (the paper's AverageAgg): Eqs. (1)-(4) of :mod:`core.model.layers`.

    (1) z_ij  = W_r h_j^{k-1}               j in N_i, r the relation that reached j
    (4) z_i   = mean_{j in N_i} z_ij        (0 when i has no sampled neighbour)
    (2) s_i   = W_self h_i^{k-1}
    (3) h_i^k = ReLU([s_i || z_i])

No attention here: the paper applies it in the top layer only (below it, attention adds cost and
little signal, as shared-neighbour evidence decays with hop distance). Every node the layer above
reads gets its own row, self term included (DESIGN.md section 4, trap 1): the block's destinations
are the first ``n_dst`` of its inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.model.layers.typed_linear import TypedLinear
from core.sampling.blocks import PaddedBlock


class AverageAggLayer(nn.Module):
    """h_i = ReLU([W_self h_i || mean_j W_r h_j]) for the destinations of one sampled block.

    Parameters
    ----------
    in_dim : length of h^{k-1}.
    out_dim : length of h^k (even: half self term, half neighbourhood).
    n_relations : matrices W_r (1: one for all relations, GraphSAGE).
    n_self : matrices W_self (the number of entity types at layer 1, else 1).
    """

    def __init__(self, in_dim: int, out_dim: int, n_relations: int, n_self: int):
        super().__init__()
        self.neighbour = TypedLinear(in_dim, out_dim // 2, n_relations)
        self.own = TypedLinear(in_dim, out_dim // 2, n_self)  # per type at layer 1

    def forward(self, h_src: torch.Tensor, block: PaddedBlock, dst_types: torch.Tensor) -> torch.Tensor:
        """h^k of the block's ``n_dst`` destinations, (n_dst, out_dim), from h^{k-1} of its inputs."""
        z_i = self.aggregate(self.message(h_src, block), block)
        return self.update(self.own(h_src[: block.n_dst], dst_types), z_i)

    def message(self, h_src: torch.Tensor, block: PaddedBlock) -> torch.Tensor:
        """Eq. (1) for every real slot of the block, in slot order: (n_slots, out_dim / 2)."""
        return self.neighbour(h_src.index_select(0, block.sources), block.slot_relations)

    @staticmethod
    def aggregate(z_ij: torch.Tensor, block: PaddedBlock) -> torch.Tensor:
        """Eq. (4): the mean message of each destination, (n_dst, out_dim / 2); 0 without neighbours."""
        total = z_ij.new_zeros(block.n_dst, z_ij.shape[1]).index_add_(0, block.slot_dst, z_ij)
        count = block.mask.sum(1, keepdim=True).clamp(min=1)
        return total / count

    @staticmethod
    def update(own: torch.Tensor, z_i: torch.Tensor) -> torch.Tensor:
        """Eq. (3): ReLU of the self half beside the neighbourhood half."""
        return F.relu(torch.cat([own, z_i], dim=1))
