"""The top layer (the paper's CollectiveAgg), conditioned on the candidate pair (i, i').

Eqs. (1)-(3) and (5)-(8) of :mod:`core.model.layers`, for side i (side i' is symmetric):

    (1) z_ip  = W_r h_p                                   p in N_i          message
    (2) s_i   = W_self h_i                                                  self term
    (5) alpha_ip ∝ sum_{q in N_i'} exp(-||z_ip - z_i'q||)   over p in N_i     cross-graph attention
    (6) beta_ip  = softmax_p LeakyReLU(a_r^T [s_i || z_ip])                   self-attention
    (7) w_ip  = alpha_ip beta_ip / sum_p alpha_ip beta_ip                     combine
    (8) z_i   = sum_p w_ip z_ip
    (3) h_i   = ReLU([s_i || z_i])                                          update

:meth:`CollectiveAggLayer.forward` runs these steps as the methods of the same names.

- **alpha** is positive evidence: a neighbour with a close counterpart among the other side's
  neighbours ("both graphs know this film") weighs more. It is node level and pair conditioned.
- **beta** is negative evidence: one vector a_r per relation learns which relations separate
  look-alikes (the performer separates a recording from its remix; a shared songwriter does not).
  Its query is s_i = W_self h_i, not z_i as DESIGN.md writes ``[z_i || z_ij]``: z_i is what this
  layer computes from the weights beta helps make, so it cannot also be their input. s_i is the node's
  own half of the layer output, as in GAT (``a^T [W h_i || W h_j]``) and the reference code.
- **w** is computed as a softmax of ``log alpha + log beta`` over the real slots: the same as
  Eq. (7) (both are normalised products), and free of 0/0. A side with no sampled neighbours gets
  z_i = 0 and keeps its own features through the self term (DESIGN.md section 4, trap 2); a side
  whose counterpart has no neighbours gets uniform alpha (no cross-graph evidence either way).

Neighbourhoods are padded to the cap: tensors are (B, cap, ...) with a mask of the real slots, so
the two sides' neighbourhoods of every pair are compared in one batched distance computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.model.layers.typed_linear import TypedLinear
from core.sampling.blocks import PaddedBlock


@dataclass(frozen=True, eq=False)
class PairSide:
    """What the top layer reads for one side of a batch of B pairs."""

    h: torch.Tensor  # (n_inputs, in_dim): lower-layer output of every input of the top block
    block: PaddedBlock  # the top block: sampled neighbours of every seed of this side
    rows: torch.Tensor  # (B,) long: each pair's seed row in the block (a seed serves many pairs)
    types: torch.Tensor  # (B,) long: each pair entity's type (W_self is per type when this is layer 1)


@dataclass(frozen=True, eq=False)
class SideMessages:
    """Eq. (1) for one side of each pair, padded to the cap: slot p of pair b is neighbour p of its entity."""

    z: torch.Tensor  # (B, cap, out_dim / 2) z_ip; zeros in padding slots
    neighbours: torch.Tensor  # (B, cap) positions of the neighbours among the top layer's inputs
    relations: torch.Tensor  # (B, cap) the relation that reached each neighbour
    mask: torch.Tensor  # (B, cap) bool: real slots


@dataclass(frozen=True, eq=False)
class CrossGraphScores:
    """Eq. (5) before normalisation, in log space: log S_p for every slot of both sides.

    ``best_left[b, p]`` is the slot of the right neighbour closest to left neighbour p (and
    ``best_right`` the reverse): the cross-graph links an explanation draws. None unless asked for.
    """

    log_left: torch.Tensor  # (B, cap_left)
    log_right: torch.Tensor  # (B, cap_right)
    best_left: torch.Tensor | None
    best_right: torch.Tensor | None


@dataclass(frozen=True, eq=False)
class SideAttention:
    """The top layer's attention for one side of each pair, padded to the cap (``mask`` marks real slots).

    ``alpha``, ``beta`` and ``weight`` (w) each sum to 1 over the real slots of a pair and are 0 in
    padding (all 0 for an entity with no sampled neighbour). ``best_counterpart[b, p]`` is the slot
    of the other side's neighbour closest to neighbour p.
    """

    neighbours: torch.Tensor  # (B, cap) positions in the top layer's inputs
    relations: torch.Tensor
    mask: torch.Tensor
    alpha: torch.Tensor
    beta: torch.Tensor
    weight: torch.Tensor
    best_counterpart: torch.Tensor


@dataclass(frozen=True, eq=False)
class SideOutput:
    """The top layer's output for one side: h_i (Eq. 3), and the attention behind it when asked for."""

    h: torch.Tensor  # (B, out_dim)
    attention: SideAttention | None


class CollectiveAggLayer(nn.Module):
    """The top layer: both sides of every candidate pair, each attending to the other (Eqs. 1-3, 5-8).

    Parameters
    ----------
    in_dim, out_dim : lengths of h^{K-1} and h^K (out_dim even: self half, neighbourhood half).
    n_relations : matrices W_r and attention vectors a_r (1: shared by all relations).
    n_self : matrices W_self (entity types when this is layer 1, else 1).
    cross_attention, self_attention : switches for the paper's ablations; off, alpha (or beta) is
        uniform over the real slots.
    leaky_slope : negative slope of the LeakyReLU in Eq. (6).
    """

    def __init__(self, in_dim: int, out_dim: int, n_relations: int, n_self: int, *, cross_attention: bool,
                 self_attention: bool, leaky_slope: float):
        super().__init__()
        self.neighbour = TypedLinear(in_dim, out_dim // 2, n_relations)
        self.own = TypedLinear(in_dim, out_dim // 2, n_self)
        self.use_cross_attention, self.use_self_attention = cross_attention, self_attention
        self.attention_vectors = nn.Parameter(torch.empty(n_relations, out_dim))  # a_r, one per relation
        nn.init.xavier_uniform_(self.attention_vectors)
        self.leaky_slope = leaky_slope

    def forward(self, left: PairSide, right: PairSide, *,
                return_attention: bool = False) -> tuple[SideOutput, SideOutput]:
        """h_i and h_i' of every pair; with ``return_attention``, each side's :class:`SideAttention`."""
        left_messages, right_messages = self.message(left), self.message(right)
        left_own, right_own = self.self_term(left), self.self_term(right)
        cross = self.cross_graph_attention(left_messages, right_messages, return_attention=return_attention)
        return (self._side(left_own, left_messages, cross.log_left, cross.best_left, return_attention),
                self._side(right_own, right_messages, cross.log_right, cross.best_right, return_attention))

    def alone(self, side: PairSide) -> torch.Tensor:
        """h_i of each entity without a counterpart: Eq. (5) switched off (uniform alpha), (B, out_dim).

        What the layer computes for the no-cross-attention ablation, with these weights. Blocking
        uses it as a per-entity vector (one per entity, not per pair), so candidates can come from
        a trained model's embeddings; a pair's score still comes from :meth:`forward`.
        """
        messages = self.message(side)
        log_cross = torch.zeros_like(messages.mask, dtype=messages.z.dtype)
        return self._side(self.self_term(side), messages, log_cross, None, False).h

    def _side(self, own: torch.Tensor, messages: SideMessages, log_cross: torch.Tensor,
              best_counterpart: torch.Tensor | None, return_attention: bool) -> SideOutput:
        """Eqs. (6), (7), (8) and (3) for one side, given its cross-graph scores."""
        log_self = self.self_attention(own, messages)
        weight, z_i = self.combine(messages, log_cross, log_self)
        attention = None
        if return_attention:
            attention = SideAttention(messages.neighbours, messages.relations, messages.mask,
                                      alpha=_masked_softmax(log_cross, messages.mask),
                                      beta=_masked_softmax(log_self, messages.mask), weight=weight,
                                      best_counterpart=best_counterpart)
        return SideOutput(self.update(own, z_i), attention)

    def message(self, side: PairSide) -> SideMessages:
        """Eq. (1): z_ip for every sampled neighbour p of each pair's entity on this side.

        z is computed once per seed (a seed is in many pairs: its positive and its negatives), then
        read per pair.
        """
        block = side.block
        n_dst, cap = block.mask.shape
        z_slots = self.neighbour(side.h.index_select(0, block.sources), block.slot_relations)
        z_seeds = side.h.new_zeros(n_dst * cap, z_slots.shape[1]).index_copy(0, block.slots, z_slots)
        return SideMessages(z_seeds.view(n_dst, cap, -1).index_select(0, side.rows),
                            block.neighbours.index_select(0, side.rows), block.relations.index_select(0, side.rows),
                            block.mask.index_select(0, side.rows))

    def self_term(self, side: PairSide) -> torch.Tensor:
        """Eq. (2): s_i = W_self h_i of each pair's entity, (B, out_dim / 2)."""
        return self.own(side.h[side.rows], side.types)

    def cross_graph_attention(self, left: SideMessages, right: SideMessages, *,
                              return_attention: bool = False) -> CrossGraphScores:
        """Eq. (5) in log space: log S_p = logsumexp over the other side's neighbours q of -||z_p - z_q||.

        Padding gets a large finite negative (not -inf), so gradients stay finite; a side whose
        counterpart has no neighbours then gets equal log S everywhere, i.e. uniform alpha. Switched
        off, log S is 0 everywhere (uniform alpha). With ``return_attention``, also each neighbour's
        closest counterpart on the other side, which the training loss does not need.
        """
        distance = None
        if self.use_cross_attention or return_attention:
            distance = _pairwise_distance(left.z, right.z)  # (B, cap_left, cap_right)
            pair_mask = left.mask.unsqueeze(2) & right.mask.unsqueeze(1)
        if self.use_cross_attention:
            log_kernel = (-distance).masked_fill(~pair_mask, _PADDING)
            log_left, log_right = torch.logsumexp(log_kernel, dim=2), torch.logsumexp(log_kernel, dim=1)
        else:
            log_left = torch.zeros_like(left.mask, dtype=left.z.dtype)
            log_right = torch.zeros_like(right.mask, dtype=right.z.dtype)
        best_left = best_right = None
        if return_attention:
            far = distance.masked_fill(~pair_mask, float("inf"))
            best_left, best_right = far.argmin(dim=2), far.argmin(dim=1)
        return CrossGraphScores(log_left, log_right, best_left, best_right)

    def self_attention(self, own: torch.Tensor, messages: SideMessages) -> torch.Tensor:
        """Eq. (6) before the softmax: LeakyReLU(a_r^T [s_i || z_ip]) for every slot, (B, cap).

        a_r splits into the halves that meet s_i and z_ip; each half is scored against every
        relation's vector at once and the slot's own relation is then picked. Switched off, 0
        everywhere (uniform beta).
        """
        if not self.use_self_attention:
            return torch.zeros_like(messages.mask, dtype=messages.z.dtype)
        half = messages.z.shape[-1]
        relations = self.neighbour.type_index(messages.relations)
        a_own, a_neighbour = self.attention_vectors[:, :half], self.attention_vectors[:, half:]
        logits = ((own @ a_own.T).gather(1, relations)
                  + (messages.z @ a_neighbour.T).gather(2, relations.unsqueeze(-1)).squeeze(-1))
        return F.leaky_relu(logits, self.leaky_slope)

    @staticmethod
    def combine(messages: SideMessages, log_cross: torch.Tensor,
                log_self: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eqs. (7) and (8): (w (B, cap), z_i (B, out_dim / 2)).

        w = softmax(log S + logit beta) over the real slots, which equals alpha * beta renormalised
        (both softmaxes' normalisers cancel) and never divides 0 by 0.
        """
        weight = _masked_softmax(log_cross + log_self, messages.mask)
        return weight, (weight.unsqueeze(-1) * messages.z).sum(1)

    @staticmethod
    def update(own: torch.Tensor, z_i: torch.Tensor) -> torch.Tensor:
        """Eq. (3): ReLU of the self half beside the neighbourhood half."""
        return F.relu(torch.cat([own, z_i], dim=1))


_PADDING = -1e4  # log-weight of padded slots: exp() of it is 0 in float32, and it is finite


def _masked_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the real slots; all zeros where a node has no neighbours (never NaN, in value or gradient)."""
    out = torch.softmax(logits.masked_fill(~mask, _PADDING), dim=-1)
    return out * mask


def _pairwise_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, n, m) Euclidean distances with a finite gradient at 0 (padding slots are all zeros).

    ||a||^2 + ||b||^2 - 2 a.b as one batched matmul (no (B, n, m, d) difference tensor).
    """
    squared = (a * a).sum(-1).unsqueeze(2) + (b * b).sum(-1).unsqueeze(1) - 2 * a @ b.transpose(1, 2)
    return squared.clamp(min=0).add(1e-12).sqrt()
