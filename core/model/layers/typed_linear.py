"""One weight matrix per type: Eqs. (1) and (2) of :mod:`core.model.layers`.

    (1) z_ij = W_r h_j         one matrix per relation r (the message of neighbour j)
    (2) s_i  = W_self h_i      one matrix per entity type at layer 1 (types carry different
                               attributes), one for all types above it

DGL calls this layer ``TypedLinear`` (``dgl.nn.TypedLinear``): a linear map whose matrix is chosen
by each row's type. With a single type (GraphSAGE's one W for every relation) it is a plain matmul.
"""

from __future__ import annotations

import torch
from torch import nn


class TypedLinear(nn.Module):
    """y[e] = x[e] @ W[types[e]] for every row e.

    Parameters
    ----------
    in_dim, out_dim : lengths of a row of x and of y.
    n_types : number of matrices (relations, or entity types). 1 shares one matrix among all types,
        and then the types passed to :meth:`forward` are ignored.

    Attributes
    ----------
    weight : (n_types, in_dim, out_dim), each matrix Xavier-initialised.

    Examples
    --------
    Two relations, identity and doubling: row 0 goes through relation 1, row 1 through relation 0.

    >>> layer = TypedLinear(2, 2, 2)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.stack([torch.eye(2), 2 * torch.eye(2)]))
    >>> layer(torch.tensor([[1., 1.], [3., 4.]]), torch.tensor([1, 0])).tolist()
    [[2.0, 2.0], [3.0, 4.0]]
    """

    def __init__(self, in_dim: int, out_dim: int, n_types: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_types, in_dim, out_dim))
        nn.init.xavier_uniform_(self.weight.view(-1, in_dim, out_dim)[0])
        with torch.no_grad():
            for r in range(1, n_types):
                nn.init.xavier_uniform_(self.weight[r])

    @property
    def n_types(self) -> int:
        return self.weight.shape[0]

    def type_index(self, types: torch.Tensor) -> torch.Tensor:
        """Which matrix each row uses: its type, or 0 everywhere when one matrix is shared."""
        return types if self.n_types > 1 else torch.zeros_like(types)

    def forward(self, x: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        """(len(x), out_dim): each row of ``x`` times its type's matrix."""
        if self.n_types == 1:
            return x @ self.weight[0]
        if x.shape[0] == 0:
            return x.new_zeros(0, self.weight.shape[2])
        return grouped_matmul(x, self.weight, types)


def grouped_matmul(x: torch.Tensor, weight: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
    """x[e] @ weight[types[e]] for every row e: the rows of one type multiplied together.

    Plain torch, the same path on every device. Why not ``dgl.ops.gather_mm`` (what DGL's
    ``TypedLinear`` and ``RelGraphConv`` call): the dgl wheels on PyPI are CPU-only builds, so on a
    CUDA tensor it fails (``Operator SegmentMM does not support cuda device``); and on CPU it slices
    the sorted rows per type, each slice's backward zero-filling a gradient the size of all rows
    (14 relations: 14 full copies per layer and step). ``split`` and ``unbind`` have cheap
    backwards (one ``cat``/``stack``).
    """
    order = torch.argsort(types, stable=True)
    counts = torch.bincount(types, minlength=weight.shape[0]).tolist()
    groups = x.index_select(0, order).split(counts)
    products = torch.cat([rows @ w for rows, w in zip(groups, weight.unbind(0))])
    return products.new_empty(products.shape).index_copy(0, order, products)
