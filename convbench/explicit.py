"""The explicit path: the convolution unrolled into a sparse matrix.

Rows index the output flattened as ``(cout, n, m)``, columns the input flattened as
``(cin, n, m)``, so ``unrolled(w, (n, m)) @ x.ravel()`` equals
``Conv2d(x)`` with ``padding='same'`` for a ``(cin, n, m)`` input ``x``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from .budget import check_memory
from .svd import sort_descending
from .weights import as_oihw, as_shape, check_fits

__all__ = [
    "BOUNDARIES",
    "dense_singular_values",
    "sparse_top_k",
    "unrolled",
]

BOUNDARIES = ("periodic", "zero")


def _check_boundary(boundary: str) -> None:
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}; got {boundary!r}")


def _taps(k: int, n: int, boundary: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each tap ``a < k``: output positions ``p`` and the input positions they read."""
    out = []
    p = np.arange(n)
    for a in range(k):
        src = p + a - (k - 1) // 2
        if boundary == "periodic":
            out.append((p, src % n))
        else:
            keep = (src >= 0) & (src < n)
            out.append((p[keep], src[keep]))
    return out


def unrolled(
    weight: Any,
    shape: int | tuple[int, int],
    boundary: str = "periodic",
    layout: str = "oihw",
    *,
    memory_budget: int | float | str | None = None,
) -> scipy.sparse.csr_matrix:
    """The convolution as a sparse ``(cout*n*m, cin*n*m)`` CSR matrix.

    Parameters
    ----------
    weight : array_like
        Real 4-D weights in ``layout``.
    shape : int or tuple of int
        Input size ``n`` or ``(n, m)``.
    boundary : {"periodic", "zero"}
        Wrap around (``padding_mode='circular'``) or read zeros outside the input.
    layout : {"oihw", "hwio"}
        Weight layout.
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`).

    Returns
    -------
    scipy.sparse.csr_matrix
        float64 operator acting on the input flattened as ``(cin, n, m)``.
    """
    _check_boundary(boundary)
    w = as_oihw(weight, layout)
    n, m = as_shape(shape)
    check_fits(w, n, m)
    cout, cin, kh, kw = w.shape
    nnz = cout * cin * kh * kw * n * m
    check_memory(
        40 * nnz,
        memory_budget,
        f"the sparse operator at {n}x{m} with {cout}x{cin} channels and a {kh}x{kw} kernel",
        "Use a smaller input size, or a Fourier method for the periodic spectrum.",
    )
    return _assemble(w, n, m, boundary)


def _assemble(w: np.ndarray, n: int, m: int, boundary: str) -> scipy.sparse.csr_matrix:
    cout, cin, kh, kw = w.shape
    nm = n * m
    index = np.int64 if max(cout, cin) * nm >= 2**31 - 1 else np.int32
    row_taps, col_taps = _taps(kh, n, boundary), _taps(kw, m, boundary)
    rows, cols, data = [], [], []
    chan_o = (np.arange(cout, dtype=index) * nm)[:, None, None]
    chan_i = (np.arange(cin, dtype=index) * nm)[None, :, None]
    for a, (pr, sr) in enumerate(row_taps):
        for b, (pc, sc) in enumerate(col_taps):
            out_pos = (pr[:, None] * m + pc[None, :]).ravel().astype(index)
            in_pos = (sr[:, None] * m + sc[None, :]).ravel().astype(index)
            shape = (cout, cin, out_pos.size)
            rows.append(np.broadcast_to(chan_o + out_pos, shape).ravel())
            cols.append(np.broadcast_to(chan_i + in_pos, shape).ravel())
            data.append(np.broadcast_to(w[:, :, a, b][:, :, None], shape).ravel())
    coo = scipy.sparse.coo_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=(cout * nm, cin * nm),
    )
    return coo.tocsr()


def dense_singular_values(
    operator: scipy.sparse.spmatrix | scipy.sparse.sparray,
    *,
    memory_budget: int | float | str | None = None,
) -> np.ndarray:
    """All singular values of a sparse operator by dense LAPACK ``gesdd``, descending."""
    rows, cols = operator.shape
    check_memory(
        8 * rows * cols + 16 * min(rows, cols),
        memory_budget,
        f"the dense {rows}x{cols} matrix for the full explicit SVD",
        "Ask for top_k=k singular values (sparse Lanczos) or use a Fourier method.",
    )
    dense = operator.toarray(order="F")  # Fortran order lets LAPACK work in place
    values = scipy.linalg.svd(
        dense, compute_uv=False, overwrite_a=True, check_finite=False, lapack_driver="gesdd"
    )
    return sort_descending(values)


def sparse_top_k(
    operator: scipy.sparse.spmatrix | scipy.sparse.sparray | scipy.sparse.linalg.LinearOperator,
    k: int,
) -> np.ndarray:
    """The ``k`` largest singular values by ARPACK Lanczos (``svds``), descending.

    Falls back to the dense SVD when ``k`` is not smaller than the operator's
    smaller dimension (ARPACK requires ``k < min(shape)``).
    """
    rows, cols = operator.shape
    if k >= min(rows, cols):
        if isinstance(operator, scipy.sparse.linalg.LinearOperator):
            raise ValueError(f"top_k={k} must be smaller than min(shape)={min(rows, cols)}")
        return dense_singular_values(operator)[:k]
    v0 = np.random.default_rng(0).standard_normal(min(rows, cols))
    values = scipy.sparse.linalg.svds(
        operator, k=k, which="LM", return_singular_vectors=False, v0=v0
    )
    return sort_descending(values)

