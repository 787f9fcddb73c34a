"""Row-wise operations on sparse matrices: the pair-by-pair products that never go dense.

Comparing N candidate pairs means comparing row ``left[i]`` of one matrix with row ``right[i]``
of another, for every i. Forming the dense ``n_left x n_right`` product and reading N cells
would cost memory quadratic in the graph sizes; the element-wise product of the two gathered
row sets costs only their non-zeros.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["PAIR_CHUNK_ROWS", "pair_rows_dot", "pair_rows_cosine", "rowwise_dot", "rowwise_cosine", "row_normalise",
           "l2_normalise_rows"]

#: Pairs per gathered chunk in :func:`pair_rows_dot`: the gathered rows of 8.9M pairs with 64
#: entries each would take 6.8 GB per side at once; 32,768 pairs take about 25 MB, below glibc's
#: 32 MiB mmap threshold, so the allocator recycles a chunk's copies instead of mapping and
#: page-faulting fresh ones (``cli.keep_freed_memory``): 1M pairs of 64-entry rows took 1.2-3.9
#: CPU-s in chunks of 262,144 and 0.8 in chunks of 32,768, the same values.
PAIR_CHUNK_ROWS = 32_768


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


def pair_rows_dot(a: sp.csr_matrix, b: sp.csr_matrix, left: np.ndarray, right: np.ndarray, *,
                  chunk_rows: int = PAIR_CHUNK_ROWS) -> np.ndarray:
    """``out[i] = a[left[i]] . b[right[i]]``, gathering the rows a chunk of pairs at a time.

    The same numbers as ``rowwise_dot(a[left], b[right])``, but the gathered copies (each pair's
    row, however many pairs share an entity) never exceed one chunk: at millions of candidate
    pairs they, not the result, are what runs out of memory.

    Examples
    --------
    >>> a = sp.csr_matrix([[1.0, 2.0], [0.0, 1.0]])
    >>> pair_rows_dot(a, a, np.array([0, 0, 1]), np.array([0, 1, 1]), chunk_rows=2).tolist()
    [5.0, 2.0, 1.0]
    """
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    if len(left) != len(right):
        raise ValueError(f"{len(left)} left and {len(right)} right rows: expected one of each per pair")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"row-wise product needs equal widths, got {a.shape} and {b.shape}")
    out = np.empty(len(left), dtype=np.float64)
    for start in range(0, len(left), max(1, int(chunk_rows))):
        stop = start + max(1, int(chunk_rows))
        out[start:stop] = rowwise_dot(a[left[start:stop]], b[right[start:stop]])
    return out


def pair_rows_cosine(a: sp.csr_matrix, b: sp.csr_matrix, left: np.ndarray, right: np.ndarray, *,
                     chunk_rows: int = PAIR_CHUNK_ROWS) -> np.ndarray:
    """Cosine of ``a[left[i]]`` with ``b[right[i]]`` (NaN where either row is empty), chunk by chunk.

    Row norms are computed once per entity, so only the dot products are gathered.
    """
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    dots = pair_rows_dot(a, b, left, right, chunk_rows=chunk_rows)
    a_squares = np.asarray(a.multiply(a).sum(axis=1), dtype=np.float64).ravel()
    b_squares = np.asarray(b.multiply(b).sum(axis=1), dtype=np.float64).ravel()
    norms = np.sqrt(a_squares[left] * b_squares[right])  # as rowwise_cosine rounds it
    out = np.full(len(dots), np.nan)
    np.divide(dots, norms, out=out, where=norms > 0)
    return out


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
