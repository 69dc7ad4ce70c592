"""The half frequency plane of the fast path: which blocks are kept, and the plan that
writes them.

Real weights give ``B(-t) = conj(B(t))``: only the columns ``l = 0 .. m//2`` are kept,
the self-conjugate columns only in their rows ``j = 0 .. n//2`` (:func:`half_plane`,
:func:`edge_columns`); a :class:`Plan` holds what every row chunk shares (the weights in
the block orientation, the column contraction, the route of the blocks, the Gram
coefficients of wide blocks) and writes a chunk's blocks where the factorization reads
them (:meth:`Plan.rows`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import routes
from ..routes import block_route
from .factor import check_precision
from .kernels import symbol_soa

__all__ = [
    "Plan",
    "edge_columns",
    "gram_coefficients",
    "half_plane",
    "phases",
    "row_chunks",
    "small_job",
]


def half_plane(n: int, m: int) -> tuple[int, int]:
    """Rows and columns of the computed half plane: ``(n, m//2 + 1)``.

    Rows ``j > n//2`` are computed only in the interior columns ``0 < l < m - l``.
    """
    return n, m // 2 + 1


def edge_columns(m: int) -> np.ndarray:
    """Self-conjugate columns: ``l = 0`` and, for even ``m``, ``l = m/2``."""
    return np.array([0, m // 2]) if m % 2 == 0 and m > 1 else np.array([0])


def phases(k: int, idx: np.ndarray, n: int, dtype: type) -> np.ndarray:
    """``exp(2 pi i * idx * (a - (k-1)//2) / n)`` for ``a < k``, shape ``(len(idx), k)``."""
    offsets = np.arange(k) - (k - 1) // 2
    angle = (np.outer(idx, offsets) % n) * (2 * np.pi / n)
    return np.exp(1j * angle).astype(dtype)


def small_job(n: int, m: int, r: int, k: int) -> bool:
    """:func:`convbench.routes.small_job` of an ``(n, m)`` half plane of ``r x k``
    blocks."""
    return routes.small_job(n * (m // 2 + 1) * r * k, k)


def row_chunks(n: int, m: int, per_row: int, chunk_entries: int) -> list[tuple[int, int]]:
    """Split the rows that keep blocks into chunks of about ``chunk_entries`` block entries.

    Those are ``0 .. n-1``, or ``0 .. n//2`` when every column is self-conjugate
    (``m <= 2``, a 1-D layer's ``(n, 1)`` grid among them): the other rows are their
    conjugates.
    """
    last = n if m > 2 else n // 2 + 1
    rows = max(1, chunk_entries // max(per_row * (m // 2 + 1), 1))
    return [(j, min(j + rows, last)) for j in range(0, last, rows)]


class Plan:
    """Everything shared by the chunks of one computation (validated ``oihw`` weights)."""

    def __init__(self, w: np.ndarray, n: int, m: int, precision: str = "double") -> None:
        self.real, self.cplx = check_precision(precision)
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
        route = block_route(self.r, self.k, precision, small_job(n, m, self.r, self.k))
        self.soa = route in ("gram-soa", "jacobi")  # compiled kernels, block index innermost
        # wide blocks past the compiled kernel: Gram matrices from the layer's Gram
        # coefficients, never the symbol itself
        self.coef = route == "gram-coef"
        if self.coef:
            self.gram_table, self.gram_error = gram_coefficients(self.wa, m, self.cols)
        else:
            _ = self.t  # the column contraction, done once, before the chunks

    @functools.cached_property
    def t(self) -> np.ndarray:
        """``T[a, l, r, k] = sum_b W[r, k, a, b] e2[l, b]``: the symbol's column
        contraction (``(a, r, k, l)``, block index innermost, for the SoA layout)."""
        e2 = phases(self.wa.shape[3], np.arange(self.cols), self.m, self.cplx)  # (cols, kw)
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
        edges = edge_columns(m)
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
        e1 = phases(table.shape[0], np.arange(j0, j1), self.n, self.cplx)
        grams = (e1 @ table.reshape(table.shape[0], -1)).reshape(-1, self.k, self.k)
        if not keep.all():
            grams = grams[keep]
        return grams, weight[keep], keep

    def blocks_at(self, j: np.ndarray, col: np.ndarray) -> np.ndarray:
        """The symbol's ``r x k`` blocks at the frequencies ``(j[i], col[i])``."""
        kh, kw = self.wa.shape[2:]
        e1 = phases(kh, j, self.n, self.cplx)
        e2 = phases(kw, col, self.m, self.cplx)
        return np.einsum("rkab,na,nb->nrk", self.wa, e1, e2, optimize=True)

    def rows(self, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Symbol rows ``j0 .. j1-1`` of the half plane and each block's multiplicity.

        Returns ``(blocks, weights, order)``: for the SoA layout ``blocks`` has shape
        ``(r, k, nblocks)``, else ``(nblocks, r, k)``; ``weights`` holds 1 or 2 per
        block.
        """
        e1 = phases(self.kh, np.arange(j0, j1), self.n, self.cplx)  # (rows, kh)
        nrows = j1 - j0
        weight, keep = self.weights(j0, j1)
        if self.soa:
            # compiled: each kept block written once, block index innermost
            kept = np.flatnonzero(keep)
            blocks = np.empty((self.r, self.k, kept.size), dtype=self.cplx)
            symbol_soa(e1, self.t, kept, self.cols, blocks)
        else:
            flat = e1 @ self.t.reshape(self.kh, -1)  # (rows, cols * r * k)
            blocks = flat.reshape(nrows * self.cols, self.r, self.k)
            if not keep.all():
                blocks = blocks[keep]
        return blocks, weight.ravel()[keep], keep


def gram_coefficients(wa: np.ndarray, m: int, cols: int) -> tuple[np.ndarray, float]:
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
    e2 = phases(2 * kw - 1, np.arange(cols), m, np.complex128)  # offsets -(kw-1) .. kw-1
    table = np.empty((2 * kh - 1, cols, k, k), dtype=np.complex128)
    for x in range(2 * kh - 1):
        table[x] = (e2 @ coef[x].reshape(2 * kw - 1, k * k)).reshape(cols, k, k)
    s = np.abs(wa).sum(axis=(2, 3))
    u = float(np.finfo(np.float64).eps) / 2
    gamma = math.sqrt(2.0) * (r + taps + 2 * kh + 2 * kw + 40) * u
    return table, gamma * float(np.sum(s * s))
