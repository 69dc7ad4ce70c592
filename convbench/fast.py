"""The ``fast`` path: the periodic spectrum built for speed, with the same result.

What makes it fast, each part measured against the reference paths
(``scripts/fast_targets.py`` prints the comparison):

* **Half the frequency plane.** Real weights give ``B(-t) = conj(B(t))``, so the block at
  ``(-j mod n, -l mod m)`` has the same singular values as the block at ``(j, l)``. Only
  the columns ``l = 0 .. m//2`` are computed; in the self-conjugate columns ``l = 0`` and
  ``l = m/2`` (``m`` even) only the rows ``j = 0 .. n//2`` are kept, and the blocks that are
  their own conjugate (``j`` in ``{0, n/2}`` there, real matrices) count once, every other
  kept block twice.
* **The symbol written where the SVD reads it**, row chunk by row chunk, so a chunk stays
  in cache and chunks can go to a thread pool (``threads``); the stencil contraction over
  the columns is done once for the half plane.
* **A factorization chosen by block size** ``k = min(cout, cin)``:

  - ``k = 1``: the singular value is the 2-norm of the block (for ``cin = cout = 1`` the
    modulus of the symbol);
  - ``k = 2``: a closed form. With the Gram entries ``a, b, g`` the larger value is
    ``sqrt((a+b)/2 + hypot((a-b)/2, |g|))`` (no cancellation) and the smaller one is
    ``D / sigma_1`` where ``D`` is ``|det|`` from the 2x2 minors (Cauchy-Binet), so both
    have absolute error ``O(eps * sigma_1)``;
  - ``k >= 3``: eigenvalues of the Gram matrix ``B^H B``, *certified* block by block.
    For ``k <= GRAM_SOA_MAX`` a compiled kernel forms the Gram matrix, scales it to unit
    trace, reduces it to real tridiagonal form by Householder reflections and runs
    implicit QL, all vectorised across blocks (structure of arrays: the block index is
    the innermost axis); wider blocks (up to ``GRAM_SQUARE_MAX`` when square-ish) take
    their Gram matrix from one ``zherk`` each and LAPACK's ``heevd`` through numpy, and
    wider square blocks, which the certificate below refuses, go straight to the SVD
    (measured per block and per width: see ``GRAM_SQUARE_MAX``). Eigenvalues of the Gram
    matrix have absolute error at most ``delta = kappa * u * ||B||_F**2``
    (``kappa = sqrt(2) * (r + 2) + 4 k``, ``r`` the larger block dimension: the Gram
    product's rounding plus the eigensolver's backward error), so
    ``|sigma~ - sigma| <= delta / sigma~``. A block is accepted only if this is at most
    ``CERTIFY_RTOL = 1e-9`` times its own largest singular value for its smallest one
    (hence for all), and only if its trace is far from under- and overflow. The other
    blocks get one-sided (Hestenes) Jacobi if ``k <= JACOBI_MAX`` (compiled, vectorised
    across blocks, backward stable column by column, each block first scaled by a power
    of two so that no square under- or overflows), else LAPACK's SVD. The ``sqrt(eps)``
    loss of the Gram approach therefore never reaches a returned value. On one thread the
    compiled Gram kernel is 1.4x faster than Jacobi at 4 channels and 3.6x at 8.
  - wide blocks past the compiled kernel (``k > GRAM_SOA_MAX``, ``r >= GRAM_COEF_ASPECT
    * k``: a strided layer's polyphase blocks, ``cout x 4 cin``) never form the symbol:
    ``G(t) = A(t)^H A(t)`` is a trigonometric polynomial whose ``(2 kh - 1)(2 kw - 1)``
    real ``k x k`` coefficients are computed once (:func:`_gram_coefficients`), so a
    Gram matrix costs ``(2 kh - 1) k^2`` per block instead of ``r k^2`` plus the symbol.
    Its rounding error is bounded by one number for the whole layer; blocks that bound
    does not certify are recomputed from their symbol blocks as above. On one thread a
    ``(128, 64, 3, 3)`` stride-2 layer at ``n = 56`` took 0.42 s instead of 0.74 s
    (medians of 4 interleaved runs), nine tenths of it LAPACK's eigenvalues; its ratio
    to lfa is tracked by ``scripts/layer_targets.py``.

* **Linear-time ordering.** Each worker writes its chunk's values straight into their
  slot of one array; the same pool radix-sorts it (each thread one part of a pass) and
  writes the descending output with every doubled value twice
  (:mod:`convbench.ordering`). Where numpy's sort is vectorised (AVX2, AVX-512) and
  measures faster, it sorts instead (:func:`convbench.ordering.sort_method`).

Single precision (``precision="single"``) is an opt-in: complex64 symbol and float32
factorizations (Jacobi up to ``JACOBI_MAX``, else LAPACK SVD; no Gram shortcut), about
``1e-6 * sigma_max``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import scipy.linalg.blas

from . import ordering, routes
from .budget import check_memory, estimate_bytes
from .layer import Conv, takes_layer
from .routes import (
    GRAM_COEF_ASPECT,
    GRAM_SOA_MAX,
    GRAM_SQUARE_MAX,
    JACOBI_MAX,
    block_route,
)
from .symbols import default_threads

__all__ = [
    "CERTIFY_RTOL",
    "GRAM_COEF_ASPECT",
    "GRAM_SOA_MAX",
    "GRAM_SQUARE_MAX",
    "JACOBI_MAX",
    "PRECISIONS",
    "HalfPlaneSymbol",
    "block_values",
    "check_threads",
    "fast_singular_values",
    "half_plane",
    "half_plane_symbol",
    "half_plane_values",
    "iter_half_plane",
    "self_conjugate_blocks",
]

#: Relative error (to the block's largest value) the certified Gram path accepts.
CERTIFY_RTOL = 1e-9
#: Accepted values of ``precision``.
PRECISIONS = ("double", "single")

# Target number of block entries per chunk: a chunk of symbol stays in L2 cache.
_CHUNK_ENTRIES = 1 << 17
# Gram traces outside [_GRAM_TINY, 1/_GRAM_TINY] are sent to the SVD (no scaling trouble).
_GRAM_TINY = 1e-250
# Blocks per inner batch of the Jacobi kernel (keeps the working set in L1/L2).
_JACOBI_BATCH = 128


def check_threads(threads: Any) -> int:
    """Validate ``threads`` (``None``: all cores) and return a positive int."""
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
    return int(threads)


def _check_precision(precision: Any) -> tuple[type, type]:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    return (np.float64, np.complex128) if precision == "double" else (np.float32, np.complex64)


# ---------------------------------------------------------------------------------------
# the half plane


def half_plane(n: int, m: int) -> tuple[int, int]:
    """Rows and columns of the computed half plane: ``(n, m//2 + 1)``.

    Rows ``j > n//2`` are computed only in the interior columns ``0 < l < m - l``.
    """
    return n, m // 2 + 1


def _edge_columns(m: int) -> np.ndarray:
    """Self-conjugate columns: ``l = 0`` and, for even ``m``, ``l = m/2``."""
    return np.array([0, m // 2]) if m % 2 == 0 and m > 1 else np.array([0])


def _phases(k: int, idx: np.ndarray, n: int, dtype: type) -> np.ndarray:
    """``exp(2 pi i * idx * (a - (k-1)//2) / n)`` for ``a < k``, shape ``(len(idx), k)``."""
    offsets = np.arange(k) - (k - 1) // 2
    angle = (np.outer(idx, offsets) % n) * (2 * np.pi / n)
    return np.exp(1j * angle).astype(dtype)


def _small_job(n: int, m: int, r: int, k: int) -> bool:
    """:func:`convbench.routes.small_job` of an ``(n, m)`` half plane of ``r x k``
    blocks."""
    return routes.small_job(n * (m // 2 + 1) * r * k, k)


def _row_chunks(n: int, m: int, per_row: int, chunk_entries: int) -> list[tuple[int, int]]:
    """Split the rows that keep blocks into chunks of about ``chunk_entries`` block entries.

    Those are ``0 .. n-1``, or ``0 .. n//2`` when every column is self-conjugate
    (``m <= 2``, a 1-D layer's ``(n, 1)`` grid among them): the other rows are their
    conjugates.
    """
    last = n if m > 2 else n // 2 + 1
    rows = max(1, chunk_entries // max(per_row * (m // 2 + 1), 1))
    return [(j, min(j + rows, last)) for j in range(0, last, rows)]


class _Plan:
    """Everything shared by the chunks of one computation (validated ``oihw`` weights)."""

    def __init__(self, w: np.ndarray, n: int, m: int, precision: str = "double") -> None:
        self.real, self.cplx = _check_precision(precision)
        self.precision = precision
        cout, cin, kh, _kw = w.shape
        self.n, self.m = n, m
        self.cout, self.cin, self.kh = cout, cin, kh
        self.k = min(cout, cin)
        self.r = max(cout, cin)
        self.cols = m // 2 + 1
        # rows j > n//2 keep only the interior columns 0 < l < m - l
        interior = np.arange(self.cols)
        interior = interior[(interior > 0) & (2 * interior != m)]
        self.interior = interior
        # orientation: A is r x k; transpose (not conjugate) when cout < cin
        wa = w if cout >= cin else w.transpose(1, 0, 2, 3)
        self.wa = wa.astype(self.real)
        # compiled kernels read the block index innermost
        route = block_route(self.r, self.k, precision, _small_job(n, m, self.r, self.k))
        self.soa = route in ("gram-soa", "jacobi")  # compiled kernels, block index innermost
        # wide blocks past the compiled kernel: Gram matrices from the layer's Gram
        # coefficients, never the symbol itself
        self.coef = route == "gram-coef"
        if self.coef:
            self.gram_table, self.gram_error = _gram_coefficients(self.wa, m, self.cols)
        else:
            _ = self.t  # the column contraction, done once, before the chunks

    @functools.cached_property
    def t(self) -> np.ndarray:
        """``T[a, l, r, k] = sum_b W[r, k, a, b] e2[l, b]``: the symbol's column
        contraction (``(a, r, k, l)``, block index innermost, for the SoA layout)."""
        e2 = _phases(self.wa.shape[3], np.arange(self.cols), self.m, self.cplx)  # (cols, kw)
        t = np.einsum("rkab,lb->alrk", self.wa, e2, optimize=True)
        if self.soa:
            # the Jacobi kernel wants the block index innermost: (a, r, k, l)
            t = t.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(t)

    def weights(self, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
        """Each block's multiplicity (0, 1 or 2) in rows ``j0 .. j1-1`` and the mask of
        kept blocks (multiplicity > 0), both flat over ``(row, column)``."""
        n, m = self.n, self.m
        j = np.arange(j0, j1)
        weight = np.full((j1 - j0, self.cols), 2, dtype=np.int8)
        edges = _edge_columns(m)
        lower = j > n // 2  # rows whose edge columns are conjugates of kept rows
        weight[np.ix_(lower, edges)] = 0
        self_conj = (j == 0) | ((n % 2 == 0) & (2 * j == n))
        weight[np.ix_(self_conj, edges)] = 1
        weight = weight.ravel()
        return weight, weight > 0

    def gram_rows(self, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gram matrices ``A^H A`` of the kept blocks of rows ``j0 .. j1-1`` from the
        Gram coefficients (``coef`` plans): ``(grams (nblocks, k, k), weights, keep)``."""
        weight, keep = self.weights(j0, j1)
        table = self.gram_table  # (2 kh - 1, cols, k, k)
        e1 = _phases(table.shape[0], np.arange(j0, j1), self.n, self.cplx)
        grams = (e1 @ table.reshape(table.shape[0], -1)).reshape(-1, self.k, self.k)
        if not keep.all():
            grams = grams[keep]
        return grams, weight[keep], keep

    def blocks_at(self, j: np.ndarray, col: np.ndarray) -> np.ndarray:
        """The symbol's ``r x k`` blocks at the frequencies ``(j[i], col[i])``."""
        kh, kw = self.wa.shape[2:]
        e1 = _phases(kh, j, self.n, self.cplx)
        e2 = _phases(kw, col, self.m, self.cplx)
        return np.einsum("rkab,na,nb->nrk", self.wa, e1, e2, optimize=True)

    def rows(self, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Symbol rows ``j0 .. j1-1`` of the half plane and each block's multiplicity.

        Returns ``(blocks, weights, order)``: for the SoA layout ``blocks`` has shape
        ``(r, k, nblocks)``, else ``(nblocks, r, k)``; ``weights`` holds 1 or 2 per
        block.
        """
        e1 = _phases(self.kh, np.arange(j0, j1), self.n, self.cplx)  # (rows, kh)
        nrows = j1 - j0
        weight, keep = self.weights(j0, j1)
        if self.soa:
            # compiled: each kept block written once, block index innermost
            kept = np.flatnonzero(keep)
            blocks = np.empty((self.r, self.k, kept.size), dtype=self.cplx)
            _symbol_soa(e1, self.t, kept, self.cols, blocks)
        else:
            flat = e1 @ self.t.reshape(self.kh, -1)  # (rows, cols * r * k)
            blocks = flat.reshape(nrows * self.cols, self.r, self.k)
            if not keep.all():
                blocks = blocks[keep]
        return blocks, weight.ravel()[keep], keep


@numba.njit(cache=True, nogil=True)
def _symbol_soa(e1, t, kept, cols, out):  # pragma: no cover - compiled
    """``out[i, p, b] = sum_a e1[j, a] * t[a, i, p, l]`` for the ``b``-th kept ``(j, l)``.

    ``kept`` holds the flat indices ``j * cols + l`` (``j`` relative to the chunk).
    """
    kh, r, k, _cols = t.shape
    for i in range(r):
        for p in range(k):
            for b in range(kept.size):
                f = kept[b]
                j = f // cols
                col = f - j * cols
                acc = e1[j, 0] * t[0, i, p, col]
                for a in range(1, kh):
                    acc += e1[j, a] * t[a, i, p, col]
                out[i, p, b] = acc


# ---------------------------------------------------------------------------------------
# block factorizations


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _jacobi_batch(ar, ai, out, tol, max_sweeps):  # pragma: no cover - compiled
    """One-sided Jacobi on a batch of complex r x k matrices stored as (r, k, nb) re/im."""
    r, k, nb = ar.shape
    zero = ar.dtype.type(0)
    one = ar.dtype.type(1)
    half = ar.dtype.type(0.5)
    tol2 = tol * tol
    alpha = np.empty(nb, dtype=ar.dtype)
    beta = np.empty(nb, dtype=ar.dtype)
    gr = np.empty(nb, dtype=ar.dtype)
    gi = np.empty(nb, dtype=ar.dtype)
    flag = np.empty(nb, dtype=ar.dtype)
    cs = np.empty(nb, dtype=ar.dtype)
    sn = np.empty(nb, dtype=ar.dtype)
    pc = np.empty(nb, dtype=ar.dtype)
    ps = np.empty(nb, dtype=ar.dtype)
    tiny = np.finfo(ar.dtype).tiny
    for _sweep in range(max_sweeps):
        active = 0
        for p in range(k - 1):
            for q in range(p + 1, k):
                for b in range(nb):
                    alpha[b] = zero
                    beta[b] = zero
                    gr[b] = zero
                    gi[b] = zero
                for i in range(r):
                    for b in range(nb):
                        xr = ar[i, p, b]
                        xi = ai[i, p, b]
                        yr = ar[i, q, b]
                        yi = ai[i, q, b]
                        alpha[b] += xr * xr + xi * xi
                        beta[b] += yr * yr + yi * yi
                        gr[b] += xr * yr + xi * yi
                        gi[b] += xr * yi - xi * yr
                # rotation parameters; branch-free so that the loop vectorises
                for b in range(nb):
                    g2 = gr[b] * gr[b] + gi[b] * gi[b]
                    rotate = (g2 > tol2 * (alpha[b] * beta[b])) & (g2 > tiny)
                    mask = one if rotate else zero
                    ginv = one / math.sqrt(g2 + (one - mask))
                    zeta = half * (beta[b] - alpha[b]) * ginv
                    az = abs(zeta)
                    t = one / (az + math.sqrt(one + az * az))
                    t = t if zeta >= zero else -t
                    c = one / math.sqrt(one + t * t)
                    cs[b] = one + mask * (c - one)
                    sn[b] = mask * c * t
                    pc[b] = one + mask * (gr[b] * ginv - one)
                    ps[b] = mask * gi[b] * ginv
                    flag[b] = mask
                for b in range(nb):
                    if flag[b] > zero:
                        active += 1
                        break
                for i in range(r):
                    for b in range(nb):
                        # y' = y * exp(-i phi) makes the inner product real and positive
                        qr = ar[i, q, b]
                        qi = ai[i, q, b]
                        yr = qr * pc[b] + qi * ps[b]
                        yi = qi * pc[b] - qr * ps[b]
                        xr = ar[i, p, b]
                        xi = ai[i, p, b]
                        ar[i, p, b] = cs[b] * xr - sn[b] * yr
                        ai[i, p, b] = cs[b] * xi - sn[b] * yi
                        ar[i, q, b] = sn[b] * xr + cs[b] * yr
                        ai[i, q, b] = sn[b] * xi + cs[b] * yi
        if active == 0:
            break
    for p in range(k):
        for b in range(nb):
            alpha[b] = zero
        for i in range(r):
            for b in range(nb):
                alpha[b] += ar[i, p, b] * ar[i, p, b] + ai[i, p, b] * ai[i, p, b]
        for b in range(nb):
            out[b, p] = math.sqrt(alpha[b])
    return active


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _jacobi_soa(blocks, out, tol, batch):  # pragma: no cover - compiled
    """Jacobi on every block of an (r, k, nblocks) complex array, ``batch`` at a time."""
    r, k, nb = blocks.shape
    ar = np.empty((r, k, batch), dtype=out.dtype)
    ai = np.empty((r, k, batch), dtype=out.dtype)
    biggest = np.empty(batch)
    expo = np.empty(batch, dtype=np.int64)
    scale = np.empty(batch, dtype=out.dtype)
    unconverged = 0
    for b0 in range(0, nb, batch):
        b1 = min(b0 + batch, nb)
        w = b1 - b0
        # scale each block by a power of two (exact) to entries below 1 in modulus, so
        # that the squares in the rotations neither underflow nor overflow
        for b in range(w):
            biggest[b] = 0.0
        for i in range(r):
            for p in range(k):
                for b in range(w):
                    z = blocks[i, p, b0 + b]
                    biggest[b] = max(biggest[b], abs(z.real), abs(z.imag))
        for b in range(w):
            expo[b] = math.frexp(biggest[b])[1]
            scale[b] = math.ldexp(1.0, -expo[b])
        for i in range(r):
            for p in range(k):
                for b in range(w):
                    z = blocks[i, p, b0 + b]
                    ar[i, p, b] = z.real * scale[b]
                    ai[i, p, b] = z.imag * scale[b]
        left = _jacobi_batch(ar[:, :, :w], ai[:, :, :w], out[b0:b1], tol, 60)
        for b in range(w):
            for p in range(k):
                out[b0 + b, p] = math.ldexp(out[b0 + b, p], expo[b])
        unconverged += left
    return unconverged


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _tridiagonal_eigenvalues(d, e):  # pragma: no cover - compiled
    """Eigenvalues of the symmetric tridiagonal (``d``, ``e``), ascending, in ``d``.

    Implicit QL with Wilkinson shifts (``e[i]`` couples ``d[i]`` and ``d[i+1]``;
    ``e[-1]`` is ignored and overwritten). Returns ``False`` if an eigenvalue did not
    converge in 60 iterations. The caller scales the matrix to unit trace, so plain
    square roots replace ``hypot`` (nothing overflows; ``|g| <= 1/(2 eps)``, and what
    underflows is below ``eps`` of the trace).
    """
    k = d.size
    e[k - 1] = 0.0
    eps = np.finfo(np.float64).eps
    for ll in range(k):
        it = 0
        while True:
            mm = ll
            while mm < k - 1:
                dd = abs(d[mm]) + abs(d[mm + 1])
                if abs(e[mm]) <= eps * dd:
                    break
                mm += 1
            if mm == ll:
                break
            it += 1
            if it > 60:
                return False
            g = (d[ll + 1] - d[ll]) / (2.0 * e[ll])
            r = math.sqrt(g * g + 1.0)
            g = d[mm] - d[ll] + e[ll] / (g + (r if g >= 0 else -r))
            s = 1.0
            c = 1.0
            p = 0.0
            i = mm - 1
            underflow = False
            while i >= ll:
                f = s * e[i]
                b = c * e[i]
                r = math.sqrt(f * f + g * g)
                e[i + 1] = r
                if r == 0.0:
                    d[i + 1] -= p
                    e[mm] = 0.0
                    underflow = True
                    break
                s = f / r
                c = g / r
                g = d[i + 1] - p
                r = (d[i] - g) * s + 2.0 * c * b
                p = s * r
                d[i + 1] = g + p
                g = c * r - b
                i -= 1
            if underflow:
                continue
            d[ll] -= p
            e[ll] = g
            e[mm] = 0.0
    for i in range(1, k):  # insertion sort, k is small
        v = d[i]
        j = i - 1
        while j >= 0 and d[j] > v:
            d[j + 1] = d[j]
            j -= 1
        d[j + 1] = v
    return True


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _gram_batch(blocks, b0, nb, gr, gi, vr, vi, pr, pi, tau, alpha, out, ok, rtol, kappa):
    """Certified Gram eigenvalues of blocks ``b0 .. b0+nb-1`` of an (r, k, N) array.

    Forms ``G = B^H B`` (block index innermost, so the loops vectorise across blocks),
    reduces it to real symmetric tridiagonal form by Householder reflections and finds
    the eigenvalues by implicit QL. ``ok[b]`` says whether the block passed the
    certificate described in the module docstring.
    """  # pragma: no cover - compiled
    r, k, _n = blocks.shape
    u = np.finfo(np.float64).eps / 2
    for p in range(k):
        for q in range(p, k):
            for b in range(nb):
                gr[p, q, b] = 0.0
                gi[p, q, b] = 0.0
        for i in range(r):
            for q in range(p, k):
                for b in range(nb):
                    x = blocks[i, p, b0 + b]
                    y = blocks[i, q, b0 + b]
                    gr[p, q, b] += x.real * y.real + x.imag * y.imag
                    gi[p, q, b] += x.real * y.imag - x.imag * y.real
        for q in range(p + 1, k):
            for b in range(nb):
                gr[q, p, b] = gr[p, q, b]
                gi[q, p, b] = -gi[p, q, b]
    # scale G to unit trace so that no square in the reduction under- or overflows;
    # blocks whose trace is outside [_GRAM_TINY, 1/_GRAM_TINY] go to the SVD instead
    fro2 = np.zeros(nb)
    for p in range(k):
        for b in range(nb):
            fro2[b] += gr[p, p, b]
    inv = np.empty(nb)
    for b in range(nb):
        inv[b] = 1.0 / fro2[b] if fro2[b] > 0.0 else 0.0
    for p in range(k):
        for q in range(k):
            for b in range(nb):
                gr[p, q, b] *= inv[b]
                gi[p, q, b] *= inv[b]
    d = np.empty((k, nb))
    e = np.zeros((k, nb))
    for j in range(k - 2):
        # the reflector that zeroes G[j+2:, j]
        for b in range(nb):
            alpha[b] = 0.0
        for i in range(j + 1, k):
            for b in range(nb):
                alpha[b] += gr[i, j, b] * gr[i, j, b] + gi[i, j, b] * gi[i, j, b]
        for b in range(nb):
            a = math.sqrt(alpha[b])
            xr = gr[j + 1, j, b]
            xi = gi[j + 1, j, b]
            a0 = math.sqrt(xr * xr + xi * xi)  # unit trace: no overflow
            big = a0 > 0.0
            cr = xr / a0 if big else 1.0
            ci = xi / a0 if big else 0.0
            vr[j + 1, b] = xr + cr * a
            vi[j + 1, b] = xi + ci * a
            vv = 2.0 * a * (a + a0)
            tau[b] = 2.0 / vv if vv > 0.0 else 0.0
            e[j, b] = a
        for i in range(j + 2, k):
            for b in range(nb):
                vr[i, b] = gr[i, j, b]
                vi[i, b] = gi[i, j, b]
        # p = tau * G22 v
        for i in range(j + 1, k):
            for b in range(nb):
                pr[i, b] = 0.0
                pi[i, b] = 0.0
            for ll in range(j + 1, k):
                for b in range(nb):
                    ar = gr[i, ll, b]
                    ai = gi[i, ll, b]
                    pr[i, b] += ar * vr[ll, b] - ai * vi[ll, b]
                    pi[i, b] += ar * vi[ll, b] + ai * vr[ll, b]
            for b in range(nb):
                pr[i, b] *= tau[b]
                pi[i, b] *= tau[b]
        # q = p - (tau/2) (v^H p) v, then G22 -= v q^H + q v^H
        for b in range(nb):
            alpha[b] = 0.0
        for i in range(j + 1, k):
            for b in range(nb):
                alpha[b] += vr[i, b] * pr[i, b] + vi[i, b] * pi[i, b]
        for b in range(nb):
            alpha[b] *= 0.5 * tau[b]
        for i in range(j + 1, k):
            for b in range(nb):
                pr[i, b] -= alpha[b] * vr[i, b]
                pi[i, b] -= alpha[b] * vi[i, b]
        for i in range(j + 1, k):
            for ll in range(j + 1, k):
                for b in range(nb):
                    gr[i, ll, b] -= (vr[i, b] * pr[ll, b] + vi[i, b] * pi[ll, b]
                                     + pr[i, b] * vr[ll, b] + pi[i, b] * vi[ll, b])
                    gi[i, ll, b] -= (vi[i, b] * pr[ll, b] - vr[i, b] * pi[ll, b]
                                     + pi[i, b] * vr[ll, b] - pr[i, b] * vi[ll, b])
    for b in range(nb):
        for i in range(k):
            d[i, b] = gr[i, i, b]
        xr = gr[k - 1, k - 2, b]
        xi = gi[k - 1, k - 2, b]
        e[k - 2, b] = math.sqrt(xr * xr + xi * xi)
    dd = np.empty(k)
    ee = np.empty(k)
    for b in range(nb):
        for i in range(k):
            dd[i] = d[i, b]
            ee[i] = e[i, b]
        good = _tridiagonal_eigenvalues(dd, ee)
        lo = dd[0]
        hi = dd[k - 1]
        delta = kappa * u  # the error bound relative to the (unit) trace
        in_range = _GRAM_TINY <= fro2[b] <= 1.0 / _GRAM_TINY
        ok[b0 + b] = good and in_range and lo > 0.0 and delta * delta <= rtol * rtol * lo * hi
        for i in range(k):
            out[b0 + b, i] = math.sqrt(max(dd[k - 1 - i], 0.0) * fro2[b])


@numba.njit(cache=True, nogil=True)
def _gram_soa(blocks, out, ok, rtol, kappa, batch):  # pragma: no cover - compiled
    """:func:`_gram_batch` over every block of an (r, k, N) array, ``batch`` at a time."""
    k = blocks.shape[1]
    n = blocks.shape[2]
    gr = np.empty((k, k, batch))
    gi = np.empty((k, k, batch))
    vr = np.zeros((k, batch))
    vi = np.zeros((k, batch))
    pr = np.zeros((k, batch))
    pi = np.zeros((k, batch))
    tau = np.empty(batch)
    alpha = np.empty(batch)
    for b0 in range(0, n, batch):
        nb = min(batch, n - b0)
        _gram_batch(blocks, b0, nb, gr, gi, vr, vi, pr, pi, tau, alpha, out, ok, rtol, kappa)


def _values_gram_soa(blocks: np.ndarray) -> np.ndarray:
    """Certified Gram eigenvalues of an (r, k, N) block array, compiled; SVD fallback."""
    r, k, nb = blocks.shape
    out = np.empty((nb, k))
    ok = np.empty(nb, dtype=np.bool_)
    kappa = math.sqrt(2.0) * (r + 2) + 4 * k
    batch = max(8, min(128, (1 << 16) // (k * k)))
    _gram_soa(blocks, out, ok, CERTIFY_RTOL, kappa, batch)
    bad = np.flatnonzero(~ok)
    if bad.size:  # uncertified blocks: Jacobi if they are narrow, else LAPACK's SVD
        sub = np.ascontiguousarray(blocks[:, :, bad])
        if k <= JACOBI_MAX:
            out[bad] = _values_jacobi(sub, np.float64)
        else:
            out[bad] = np.linalg.svd(sub.transpose(2, 0, 1), compute_uv=False)
    return out


def _values_jacobi(blocks: np.ndarray, real: type) -> np.ndarray:
    r, k, nb = blocks.shape
    out = np.empty((nb, k), dtype=real)
    eps = float(np.finfo(real).eps)
    left = _jacobi_soa(blocks, out, real(eps * math.sqrt(r)), _JACOBI_BATCH)
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


def _certified_eigenvalues(
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
    in_range = (fro2 >= _GRAM_TINY) & (fro2 <= 1.0 / _GRAM_TINY)
    ok = in_range & (lo > 0) & (bound * bound <= (CERTIFY_RTOL * CERTIFY_RTOL) * lo * hi)
    return np.sqrt(np.maximum(lam[:, ::-1], 0.0)), ok


def _gram_products(blocks: np.ndarray) -> np.ndarray:
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
        # narrow blocks (small jobs, see _small_job): one batched product beats a
        # zherk call per block
        return np.matmul(blocks.conj().transpose(0, 2, 1), blocks)
    out = np.empty((nb, k, k), dtype=blocks.dtype)
    herk = scipy.linalg.blas.zherk
    for i in range(nb):
        herk(1.0, blocks[i].T, beta=0.0, c=out[i].T, trans=0, lower=1, overwrite_c=1)
    return out


def _values_gram(blocks: np.ndarray) -> np.ndarray:
    """Certified Gram eigenvalues; blocks that fail the certificate get a full SVD.

    Square-ish blocks wider than :data:`GRAM_SQUARE_MAX` skip the Gram matrix: their
    smallest singular values are too small for its certificate (see the constant), so
    the SVD is cheaper than a Gram matrix that is then refused.
    """
    _nb, r, k = blocks.shape
    if block_route(r, k) == "svd":
        return np.linalg.svd(blocks, compute_uv=False)
    gram = _gram_products(blocks)
    u = float(np.finfo(np.float64).eps) / 2
    values, ok = _certified_eigenvalues(gram, (math.sqrt(2.0) * (r + 2) + 4 * k) * u, uplo="U")
    bad = np.flatnonzero(~ok)
    if bad.size:
        values[bad] = np.linalg.svd(blocks[bad], compute_uv=False)
    return values


def _gram_coefficients(wa: np.ndarray, m: int, cols: int) -> tuple[np.ndarray, float]:
    """The Gram matrix ``G(t) = A(t)^H A(t)`` of an ``r x k`` symbol as a trigonometric
    polynomial, contracted over the columns of the half plane; and its error bound.

    With ``A(t) = sum_(a,b) K_ab exp(i t.(a, b))`` (``K_ab = wa[:, :, a, b]``, real),
    ``G(t) = sum_D C_D exp(i t.D)`` with ``C_D = sum_{(a',b')-(a,b)=D} K_ab^T K_a'b'``:
    ``(2 kh - 1)(2 kw - 1)`` real ``k x k`` matrices, whatever ``r``. Evaluating them costs
    ``(2 kh - 1)(2 kw - 1) k^2`` per block instead of ``r k^2`` for the product.

    Error: every entry of ``C_D`` is a sum of ``r`` products and at most ``kh kw`` pair
    terms; the two phase contractions add ``2 kh + 2 kw`` terms and the phases' own
    rounding. Entry by entry ``|G~ - G| <= gamma * sum_(all pairs) |K_ab|^T |K_a'b'|
    = gamma * S^T S`` with ``S = sum_ab |K_ab|``, so ``||G~ - G||_2 <= gamma ||S||_F^2``
    with ``gamma <= sqrt(2) (r + kh kw + 2 kh + 2 kw + 40) u`` (generous). Unlike the
    product's ``kappa u ||A(t)||_F^2`` this bound does not shrink where the symbol is
    small, hence :data:`GRAM_COEF_ASPECT`.

    Returns
    -------
    table : numpy.ndarray
        complex ``(2 kh - 1, cols, k, k)``: ``sum_y C[x, y] exp(2 pi i l (y - kw + 1) / m)``.
    error : float
        The bound ``gamma ||S||_F^2`` on the spectral norm of every evaluated Gram
        matrix's error (before the eigensolver's own).
    """
    r, k, kh, kw = wa.shape
    taps = kh * kw
    stacked = wa.reshape(r, k, taps).transpose(0, 2, 1).reshape(r, taps * k)
    pairs = (stacked.T @ stacked).reshape(kh, kw, k, kh, kw, k)
    coef = np.zeros((2 * kh - 1, 2 * kw - 1, k, k))
    for a in range(kh):
        for b in range(kw):
            for a2 in range(kh):
                for b2 in range(kw):
                    coef[a2 - a + kh - 1, b2 - b + kw - 1] += pairs[a, b, :, a2, b2, :]
    e2 = _phases(2 * kw - 1, np.arange(cols), m, np.complex128)  # offsets -(kw-1) .. kw-1
    table = np.empty((2 * kh - 1, cols, k, k), dtype=np.complex128)
    for x in range(2 * kh - 1):
        table[x] = (e2 @ coef[x].reshape(2 * kw - 1, k * k)).reshape(cols, k, k)
    s = np.abs(wa).sum(axis=(2, 3))
    u = float(np.finfo(np.float64).eps) / 2
    gamma = math.sqrt(2.0) * (r + taps + 2 * kh + 2 * kw + 40) * u
    return table, gamma * float(np.sum(s * s))


def _values_gram_coef(plan: _Plan, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
    """Certified values of rows ``j0 .. j1-1`` from the Gram coefficients, and each
    block's multiplicity; uncertified blocks are recomputed from their symbol blocks
    (:func:`_values_gram`: the product's own bound, then the SVD)."""
    grams, weight, keep = plan.gram_rows(j0, j1)
    u = float(np.finfo(np.float64).eps) / 2
    values, ok = _certified_eigenvalues(grams, 4 * plan.k * u, plan.gram_error)
    bad = np.flatnonzero(~ok)
    if bad.size:
        flat = np.flatnonzero(keep)[bad]
        values[bad] = _values_gram(plan.blocks_at(j0 + flat // plan.cols, flat % plan.cols))
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
    real, _cplx = _check_precision(precision)
    if soa:
        if precision == "double":
            return _values_gram_soa(blocks)
        if blocks.shape[1] <= JACOBI_MAX:
            return _values_jacobi(blocks, real)
        return np.linalg.svd(blocks.transpose(2, 0, 1), compute_uv=False)
    k = blocks.shape[2]
    if k == 1:
        return _values_one(blocks)
    if k == 2:
        return _values_two(blocks)
    if precision == "single":
        return np.linalg.svd(blocks, compute_uv=False)
    return _values_gram(blocks)


# ---------------------------------------------------------------------------------------
# driving the chunks


def _chunk(plan: _Plan, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
    """Values of one row chunk: ``(doubles, singles)``, both flat, unsorted."""
    if plan.coef:
        return _by_weight(*_values_gram_coef(plan, j0, j1))
    blocks, weight, _keep = plan.rows(j0, j1)
    return _split(plan, blocks, weight)


def _split(plan: _Plan, blocks: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of a chunk's blocks, split into ``(doubles, singles)`` by multiplicity."""
    return _by_weight(block_values(blocks, plan.soa, plan.precision), weight)


def _by_weight(values: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-block values ``(nblocks, k)`` split into ``(doubles, singles)``, both flat."""
    once = weight == 1
    if once.any():
        return values[~once].ravel(), values[once].ravel()
    return values.ravel(), values[:0].ravel()


def iter_half_plane(
    plan: _Plan,
    threads: int,
    chunk_entries: int = _CHUNK_ENTRIES,
    sort_chunks: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(doubles, singles)`` per row chunk, computed by a pool of ``threads``.

    At most ``2 * threads`` chunks are in flight, so memory does not grow with ``n``.
    """
    chunks = _row_chunks(plan.n, plan.m, plan.r * plan.k, chunk_entries)

    def work(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        d, s = _chunk(plan, *bounds)
        if sort_chunks:
            d = np.sort(d)
        return d, s

    if threads == 1 or len(chunks) == 1:
        for bounds in chunks:
            yield work(bounds)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending = []
        it = iter(chunks)
        for bounds in it:
            pending.append(pool.submit(work, bounds))
            if len(pending) >= 2 * threads:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


def _doubles_per_row(plan: _Plan) -> np.ndarray:
    """Values each row of the half plane contributes to the doubled (weight 2) list."""
    n = plan.n
    j = np.arange(n)
    edges = _edge_columns(plan.m).size
    self_conj = (j == 0) | ((n % 2 == 0) & (2 * j == n))
    edge_doubles = np.where((j > n // 2) | self_conj, 0, edges)
    return plan.k * (plan.interior.size + edge_doubles)


def fast_singular_values(
    w: np.ndarray,
    n: int,
    m: int,
    *,
    threads: int | None = None,
    precision: str = "double",
    top_k: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """All singular values, descending, by the fast path (validated ``oihw`` input).

    The row chunks of the half plane go to a pool of ``threads`` workers, each writing
    its values straight into their slot of one array; the same pool then sorts that
    array (:func:`convbench.ordering.sort`: a radix sort or numpy's, with passes shared
    by the threads) and writes the descending output, each value of a
    non-self-conjugate frequency twice. Peak memory: the half-plane values, the output
    (twice their size; it doubles as the sort's scratch space) and one chunk per thread.

    Parameters
    ----------
    w : numpy.ndarray
        float64 ``(cout, cin, kh, kw)`` weights, already validated.
    n, m : int
        Input size.
    threads : int, optional
        Size of the thread pool (default: all cores).
    precision : {"double", "single"}
        ``"single"`` trades accuracy (about ``1e-6 * sigma_max``) for speed.
    top_k : int, optional
        Return only the ``top_k`` largest.
    progress : callable, optional
        Called with the number of chunks finished after each chunk.

    Returns
    -------
    numpy.ndarray
        1-D float64 (``"single"``: float32) array, descending.
    """
    threads = check_threads(threads)
    plan = _Plan(w, n, m, precision)
    chunks = _row_chunks(n, m, plan.r * plan.k, _CHUNK_ENTRIES)
    full = _ordered(plan, chunks, lambda i: _chunk(plan, *chunks[i]), threads, progress)
    return full if top_k is None else full[:top_k].copy()


def _ordered(
    plan: _Plan,
    chunks: list[tuple[int, int]],
    values_of: Callable[[int], tuple[np.ndarray, np.ndarray]],
    threads: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """The descending spectrum from the ``(doubles, singles)`` of every row chunk.

    ``values_of(i)`` computes chunk ``i`` (rows ``chunks[i]``); a pool of ``threads``
    calls it, each result written straight into its slot, then the same pool sorts and
    expands (see :func:`fast_singular_values`).
    """
    n, m = plan.n, plan.m
    per_row = np.concatenate([[0], np.cumsum(_doubles_per_row(plan))])
    offsets = [int(per_row[j0]) for j0, _ in chunks] + [int(per_row[-1])]
    n_single = self_conjugate_blocks(n, m) * plan.k
    doubles = np.empty(int(per_row[-1]), dtype=plan.real)
    if 2 * doubles.size + n_single != n * m * plan.k:  # pragma: no cover - bookkeeping
        raise RuntimeError("half plane bookkeeping does not add up")

    def work(i: int) -> np.ndarray:
        d, s = values_of(i)
        if d.size != offsets[i + 1] - offsets[i]:  # pragma: no cover - bookkeeping
            raise RuntimeError(f"chunk {chunks[i]} gave {d.size} values")
        doubles[offsets[i] : offsets[i + 1]] = d
        return s

    pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
    try:
        results = pool.map(work, range(len(chunks))) if pool else map(work, range(len(chunks)))
        singles = []
        for s in results:
            singles.append(s)
            if progress is not None:
                progress(1)
        singles_all = np.concatenate(singles)
        full = np.empty(2 * doubles.size + n_single, dtype=plan.real)
        submit = pool.submit if pool else None
        if plan.real is np.float64:
            ordering.sort(doubles, full, threads, submit)
        else:  # single precision: numpy's sort (the radix kernels are for float64)
            doubles.sort()
        ordering.expand_descending(doubles, singles_all, full, threads, submit)
    finally:
        if pool is not None:
            pool.shutdown()
    return full


@dataclass(frozen=True, eq=False)
class HalfPlaneSymbol:
    """The fast path's symbol, held whole: every kept block of half the frequency plane.

    Made by :func:`half_plane_symbol`, read by :func:`half_plane_values`. The two split
    the ``fast`` path into its transform and its factorization (plus ordering) so that
    each can be timed on its own; :func:`fast_singular_values` never holds the whole
    symbol (each chunk is factorized while it is in cache).

    Attributes
    ----------
    shape : tuple of int
        Input size ``(n, m)``.
    chunks : tuple of (numpy.ndarray, numpy.ndarray)
        Per row chunk: the blocks in the layout the factorization reads (block index
        innermost for ``3 <= min(cout, cin) <= GRAM_SOA_MAX``, ``JACOBI_MAX`` in single
        precision, else outermost) and each block's multiplicity (1 or 2).
    nbytes : int
        Bytes held by the blocks.
    """

    chunks: tuple[tuple[np.ndarray, np.ndarray], ...]
    _plan: _Plan = field(repr=False)
    _bounds: tuple[tuple[int, int], ...] = field(repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self._plan.n, self._plan.m

    @property
    def nbytes(self) -> int:
        return sum(blocks.nbytes for blocks, _ in self.chunks)


@takes_layer(boundaries=("periodic",))
def half_plane_symbol(
    layer: Conv,
    *,
    precision: str = "double",
    memory_budget: int | float | str | None = None,
) -> HalfPlaneSymbol:
    """The ``fast`` path's transform on its own: every kept block of the half plane.

    One thread, chunk by chunk as :func:`fast_singular_values` writes them, but all
    kept: about half the memory of :func:`convbench.symbol`.

    The layer is the plain 2-D one (forward, stride 1, undilated, ungrouped, 'same'
    padding); others raise a ``ValueError``.

    Parameters
    ----------
    precision : {"double", "single"}
        complex128 or complex64 blocks.
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`).

    Returns
    -------
    HalfPlaneSymbol
        The blocks; :func:`half_plane_values` turns them into the spectrum.
    """
    if not layer.is_plain:
        raise ValueError(
            "half_plane_symbol takes the plain 2-D layer's weight (cout, cin, kh, kw); "
            f"got {layer.describe()}"
        )
    w = layer.weight
    n, m = layer.shape
    _check_precision(precision)
    cout, cin = w.shape[:2]
    needed = estimate_bytes("fast", layer, stage="transform", precision=precision)
    check_memory(
        needed,
        memory_budget,
        f"the fast path's half-plane symbol at {n}x{m} with {cout}x{cin} channels",
        "Use a smaller input size, or singular_values(method='fast'), which never holds it.",
    )
    plan = _Plan(w, n, m, precision)
    bounds = tuple(_row_chunks(n, m, plan.r * plan.k, _CHUNK_ENTRIES))
    chunks = tuple(plan.rows(j0, j1)[:2] for j0, j1 in bounds)
    return HalfPlaneSymbol(chunks, plan, bounds)


def half_plane_values(symbol: HalfPlaneSymbol) -> np.ndarray:
    """The ``fast`` path's factorization and ordering on their own, one thread.

    Parameters
    ----------
    symbol : HalfPlaneSymbol
        From :func:`half_plane_symbol`.

    Returns
    -------
    numpy.ndarray
        All singular values, descending: the result of ``fast_singular_values``, bit
        for bit, except for wide blocks past the compiled kernel (``GRAM_COEF_ASPECT``),
        which ``fast_singular_values`` factorizes from the Gram coefficients without the
        symbol, and this function from the symbol it is given (both certified).
    """
    if not isinstance(symbol, HalfPlaneSymbol):
        raise TypeError(f"symbol must come from half_plane_symbol(); got {type(symbol).__name__}")
    plan = symbol._plan
    return _ordered(plan, list(symbol._bounds), lambda i: _split(plan, *symbol.chunks[i]), 1)


def self_conjugate_blocks(n: int, m: int) -> int:
    """Number of frequencies ``t`` with ``-t = t``: ``(j, l)`` in ``{0, n/2} x {0, m/2}``."""
    return (1 + (n % 2 == 0)) * (1 + (m % 2 == 0))
