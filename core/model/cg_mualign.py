"""CG-MuAlign (Zhu et al., WWW 2020): one encoder, shared by both graphs, scoring candidate pairs.

For a candidate pair (i, i'), each side is encoded from its own sampled neighbourhood, layer by
layer (equations numbered in :mod:`core.model.layers`):

    h^0            = [name n-gram embedding || attributes]      layer 0      core.model.inputs
    h^k, k < K     = AverageAgg(h^{k-1})       Eqs. (1)-(4)      lower layers core.model.layers.average_agg
    h^K            = CollectiveAgg(h^{K-1})    Eqs. (1)-(3), (5)-(8), conditioned on the other side
                                                                 top layer    core.model.layers.collective_agg
    d(i, i')       = ||h_i^K - h_i'^K||_2      the pair's distance; smaller means more likely the same entity

Every node the top layer reads (the pair entity and its sampled neighbours) gets its own
lower-layer output, self term included (DESIGN.md section 4, trap 1).

:class:`ModelConfig` and ``VARIANTS`` live in :mod:`core.model.config` and are re-exported here,
where most callers import them from.

All arithmetic is torch, the same on every device: no DGL kernel is called (the dgl wheels on PyPI
are CPU-only builds; see :func:`core.model.layers.typed_linear.grouped_matmul`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.features.entity_features import EntityFeatures
from core.model.config import VARIANTS, ModelConfig
from core.model.inputs import InputEncoder
from core.model.layers import AverageAggLayer, CollectiveAggLayer, PairSide, SideAttention
from core.sampling.blocks import GraphBatch

__all__ = ["VARIANTS", "CGMuAlign", "ModelConfig", "PairOutput", "SideAttention", "pair_distance"]


@dataclass(frozen=True, eq=False)
class PairOutput:
    """Embeddings of both sides of every pair, their distance, and (when asked for) the attention."""

    left: torch.Tensor  # (B, hidden)
    right: torch.Tensor
    distance: torch.Tensor  # (B,)
    left_attention: SideAttention | None = None
    right_attention: SideAttention | None = None


def pair_distance(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """||h_i - h_i'||_2 per row, with a finite gradient when the embeddings coincide."""
    return ((left - right) ** 2).sum(-1).add(1e-12).sqrt()


class CGMuAlign(nn.Module):
    """The encoder: layer 0, ``n_layers - 1`` AverageAgg layers, then the pair-conditioned CollectiveAgg.

    Parameters
    ----------
    config : the architecture (hidden size, layers, attention switches).
    n_buckets : rows of the name n-gram table.
    dense_dim : length of the attribute features.
    n_types, n_relations : model entity types and relations (inverse relations included).
    """

    def __init__(self, config: ModelConfig, *, n_buckets: int, dense_dim: int, n_types: int, n_relations: int):
        super().__init__()
        self.config = config
        self.inputs = InputEncoder(n_buckets, config.name_dim, dense_dim)
        n_rel = n_relations if config.relation_weights else 1
        dims = [self.inputs.out_dim] + [config.hidden] * config.n_layers
        # layer 1 projects each type's features with its own W_self (types differ in what they carry)
        self.lower = nn.ModuleList(
            AverageAggLayer(dims[k], dims[k + 1], n_rel, n_types if k == 0 else 1) for k in range(config.n_layers - 1))
        self.top = CollectiveAggLayer(dims[-2], dims[-1], n_rel, n_types if config.n_layers == 1 else 1,
                                      cross_attention=config.cross_attention, self_attention=config.self_attention,
                                      leaky_slope=config.leaky_slope)
        self.dropout = nn.Dropout(config.dropout)

    def encode_lower(self, features: EntityFeatures, batch: GraphBatch) -> torch.Tensor:
        """h^{K-1} of the top layer's inputs (the seeds and their sampled neighbours)."""
        h = self.dropout(self.inputs(features, batch.input_nodes))
        for layer, block in zip(self.lower, batch.blocks[:-1]):
            h = self.dropout(layer(h, block, batch.input_types[: block.n_dst]))
        return h

    def encode_nodes(self, features: EntityFeatures, batch: GraphBatch | None, nodes: np.ndarray) -> torch.Tensor:
        """h^{K-1} of ``nodes`` themselves, for layer-wise scoring (:mod:`core.scoring.layerwise`).

        ``batch`` is the nodes' own ``K - 1``-hop sample (``nodes`` its seeds; None for a one-layer
        model, whose top layer reads layer 0 directly). Every block of it is a lower layer, unlike
        :meth:`encode_lower`'s batch, whose last block is the top layer's. A node's output is the
        one :meth:`encode_lower` gives it in any pair batch when sampling is fixed per edge
        (scoring's int seed): then it depends on the node alone, so it can be computed once.
        """
        if batch is None:
            return self.dropout(self.inputs(features, nodes))
        h = self.dropout(self.inputs(features, batch.input_nodes))
        for layer, block in zip(self.lower, batch.blocks):
            h = self.dropout(layer(h, block, batch.input_types[: block.n_dst]))
        return h

    def embed_alone(self, features: EntityFeatures, batch: GraphBatch, rows: torch.Tensor) -> torch.Tensor:
        """h^K of single entities (``batch.seeds[rows]``) with no counterpart: cross-graph attention uniform.

        A per-entity vector for nearest-neighbour candidates (blocking from embeddings); the top
        layer's :meth:`CollectiveAggLayer.alone`.
        """
        side = PairSide(self.encode_lower(features, batch), batch.blocks[-1], rows, batch.input_types[rows])
        return self.top.alone(side)

    def forward(self, left_features: EntityFeatures, left: GraphBatch, left_rows: torch.Tensor,
                right_features: EntityFeatures, right: GraphBatch, right_rows: torch.Tensor, *,
                return_attention: bool = False) -> PairOutput:
        """Embed pairs (left.seeds[left_rows[b]], right.seeds[right_rows[b]]) and their distance.

        With ``return_attention``, the output also carries each side's top-layer attention (the
        numbers explanations show, from this very pass).
        """
        left_side = PairSide(self.encode_lower(left_features, left), left.blocks[-1], left_rows,
                             left.input_types[left_rows])
        right_side = PairSide(self.encode_lower(right_features, right), right.blocks[-1], right_rows,
                              right.input_types[right_rows])
        return self.pair_output(left_side, right_side, return_attention=return_attention)

    def pair_output(self, left: PairSide, right: PairSide, *, return_attention: bool = False) -> PairOutput:
        """The top layer and the distance, given both sides' h^{K-1} (however they were computed)."""
        left_out, right_out = self.top(left, right, return_attention=return_attention)
        return PairOutput(left_out.h, right_out.h, pair_distance(left_out.h, right_out.h),
                          left_out.attention, right_out.attention)
