"""The explicit path: the convolution unrolled into a sparse matrix.

Rows index the output flattened as ``(cout, *out_shape)``, columns the input flattened
as ``(cin, *shape)``, so ``unrolled(w, shape, ...) @ x.ravel()`` equals PyTorch's
``conv2d(x, w, ...)`` (any dimension, stride, dilation, groups and padding; the
transposed layer's matrix is the transpose of its forward adjoint's) for a
``(cin, *shape)`` input ``x``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from .costs import nonzeros
from .krylov import certified_top_values
from .layer import BOUNDARIES, Conv, takes_layer
from .memory import check_memory
from .svd import sort_descending

__all__ = [
    "BOUNDARIES",
    "dense_singular_values",
    "sparse_top_k",
    "unrolled",
]


def _reads(layer: Conv, dim: int, tap: int) -> tuple[np.ndarray, np.ndarray]:
    """For one tap along one dimension: canonical output positions ``p`` and the input
    positions ``s*p + dilation*tap - before`` they read (wrapped, or kept if inside)."""
    n_in, n_out = layer.fwd_in[dim], layer.fwd_out[dim]
    p = np.arange(n_out)
    src = layer.stride[dim] * p + int(layer.offsets[dim][tap])
    if layer.boundary == "periodic":
        return p, src % n_in
    keep = (src >= 0) & (src < n_in)
    return p[keep], src[keep]


@takes_layer()
def unrolled(
    layer: Conv,
    *,
    memory_budget: int | float | str | None = None,
) -> scipy.sparse.csr_matrix:
    """The layer as a sparse ``(cout*prod(out), cin*prod(shape))`` CSR matrix.

    Parameters
    ----------
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`).

    Returns
    -------
    scipy.sparse.csr_matrix
        float64 operator acting on the input flattened as ``(cin, *shape)`` and giving
        the output flattened as ``(cout, *out_shape)``.
    """
    check_memory(
        40 * nonzeros(layer),
        memory_budget,
        f"the sparse operator of {layer.describe()}",
        "Use a smaller input size, or a Fourier method for the periodic spectrum.",
    )
    return assemble(layer)


def assemble(layer: Conv) -> scipy.sparse.csr_matrix:
    """The sparse matrix of a validated layer (no budget check)."""
    w = layer.weight
    d, g = layer.d, layer.groups
    co, ci = layer.group_out, layer.group_in
    n_out, n_in = math.prod(layer.fwd_out), math.prod(layer.fwd_in)
    big = max(layer.fwd_cout * n_out, layer.fwd_cin * n_in)
    index = np.int64 if big >= 2**31 - 1 else np.int32
    reads = [[_reads(layer, dim, a) for a in range(k)] for dim, k in enumerate(layer.kernel)]
    out_strides = [math.prod(layer.fwd_out[i + 1 :]) for i in range(d)]
    in_strides = [math.prod(layer.fwd_in[i + 1 :]) for i in range(d)]
    # channel offsets of the rows and columns of every (group, out, in) weight entry
    grp = np.arange(g)[:, None, None]
    chan_o = ((grp * co + np.arange(co)[None, :, None]) * n_out).astype(index)
    chan_i = ((grp * ci + np.arange(ci)[None, None, :]) * n_in).astype(index)
    chan_o = np.broadcast_to(chan_o, (g, co, ci)).reshape(-1, 1)
    chan_i = np.broadcast_to(chan_i, (g, co, ci)).reshape(-1, 1)
    wg = w.reshape(g * co * ci, *layer.kernel)
    rows, cols, data = [], [], []
    for tap in np.ndindex(*layer.kernel):
        out_pos = np.zeros(1, dtype=index)
        in_pos = np.zeros(1, dtype=index)
        for dim, a in enumerate(tap):
            p, q = reads[dim][a]
            out_pos = (out_pos[:, None] + p[None, :] * out_strides[dim]).ravel()
            in_pos = (in_pos[:, None] + q[None, :] * in_strides[dim]).ravel()
        if out_pos.size == 0:
            continue
        shape = (g * co * ci, out_pos.size)
        rows.append(np.broadcast_to(chan_o + out_pos.astype(index), shape).ravel())
        cols.append(np.broadcast_to(chan_i + in_pos.astype(index), shape).ravel())
        data.append(np.broadcast_to(wg[(slice(None), *tap)][:, None], shape).ravel())
    fwd_shape = (layer.fwd_cout * n_out, layer.fwd_cin * n_in)
    if rows:
        coo = scipy.sparse.coo_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=fwd_shape
        )
    else:
        coo = scipy.sparse.coo_matrix(fwd_shape)
    matrix = coo.tocsr()
    # a transposed layer is the adjoint of its canonical forward map
    return matrix.T.tocsr() if layer.transposed else matrix


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
    *,
    rtol: float = 1e-12,
    maxiter: int = 1000,
    what: str = "the sparse operator",
) -> np.ndarray:
    """The ``k`` largest singular values by certified block Lanczos, descending.

    :func:`convbench.krylov.certified_top_values`: every copy of a repeated value, each
    value within ``rtol`` times the largest, or a
    :class:`~convbench.krylov.ConvergenceWarning` naming those that are not after
    ``maxiter`` block steps. The default ``rtol`` is near machine precision (about 1.3
    times the steps of ``1e-9``). Falls back to the
    dense SVD when ``k`` is not smaller than the operator's smaller dimension (refused
    for a ``LinearOperator``).
    """
    rows, cols = operator.shape
    if k >= min(rows, cols):
        if isinstance(operator, scipy.sparse.linalg.LinearOperator):
            raise ValueError(f"top_k={k} must be smaller than min(shape)={min(rows, cols)}")
        return dense_singular_values(operator)[:k]
    return certified_top_values(operator, k, rtol=rtol, maxiter=maxiter, what=what)
