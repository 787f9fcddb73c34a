"""CG-MuAlign (Zhu et al., WWW 2020): one encoder, shared by both graphs, scoring candidate pairs.

Notation as in DESIGN.md section 2: h_j^k is node j's representation after layer k; N_i the
sampled neighbours of i, each reached through a relation r. Per layer k:

    z_ij  = W_r^k h_j^{k-1}                                   relation projection (message)
    h_i^k = sigma([W_self^k h_i^{k-1} || z_i^k])               combine (update)

Lower layers (AverageAgg) take z_i = mean_j z_ij. The top layer (CollectiveAgg) is conditioned on
the candidate pair (i, i'):

    alpha_ip ∝ sum_{q in N_i'} exp(-||z_ip - z_i'q||)           cross-graph attention, over p in N_i
    beta_ij  = softmax_j LeakyReLU(a_r^T [W_self h_i || z_ij])  relation-aware self-attention
    w_ij     = alpha_ij beta_ij / sum_j alpha_ij beta_ij
    z_i      = sum_j w_ij z_ij

and symmetrically for i'. The pair's distance is ||h_i - h_i'||; smaller means more likely the
same entity. Because alpha and beta are both normalised products, w is computed as a softmax of
``log alpha + log beta`` (exactly the same, and free of 0/0): a side with no neighbours gets
z = 0 and keeps its own features through the self term, and a side whose counterpart has no
neighbours gets uniform alpha (no cross-graph evidence either way).

Layer 0 (h^0): hashed character n-grams of the name through an ``EmbeddingBag`` learned end to end
(fastText's subwords), concatenated with the scaled number and date features. The per-relation
projections use DGL's ``gather_mm`` (each edge multiplied by its own relation's matrix without
materialising one matrix per edge), as DGL's ``RelGraphConv`` does; on CPU the same grouping is
done here (``_grouped_matmul``), whose backward is cheaper than DGL's CPU fallback.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from core.model._dgl import dgl
from core.sampling.blocks import GraphBatch, PaddedBlock
from core.features.entity_features import EntityFeatures

VARIANTS = ("cg-mualign", "no-cross-attention", "no-self-attention", "graphsage", "r-graphsage")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture knobs; the defaults are the paper's (hidden 100, 2 layers, cap 10)."""

    hidden: int = 100
    n_layers: int = 2
    neighbour_cap: int = 10
    name_dim: int = 64
    cross_attention: bool = True
    self_attention: bool = True
    relation_weights: bool = True  # one W_r per relation (False: one W for all, GraphSAGE)
    leaky_slope: float = 0.2
    dropout: float = 0.0
    max_relations: int = 64

    def __post_init__(self) -> None:
        if self.hidden < 2 or self.hidden % 2:
            raise ValueError(f"hidden must be an even number >= 2 (self and neighbourhood halves), got {self.hidden}")
        if self.n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {self.n_layers}")
        if self.neighbour_cap < 1:
            raise ValueError(f"neighbour_cap must be >= 1, got {self.neighbour_cap}")

    @property
    def variant_name(self) -> str:
        """Which of ``VARIANTS`` these switches make (the inverse of :meth:`variant`)."""
        switches = (self.cross_attention, self.self_attention, self.relation_weights)
        return {(True, True, True): "cg-mualign", (False, True, True): "no-cross-attention",
                (True, False, True): "no-self-attention", (False, False, False): "graphsage",
                (False, False, True): "r-graphsage"}.get(switches, "custom")

    @classmethod
    def variant(cls, name: str, **overrides) -> "ModelConfig":
        """The full model or one of the paper's ablations, by name (see ``VARIANTS``)."""
        switches = {
            "cg-mualign": {},
            "no-cross-attention": {"cross_attention": False},
            "no-self-attention": {"self_attention": False},
            "graphsage": {"cross_attention": False, "self_attention": False, "relation_weights": False},
            "r-graphsage": {"cross_attention": False, "self_attention": False},
        }
        if name not in switches:
            raise ValueError(f"unknown model variant {name!r}; choose one of {VARIANTS}")
        return cls(**{**switches[name], **overrides})

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------ layer 0 --------
class InputEncoder(nn.Module):
    """h^0 = [EmbeddingBag(hashed name n-grams) || dense attribute features]."""

    def __init__(self, n_buckets: int, name_dim: int, dense_dim: int):
        super().__init__()
        # sparse gradients: a batch touches a few thousand of the buckets, so only those rows are
        # updated (with core.training.lazy_adam.LazyAdam) instead of the whole table at every step
        self.names = nn.EmbeddingBag(n_buckets, name_dim, mode="sum", sparse=True)
        nn.init.normal_(self.names.weight, std=0.1)
        self.out_dim = name_dim + dense_dim

    def forward(self, features: EntityFeatures, nodes: np.ndarray) -> torch.Tensor:
        device = self.names.weight.device
        rows = features.name_ngrams[nodes]
        # A batch reads each n-gram bucket many times (names share n-grams). Gather each bucket
        # once and sum from that small table: the table's gradient then has one sparse row per
        # bucket, not one per lookup, so the optimiser's coalescing stays cheap (it dominated
        # training steps on large graphs).
        buckets, lookup = _unique_buckets(rows.indices, self.names.num_embeddings)
        table = F.embedding(torch.from_numpy(buckets).to(device), self.names.weight, sparse=True)
        weights = rows.data.astype(np.float32)
        offsets = torch.from_numpy(rows.indptr[:-1].astype(np.int64)).to(device)
        if device.type == "cpu" and table.requires_grad:
            names = _BagSum.apply(table, torch.from_numpy(lookup), offsets, torch.from_numpy(weights),
                                  _transposed_bags(rows.indptr, lookup, weights, len(buckets)))
        else:
            names = F.embedding_bag(torch.from_numpy(lookup).to(device), table, offsets, mode="sum",
                                    per_sample_weights=torch.from_numpy(weights).to(device))
        dense = torch.from_numpy(np.ascontiguousarray(features.dense[nodes])).to(device)
        return torch.cat([names, dense], dim=1)


def _unique_buckets(ids: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct bucket ids and each id's position among them (``np.unique`` with
    ``return_inverse``, in O(n_buckets + len(ids)) with a mark array instead of a sort)."""
    seen = np.zeros(n_buckets, dtype=bool)
    seen[ids] = True
    position = np.cumsum(seen, dtype=np.int64) - 1
    return np.flatnonzero(seen).astype(np.int64), position[ids]


class _BagSum(torch.autograd.Function):
    """names[i] = sum over node i's n-grams g of weight_g * table[g]: ``embedding_bag`` forward, and
    the gradient as the one sparse product it is, grad_table = bags^T @ grad_names.

    Why not plain ``embedding_bag``: its CPU backward sorts every lookup and took ~70 ms per training
    step (a third of it) on the 100K demo pair; the CSR product takes ~9 ms. CPU only (CUDA keeps
    ``embedding_bag``, whose backward is fast there).
    """

    @staticmethod
    def forward(ctx, table, lookup, offsets, weights, bags_transposed):
        ctx.bags_transposed = bags_transposed
        return F.embedding_bag(lookup, table, offsets, mode="sum", per_sample_weights=weights)

    @staticmethod
    def backward(ctx, grad_names):
        return ctx.bags_transposed @ grad_names, None, None, None, None


def _transposed_bags(indptr: np.ndarray, lookup: np.ndarray, weights: np.ndarray, n_buckets: int) -> torch.Tensor:
    """bags^T (buckets x nodes) as a torch CSR tensor, from the nodes x buckets CSR arrays."""
    bags = sp.csr_matrix((weights, lookup, indptr), shape=(len(indptr) - 1, n_buckets))
    transposed = bags.T.tocsr()
    with warnings.catch_warnings():  # "CSR support is in beta": the one operation used here is CSR @ dense
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(transposed.indptr.astype(np.int64)),
                                       torch.from_numpy(transposed.indices.astype(np.int64)),
                                       torch.from_numpy(transposed.data), size=transposed.shape,
                                       check_invariants=False)  # scipy built it: sorted, in range


# ------------------------------------------------------------------------------ layers ---------
class RelationProjection(nn.Module):
    """z = W_r h for each (h, r): one matrix per relation (or one shared, for GraphSAGE)."""

    def __init__(self, in_dim: int, out_dim: int, n_relations: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_relations, in_dim, out_dim))
        nn.init.xavier_uniform_(self.weight.view(-1, in_dim, out_dim)[0])
        with torch.no_grad():
            for r in range(1, n_relations):
                nn.init.xavier_uniform_(self.weight[r])

    def forward(self, h: torch.Tensor, relation: torch.Tensor) -> torch.Tensor:
        if self.weight.shape[0] == 1:
            return h @ self.weight[0]
        if h.shape[0] == 0:
            return h.new_zeros(0, self.weight.shape[2])
        if h.device.type != "cpu":
            return dgl.ops.gather_mm(h, self.weight, idx_b=relation)
        return _grouped_matmul(h, self.weight, relation)

    def over_slots(self, h_src: torch.Tensor, block: PaddedBlock) -> torch.Tensor:
        """z_ij = W_r h_j for every sampled neighbour j of the block (its real slots, in slot order)."""
        return self(h_src.index_select(0, block.sources), _relation_index(self, block.slot_relations))


def _grouped_matmul(h: torch.Tensor, weight: torch.Tensor, relation: torch.Tensor) -> torch.Tensor:
    """h[e] @ weight[relation[e]] for every row e: rows of one relation multiplied together.

    What ``dgl.ops.gather_mm`` does on CPU, but its CPU path slices the sorted rows per relation,
    and each slice's backward zero-fills a gradient the size of all rows (14 relations: 14 full
    copies per layer and step). ``split`` and ``unbind`` have cheap backwards (one ``cat``/``stack``).
    """
    order = torch.argsort(relation, stable=True)
    counts = torch.bincount(relation, minlength=weight.shape[0]).tolist()
    groups = h.index_select(0, order).split(counts)
    products = torch.cat([rows @ w for rows, w in zip(groups, weight.unbind(0))])
    return products.new_empty(products.shape).index_copy(0, order, products)


class AverageAggLayer(nn.Module):
    """A lower layer: h_i = sigma([W_self h_i || mean_j W_r h_j]) (Eqs. 2-3 with mean aggregation)."""

    def __init__(self, in_dim: int, out_dim: int, n_relations: int, n_self: int):
        super().__init__()
        self.neighbour = RelationProjection(in_dim, out_dim // 2, n_relations)
        self.own = RelationProjection(in_dim, out_dim // 2, n_self)  # per type at layer 1

    def forward(self, h_src: torch.Tensor, block: PaddedBlock, dst_types: torch.Tensor) -> torch.Tensor:
        z_ij = self.neighbour.over_slots(h_src, block)
        total = h_src.new_zeros(block.n_dst, z_ij.shape[1]).index_add_(0, block.slot_dst, z_ij)
        count = block.mask.sum(1, keepdim=True).clamp(min=1)
        z_i = total / count
        own = self.own(h_src[: block.n_dst], _relation_index(self.own, dst_types))
        return F.relu(torch.cat([own, z_i], dim=1))


@dataclass(frozen=True, eq=False)
class SideAttention:
    """Top-layer evidence for one side of each pair, padded to the cap (mask marks real slots).

    ``best_counterpart[b, p]`` is the slot of the other side's neighbour closest to neighbour p.
    """

    neighbours: torch.Tensor  # (B, cap) positions in the top layer's inputs
    relations: torch.Tensor
    mask: torch.Tensor
    alpha: torch.Tensor
    beta: torch.Tensor
    weight: torch.Tensor
    best_counterpart: torch.Tensor | None  # None unless the forward was asked for the evidence


class CollectiveAggLayer(nn.Module):
    """The top layer, conditioned on the candidate pair (Eqs. 4-9 of the paper)."""

    def __init__(self, in_dim: int, out_dim: int, n_relations: int, n_self: int, *, cross_attention: bool,
                 self_attention: bool, leaky_slope: float):
        super().__init__()
        self.neighbour = RelationProjection(in_dim, out_dim // 2, n_relations)
        self.own = RelationProjection(in_dim, out_dim // 2, n_self)
        self.cross_attention, self.self_attention = cross_attention, self_attention
        self.attention_vectors = nn.Parameter(torch.empty(n_relations, out_dim))  # a_r, one per relation
        nn.init.xavier_uniform_(self.attention_vectors)
        self.leaky_slope = leaky_slope

    def messages(self, h_src: torch.Tensor, block: PaddedBlock, rows: torch.Tensor):
        """(z_ij (B, cap, d), neighbours, relations, mask) for the pair sides whose top-layer rows are ``rows``.

        z is computed once per seed (a seed is in many pairs: its positive and its negatives) and
        then read per pair.
        """
        n_dst, cap = block.mask.shape
        z_slots = self.neighbour.over_slots(h_src, block)
        z_seeds = h_src.new_zeros(n_dst * cap, z_slots.shape[1]).index_copy(0, block.slots, z_slots)
        z = z_seeds.view(n_dst, cap, -1).index_select(0, rows)
        return z, block.neighbours.index_select(0, rows), block.relations.index_select(0, rows), \
            block.mask.index_select(0, rows)

    def self_logits(self, own: torch.Tensor, z: torch.Tensor, relations: torch.Tensor) -> torch.Tensor:
        """LeakyReLU(a_r^T [W_self h_i || z_ij]) for every slot (B, cap).

        a_r splits into the halves that meet W_self h_i and z_ij; each half is scored against every
        relation's vector at once and the slot's own relation is then picked.
        """
        half = z.shape[-1]
        relations = _relation_index(self.neighbour, relations)
        a_own, a_neighbour = self.attention_vectors[:, :half], self.attention_vectors[:, half:]
        logits = (own @ a_own.T).gather(1, relations) + (z @ a_neighbour.T).gather(2, relations.unsqueeze(-1)).squeeze(-1)
        return F.leaky_relu(logits, self.leaky_slope)

    def forward(self, h_left: torch.Tensor, top_left: PaddedBlock, rows_left: torch.Tensor, types_left: torch.Tensor,
                h_right: torch.Tensor, top_right: PaddedBlock, rows_right: torch.Tensor, types_right: torch.Tensor,
                with_evidence: bool = True):
        z_l, nb_l, rel_l, mask_l = self.messages(h_left, top_left, rows_left)
        z_r, nb_r, rel_r, mask_r = self.messages(h_right, top_right, rows_right)
        own_l = self.own(h_left[rows_left], _relation_index(self.own, types_left))
        own_r = self.own(h_right[rows_right], _relation_index(self.own, types_right))

        # cross-graph attention: log s_p = logsumexp_q(-||z_p - z_q||) over the other side's neighbours.
        # Padding gets a large finite negative (not -inf), so gradients stay finite; a side whose
        # counterpart has no neighbours then gets equal log s everywhere, i.e. uniform alpha.
        distance = _pairwise_distance(z_l, z_r)  # (B, cap_l, cap_r)
        pair_mask = mask_l.unsqueeze(2) & mask_r.unsqueeze(1)
        log_kernel = (-distance).masked_fill(~pair_mask, _PADDING)
        if self.cross_attention:
            log_s_l, log_s_r = torch.logsumexp(log_kernel, dim=2), torch.logsumexp(log_kernel, dim=1)
        else:
            log_s_l, log_s_r = torch.zeros_like(mask_l, dtype=z_l.dtype), torch.zeros_like(mask_r, dtype=z_r.dtype)
        best_l = best_r = None  # which neighbour faces which: evidence for the app, not needed to train
        if with_evidence:
            best_l = distance.masked_fill(~pair_mask, float("inf")).argmin(dim=2)
            best_r = distance.masked_fill(~pair_mask, float("inf")).argmin(dim=1)

        sides = []
        for own, z, log_s, neighbours, relations, mask, best in (
                (own_l, z_l, log_s_l, nb_l, rel_l, mask_l, best_l), (own_r, z_r, log_s_r, nb_r, rel_r, mask_r, best_r)):
            logits = self.self_logits(own, z, relations) if self.self_attention else torch.zeros_like(log_s)
            alpha = _masked_softmax(log_s, mask)
            beta = _masked_softmax(logits, mask)
            weight = _masked_softmax(log_s + logits, mask)  # = alpha * beta renormalised
            z_i = (weight.unsqueeze(-1) * z).sum(1)
            h = F.relu(torch.cat([own, z_i], dim=1))
            sides.append((h, SideAttention(neighbours, relations, mask, alpha, beta, weight, best)))
        return sides


def _relation_index(projection: RelationProjection, relations: torch.Tensor) -> torch.Tensor:
    """GraphSAGE variants share one matrix: every relation maps to 0."""
    return relations if projection.weight.shape[0] > 1 else torch.zeros_like(relations)


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


def pair_distance(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """||h_i - h_i'||_2 per row, with a finite gradient when the embeddings coincide."""
    return ((left - right) ** 2).sum(-1).add(1e-12).sqrt()


# ------------------------------------------------------------------------------ the encoder ----
@dataclass(frozen=True, eq=False)
class PairOutput:
    """Embeddings of both sides of every pair, their distance, and (optionally) the attention."""

    left: torch.Tensor  # (B, hidden)
    right: torch.Tensor
    distance: torch.Tensor  # (B,)
    left_attention: SideAttention | None = None
    right_attention: SideAttention | None = None


class CGMuAlign(nn.Module):
    """The encoder: ``n_layers - 1`` AverageAgg layers, then the pair-conditioned CollectiveAgg."""

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
        """Representations of the top layer's inputs (the seeds and their sampled neighbours)."""
        h = self.dropout(self.inputs(features, batch.input_nodes))
        for layer, block in zip(self.lower, batch.blocks[:-1]):
            h = self.dropout(layer(h, block, batch.input_types[: block.n_dst]))
        return h

    def forward(self, left_features: EntityFeatures, left: GraphBatch, left_rows: torch.Tensor,
                right_features: EntityFeatures, right: GraphBatch, right_rows: torch.Tensor, *,
                return_attention: bool = False) -> PairOutput:
        """Embed pairs (left.seeds[left_rows[b]], right.seeds[right_rows[b]]) and their distance."""
        h_left = self.encode_lower(left_features, left)
        h_right = self.encode_lower(right_features, right)
        (emb_l, att_l), (emb_r, att_r) = self.top(
            h_left, left.blocks[-1], left_rows, left.input_types[left_rows],
            h_right, right.blocks[-1], right_rows, right.input_types[right_rows], with_evidence=return_attention)
        distance = pair_distance(emb_l, emb_r)
        if return_attention:
            return PairOutput(emb_l, emb_r, distance, att_l, att_r)
        return PairOutput(emb_l, emb_r, distance)
