"""The fast path's block factorizations, chosen by block size ``k = min(cout, cin)``
(see :mod:`convbench.fast` for the method and its certificate):

- :func:`block_values`: the singular values of a batch of blocks, by route;
- :func:`values_gram`, :func:`certified_eigenvalues`, :func:`gram_products`: certified
  eigenvalues of Gram matrices, with the SVD for blocks the certificate refuses;
- :func:`values_gram_coef`: Gram matrices from the layer's Gram coefficients
  (:meth:`convbench.fast.plane.Plan.gram_rows`), for wide blocks;
- :func:`values_jacobi`: the compiled Jacobi kernel with its fallback;
- :func:`check_precision`: the working precision's real and complex types.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.linalg.blas

from ..routes import GRAM_SOA_MAX, JACOBI_MAX, block_route
from .kernels import GRAM_TINY, gram_soa, jacobi_soa

if TYPE_CHECKING:
    from .plane import Plan

__all__ = [
    "CERTIFY_RTOL",
    "PRECISIONS",
    "block_values",
    "certified_eigenvalues",
    "check_precision",
    "gram_products",
    "values_gram",
    "values_gram_coef",
    "values_jacobi",
]

#: Relative error (to the block's largest value) the certified Gram path accepts.
CERTIFY_RTOL = 1e-9
#: Accepted values of ``precision``.
PRECISIONS = ("double", "single")

# Blocks per inner batch of the Jacobi kernel (keeps the working set in L1/L2).
_JACOBI_BATCH = 128


def check_precision(precision: Any) -> tuple[type, type]:
    """The real and complex types of ``precision`` (one of :data:`PRECISIONS`)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    return (np.float64, np.complex128) if precision == "double" else (np.float32, np.complex64)


def _values_gram_soa(blocks: np.ndarray) -> np.ndarray:
    """Certified Gram eigenvalues of an (r, k, N) block array, compiled; SVD fallback."""
    r, k, nb = blocks.shape
    out = np.empty((nb, k))
    ok = np.empty(nb, dtype=np.bool_)
    kappa = math.sqrt(2.0) * (r + 2) + 4 * k
    batch = max(8, min(128, (1 << 16) // (k * k)))
    gram_soa(blocks, out, ok, CERTIFY_RTOL, kappa, batch)
    bad = np.flatnonzero(~ok)
    if bad.size:  # uncertified blocks: Jacobi if they are narrow, else LAPACK's SVD
        sub = np.ascontiguousarray(blocks[:, :, bad])
        if k <= JACOBI_MAX:
            out[bad] = values_jacobi(sub, np.float64)
        else:
            out[bad] = np.linalg.svd(sub.transpose(2, 0, 1), compute_uv=False)
    return out


def values_jacobi(blocks: np.ndarray, real: type) -> np.ndarray:
    r, k, nb = blocks.shape
    out = np.empty((nb, k), dtype=real)
    eps = float(np.finfo(real).eps)
    left = jacobi_soa(blocks, out, real(eps * math.sqrt(r)), _JACOBI_BATCH)
    if left:  # pragma: no cover - Jacobi converges quadratically; never seen
        out = np.linalg.svd(blocks.transpose(2, 0, 1), compute_uv=False).astype(real)
    return out


def _values_one(blocks: np.ndarray) -> np.ndarray:
    """k = 1: the 2-norm of each r x 1 block (the modulus when r = 1)."""
    if blocks.shape[1] == 1:
        return np.abs(blocks.reshape(-1, 1))
    return np.linalg.norm(blocks, axis=1)


def _values_two(blocks: np.ndarray) -> np.ndarray:
    """k = 2: closed form, absolute error O(eps * sigma_1) for both values."""
    u, v = blocks[:, :, 0], blocks[:, :, 1]
    a = np.einsum("br,br->b", u.real, u.real) + np.einsum("br,br->b", u.imag, u.imag)
    b = np.einsum("br,br->b", v.real, v.real) + np.einsum("br,br->b", v.imag, v.imag)
    g = np.abs(np.einsum("br,br->b", u.conj(), v))
    lam1 = 0.5 * (a + b) + np.hypot(0.5 * (a - b), g)
    r = blocks.shape[1]
    i, j = np.triu_indices(r, 1)
    minors = u[:, i] * v[:, j] - u[:, j] * v[:, i]  # Cauchy-Binet: det(G) = sum |minor|^2
    d = np.linalg.norm(minors, axis=1)
    s1 = np.sqrt(lam1)
    s2 = np.divide(d, s1, out=np.zeros_like(s1), where=s1 > 0)
    return np.stack([s1, np.minimum(s2, s1)], axis=1)


def certified_eigenvalues(
    gram: np.ndarray, rel: float, fixed: float = 0.0, uplo: str = "L"
) -> tuple[np.ndarray, np.ndarray]:
    """Singular values from Gram matrices ``(nb, k, k)`` (descending per block) and
    whether each block is certified.

    The eigenvalues' absolute error is taken as ``delta = rel * trace + fixed``; a block
    is accepted if ``delta / sigma_min <= CERTIFY_RTOL * sigma_max``, tested in ratios to
    the trace so that nothing underflows. Traces far from 1 (the Gram matrix itself may
    have under- or overflowed) are refused.
    """
    lam = np.linalg.eigvalsh(gram, UPLO=uplo)  # ascending; reads that triangle only
    fro2 = np.einsum("bii->b", gram).real
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lo, hi = lam[:, 0] / fro2, lam[:, -1] / fro2
        bound = rel if fixed == 0.0 else rel + fixed / fro2  # delta / fro2
    in_range = (fro2 >= GRAM_TINY) & (fro2 <= 1.0 / GRAM_TINY)
    ok = in_range & (lo > 0) & (bound * bound <= (CERTIFY_RTOL * CERTIFY_RTOL) * lo * hi)
    return np.sqrt(np.maximum(lam[:, ::-1], 0.0)), ok


def gram_products(blocks: np.ndarray) -> np.ndarray:
    """``B^H B`` of every ``(nb, r, k)`` block, in the upper triangle of each ``k x k``
    result (read it with ``UPLO="U"``; the lower triangle is not written).

    One ``zherk`` per block (BLAS 3, half the work of the full product), with no copy:
    on a C-ordered block ``B`` the Fortran view ``B.T`` gives ``B.T conj(B)``, written
    into the lower triangle of the Fortran view of its slot, which is the upper triangle
    of ``B^H B`` in the slot's own order. In one-off trials on one thread against
    ``numpy.matmul`` of the conjugate transpose: 0.034 ms instead of 0.071 ms at
    k = 64, 0.22 instead of 0.33 at k = 128.
    """
    nb, _r, k = blocks.shape
    if k <= GRAM_SOA_MAX or blocks.dtype != np.complex128:
        # narrow blocks (small jobs, see small_job): one batched product beats a
        # zherk call per block
        return np.matmul(blocks.conj().transpose(0, 2, 1), blocks)
    out = np.empty((nb, k, k), dtype=blocks.dtype)
    herk = scipy.linalg.blas.zherk
    for i in range(nb):
        herk(1.0, blocks[i].T, beta=0.0, c=out[i].T, trans=0, lower=1, overwrite_c=1)
    return out


def values_gram(blocks: np.ndarray) -> np.ndarray:
    """Certified Gram eigenvalues; blocks that fail the certificate get a full SVD.

    Square-ish blocks wider than :data:`GRAM_SQUARE_MAX` skip the Gram matrix: their
    smallest singular values are too small for its certificate (see the constant), so
    the SVD is cheaper than a Gram matrix that is then refused.
    """
    _nb, r, k = blocks.shape
    if block_route(r, k) == "svd":
        return np.linalg.svd(blocks, compute_uv=False)
    gram = gram_products(blocks)
    u = float(np.finfo(np.float64).eps) / 2
    values, ok = certified_eigenvalues(gram, (math.sqrt(2.0) * (r + 2) + 4 * k) * u, uplo="U")
    bad = np.flatnonzero(~ok)
    if bad.size:
        values[bad] = np.linalg.svd(blocks[bad], compute_uv=False)
    return values


def values_gram_coef(plan: Plan, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
    """Certified values of rows ``j0 .. j1-1`` from the Gram coefficients, and each
    block's multiplicity; uncertified blocks are recomputed from their symbol blocks
    (:func:`values_gram`: the product's own bound, then the SVD)."""
    grams, weight, keep = plan.gram_rows(j0, j1)
    u = float(np.finfo(np.float64).eps) / 2
    values, ok = certified_eigenvalues(grams, 4 * plan.k * u, plan.gram_error)
    bad = np.flatnonzero(~ok)
    if bad.size:
        flat = np.flatnonzero(keep)[bad]
        values[bad] = values_gram(plan.blocks_at(j0 + flat // plan.cols, flat % plan.cols))
    return values, weight


def block_values(blocks: np.ndarray, soa: bool, precision: str = "double") -> np.ndarray:
    """Singular values of a batch of blocks, ``(nblocks, k)``, unsorted within blocks.

    Parameters
    ----------
    blocks : numpy.ndarray
        Complex blocks, ``(r, k, nblocks)`` if ``soa`` else ``(nblocks, r, k)``, with
        ``r >= k``.
    soa : bool
        Layout flag (block index innermost); used for ``3 <= k <= JACOBI_MAX``.
    precision : {"double", "single"}
        Working precision.
    """
    real, _cplx = check_precision(precision)
    if soa:
        if precision == "double":
            return _values_gram_soa(blocks)
        if blocks.shape[1] <= JACOBI_MAX:
            return values_jacobi(blocks, real)
        return np.linalg.svd(blocks.transpose(2, 0, 1), compute_uv=False)
    k = blocks.shape[2]
    if k == 1:
        return _values_one(blocks)
    if k == 2:
        return _values_two(blocks)
    if precision == "single":
        return np.linalg.svd(blocks, compute_uv=False)
    return values_gram(blocks)
