"""Layer 0: each entity's input representation h^0 from its name and attributes.

    h_i^0 = [ sum_{g in ngrams(name_i)} c_ig E_g  ||  x_i ]                     (DESIGN.md 2, "Features")

E is a table of hashed character n-gram vectors learned end to end (fastText's subwords; the
paper's pre-trained fastText cannot be downloaded here), c_ig the n-gram's weight in the name, and
x_i the scaled number and date features of :class:`~core.features.entity_features.EntityFeatures`.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from core.features.entity_features import EntityFeatures


class InputEncoder(nn.Module):
    """h^0 = [EmbeddingBag(hashed name n-grams) || dense attribute features].

    Parameters
    ----------
    n_buckets : rows of the n-gram table E (the hashing's bucket count).
    name_dim : length of the name part.
    dense_dim : length of x_i (numbers and dates).
    """

    def __init__(self, n_buckets: int, name_dim: int, dense_dim: int):
        super().__init__()
        # sparse gradients: a batch touches a few thousand of the buckets, so only those rows are
        # updated (with core.training.optimisers.LazyAdam) instead of the whole table at every step
        self.names = nn.EmbeddingBag(n_buckets, name_dim, mode="sum", sparse=True)
        nn.init.normal_(self.names.weight, std=0.1)
        self.out_dim = name_dim + dense_dim

    def forward(self, features: EntityFeatures, nodes: np.ndarray) -> torch.Tensor:
        """h^0 of ``nodes`` (entity indices), shape (len(nodes), out_dim), on the table's device."""
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
            # the same sum as below, only with a cheaper CPU backward (see _BagSum)
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
