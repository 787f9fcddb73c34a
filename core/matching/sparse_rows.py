"""Row-wise operations on sparse matrices: the pair-by-pair products that never go dense.

Comparing N candidate pairs means comparing row ``left[i]`` of one matrix with row ``right[i]``
of another, for every i. Forming the dense ``n_left x n_right`` product and reading N cells
would cost memory quadratic in the graph sizes; the element-wise product of the two gathered
row sets costs only their non-zeros.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["rowwise_dot", "rowwise_cosine", "row_normalise", "l2_normalise_rows"]


def rowwise_dot(a: sp.csr_matrix, b: sp.csr_matrix) -> np.ndarray:
    """``out[i] = a[i] . b[i]`` for two sparse matrices of the same shape.

    Parameters
    ----------
    a, b : (N, d) sparse matrices

    Returns
    -------
    dots : (N,) float64

    Examples
    --------
    >>> a = sp.csr_matrix([[1.0, 2.0], [0.0, 1.0]])
    >>> rowwise_dot(a, sp.csr_matrix([[3.0, 1.0], [5.0, 0.0]])).tolist()
    [5.0, 0.0]
    """
    if a.shape != b.shape:
        raise ValueError(f"row-wise product needs equal shapes, got {a.shape} and {b.shape}")
    return np.asarray(sp.csr_matrix(a).multiply(b).sum(axis=1), dtype=np.float64).ravel()


def rowwise_cosine(a: sp.csr_matrix, b: sp.csr_matrix) -> np.ndarray:
    """Cosine of row i of ``a`` with row i of ``b``; NaN where either row is all zeros.

    NaN rather than 0 because an empty row means "no evidence" (no anchor reachable, no
    neighbour), which is not the same as "evidence of difference".

    Examples
    --------
    >>> a = sp.csr_matrix([[1.0, 0.0], [0.0, 0.0]])
    >>> rowwise_cosine(a, sp.csr_matrix([[1.0, 1.0], [1.0, 0.0]])).round(4).tolist()
    [0.7071, nan]
    """
    dots = rowwise_dot(a, b)
    norms = np.sqrt(rowwise_dot(a, a) * rowwise_dot(b, b))
    out = np.full(len(dots), np.nan)
    np.divide(dots, norms, out=out, where=norms > 0)
    return out


def row_normalise(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Divide each row by its sum (rows summing to 0 stay 0): a random-walk transition matrix."""
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums != 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix)


def l2_normalise_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Divide each row by its Euclidean norm (zero rows stay 0), so dot products are cosines."""
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix)
