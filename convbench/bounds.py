"""A certified upper bound on the spectral norm of a convolution, for any input size.

**Why one number bounds every input size and both boundaries.** Every layer is, up to
the adjoint, one canonical forward map (:mod:`convbench.layer`)

    y[o, p] = sum_{i, a} W[o, i, a] * x[i, s*p + dilation*a - before],

from an input of size ``L`` to ``P`` outputs per dimension, block-diagonal over groups.
With zero padding, embed the input with zeros at ``0 .. L-1`` of a torus of size ``N``,
a multiple of the stride ``s``, and keep the first ``P`` outputs of the periodic layer
on that torus. The reads ``s*p + dilation*a - before`` lie in ``[-before,
s*(P-1) + extent - 1 - before]``. Once ``N >= s*P + extent`` and ``N >= L + before``
(for a forward layer ``N >= n + total padding + max(extent, s)`` is enough), the ``P``
outputs are distinct points of the coarse torus ``N/s``, the reads past the input stay
below ``N``, and the reads before it wrap onto ``[N - before, N)``, outside the input's
support, where the embedded input is zero. So the zero-padded layer is a compression
``R T E`` of the periodic layer ``T`` (``E`` an isometric embedding, ``R`` a coordinate
restriction), and
``||R T E|| <= ||T||``. The periodic layer's singular values are those of the
polyphase symbol's blocks (:meth:`convbench.layer.Conv.polyphase`: one stride-1
kernel per group, the stride's phases as extra input channels)

    B_g(t) = sum_b K[g, :, :, b] exp(i <t, b + origin>)

sampled at ``t = 2*pi*j/(N/s)``, and the periodic layer of any size is itself such a
torus. Hence, for both boundaries, every input size the layer accepts, strided,
dilated, grouped or not, 1-D to 3-D,

    sigma_max <= M = max over groups g and the torus of ||B_g(t)||_2.

A transposed layer is the adjoint of its canonical map and has the same norm. The
padding does not change ``M``: on the torus it shifts the input, which multiplies
``B_g(t)`` by a unitary matrix (a phase permutation with unimodular factors) at every
``t``.

**The branch and bound.** :func:`spectral_norm_bound` bounds ``M`` from above with a
certificate, over cells of the d-dimensional torus (d = 1, 2, 3) with a second-order
margin. Up to a unimodular factor, each entry of ``B_g`` is a trigonometric polynomial
whose frequencies along axis ``i`` lie in an interval of half-width
``tau_i = (taps_i - 1)/2``, ``taps_i`` the polyphase kernel's tap range along axis ``i``.
Let ``(g*, t*)`` be a maximiser and ``u, v`` the top singular vectors of ``B_g*(t*)``;
``f(t) = Re(u^H C(t) v)``, with ``C`` the centred ``B_g*``, satisfies
``f <= ||B_g*|| <= M = f(t*)``, so ``t*`` is a maximum of the smooth ``f`` and its
gradient vanishes there. Along any direction ``e``, ``f`` is of exponential type
``sum_i tau_i |e_i|`` and bounded by ``M``, so Bernstein's inequality bounds its
second derivative by ``(sum_i tau_i |e_i|)^2 M``, and every point ``t`` with
``|t_i - t*_i| <= h_i`` has

    max_g ||B_g(t)|| >= f(t) >= M (1 - q),   q = (sum_i tau_i h_i)^2 / 2.

A cell of half-widths ``h`` whose centre value is below ``(1 - q)`` times the best value
seen cannot hold ``t*`` and is dropped; every other cell bounds the norm inside it by
``max_g ||B_g(centre)|| / (1 - q)``, and ``M`` is at most the largest of these. The
search splits the live cells in ``2^d`` (an axis with a single tap, where ``||B||`` is
constant, is never split), the highest bounds first when there are too many to split
at once. Because the margin is quadratic
in the cell size, a handful of cells survive each level and the bound tightens by a
factor four per level. The cost is some thousands of small SVDs (tens of thousands in
3-D, where the first level alone has ``(4 * sum(taps))^3`` cells), independent of
``n``, where the exact ``sigma_max`` of a zero-padded layer needs Lanczos on the whole
operator (:func:`convbench.extremes.top_singular_values`).

Two safeguards keep the search finite when ``||B||`` is (nearly) constant over the
torus, as for orthogonal convolutions or strided layers whose taps fall in distinct
phases, where no cell can be told apart from another. First, a coefficient bound:
``B_g B_g^T`` (the smaller Gram matrix) is a trigonometric polynomial
``sum_delta C_delta exp(i <t, delta>)`` with ``C_delta = sum_b K_{b+delta} K_b^T``, so
``M^2 <= max_g lambda_max(C_0) + sum_{delta != 0} ||C_delta||_2``, exact when the
Gram matrix does not depend on ``t``; it is computed once (with a slack for the
rounding of the sums) and the search stops as soon as it is within ``rtol`` of the best
value seen. Second, one step splits at most :data:`MAX_CELLS` cells' worth and the
search stops after :data:`MAX_EVALUATIONS` evaluations past the first level: it then
returns the bound it has, still certified, and ``upper / lower - 1`` says how loose it
is.

The bound is ``M``, not the zero-padded ``sigma_max`` itself: that one is smaller by
about ``O(1/n^2)`` relative (its top singular vector is confined to the box), and the
periodic ``sigma_max`` on a given grid is the largest of the samples of ``||B||``, also
at most ``M``.

The bound at one input size, from the embedding torus, is
:func:`convbench.embedding.size_bound`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .layer import Conv, Polyphase, takes_layer
from .symbols import symbol_points

__all__ = [
    "CHUNK_ENTRIES",
    "MAX_CELLS",
    "MAX_EVALUATIONS",
    "ROUNDING",
    "STORED_ENTRIES",
    "UNIT",
    "GramNorms",
    "NormBound",
    "coefficient_bound",
    "compact",
    "spectral_norm_bound",
    "symbol_norms",
    "torus_layer",
]

#: Most cells one refinement step evaluates (the first level always runs whole).
MAX_CELLS = 1 << 16
#: Evaluations after the first level at which the search stops with the bound it has
#: (still certified).
MAX_EVALUATIONS = 1 << 18

# symbol entries evaluated at once (complex128: 64 MiB)
CHUNK_ENTRIES = 1 << 22
# relative slack for rounding in the block SVDs (LAPACK is backward stable to ~1e-15)
ROUNDING = 1e-12
# multiply-adds above which the coefficient bound is skipped (a few seconds)
_COEFFICIENT_WORK = 2e9
# Gram matrices the size bound keeps between its passes (complex128: 256 MiB)
STORED_ENTRIES = 1 << 24
UNIT = 2.0**-53


@dataclass(frozen=True)
class NormBound:
    """Result of :func:`spectral_norm_bound`.

    Attributes
    ----------
    upper : float
        Certified upper bound on the spectral norm of the operator (either boundary,
        any input size).
    lower : float
        The largest ``||B_g(theta)||_2`` evaluated: a lower bound of the torus supremum.
    evaluations : int
        Number of frequencies at which the symbol's norm was computed.
    theta : tuple of float
        The frequency (one angle in ``[0, 2*pi)`` per spatial dimension; ``(t1, t2)``
        for a 2-D layer) where ``lower`` was found: a maximiser of ``||B(theta)||`` to
        within the bound's tolerance.
    """

    upper: float
    lower: float
    evaluations: int
    theta: tuple[float, ...] = (0.0, 0.0)

    def __float__(self) -> float:
        return self.upper


def torus_layer(layer: Conv) -> Conv:
    """The periodic layer on a torus large enough that no polyphase tap folds
    (:meth:`convbench.layer.Conv.torus`).

    Its :meth:`~convbench.layer.Conv.polyphase` kernel is the layer's polyphase symbol
    for every input size (the coarse grid exceeds the taps' range).
    """
    if not isinstance(layer, Conv):
        raise TypeError(f"torus_layer takes a Conv (convbench.as_layer); got {type(layer)}")
    return layer.torus()


def symbol_norms(poly: Polyphase, points: np.ndarray) -> np.ndarray:
    """``max_g ||B_g(t)||_2`` at the points ``t = points[p]`` (``(P, d)`` angles)."""
    g, r, c = poly.kernel.shape[:3]
    out = np.empty(points.shape[0])
    chunk = max(1, CHUNK_ENTRIES // (g * r * c))
    for s in range(0, points.shape[0], chunk):
        blocks = symbol_points(poly, points[s : s + chunk])  # (P, g, r, c)
        out[s : s + chunk] = np.linalg.svd(blocks, compute_uv=False)[..., 0].max(axis=1)
    return out


def compact(poly: Polyphase) -> Polyphase:
    """The polyphase kernel without the rows and columns that are zero in every group and
    tap (phases no tap reads): the blocks' nonzero singular values are unchanged."""
    kernel = poly.kernel
    taps_axes = tuple(range(3, kernel.ndim))
    used_cols = np.any(kernel != 0, axis=(0, 1, *taps_axes))
    used_rows = np.any(kernel != 0, axis=(0, 2, *taps_axes))
    if used_cols.all() and used_rows.all():
        return poly
    if not used_cols.any():  # an all-zero weight: keep one zero column
        used_cols[0] = used_rows[0] = True
    kernel = kernel[:, used_rows][:, :, used_cols]
    return Polyphase(np.ascontiguousarray(kernel), poly.origin, poly.grid, poly.transposed)


class GramNorms:
    """``max_g ||B_g(t)||`` from the Gram polynomial ``B_g B_g^H = sum_delta C_delta
    exp(i <t, delta>)`` (the smaller side), as certified intervals.

    The coefficients ``C_delta = sum_b K_{b+delta} K_b^T`` are formed once; each point
    then costs ``D`` additions of ``r x r`` matrices and the top eigenvalue of a
    Hermitian ``r x r`` matrix (LAPACK's MRRR for one eigenvalue), instead of the SVD of
    an ``r x c`` block: 3-10 times faster for wide strided blocks of 128-512 channels.
    The eigenvalue is exact up to ``slack`` (absolute, on ``||B||^2``): the rounding of
    the coefficients' sums (``gamma_n (sum_b ||K_b||_F)^2``, ``n = c * taps``), of the
    ``D``-term sum with its phases, and LAPACK's backward error (``16 r u ||G||``).
    """

    def __init__(self, poly: Polyphase) -> None:
        kernel = poly.kernel
        if kernel.shape[1] > kernel.shape[2]:
            kernel = kernel.swapaxes(1, 2)
        g, r, c = kernel.shape[:3]
        taps = kernel.shape[3:]
        deltas, coeffs = [], []
        index: dict[tuple[int, ...], int] = {}
        for delta in itertools.product(*(range(-(k - 1), k) for k in taps)):
            mirror = tuple(-e for e in delta)
            if mirror in index:  # C_{-delta} = C_delta^T (real weights): half the GEMMs
                index[delta] = len(deltas)
                deltas.append(delta)
                coeffs.append(coeffs[index[mirror]].transpose(0, 2, 1))
                continue
            index[delta] = len(deltas)
            hi = tuple(slice(max(0, e), k + min(0, e)) for e, k in zip(delta, taps, strict=True))
            lo = tuple(slice(max(0, -e), k - max(0, e)) for e, k in zip(delta, taps, strict=True))
            a = np.moveaxis(kernel[(slice(None), slice(None), slice(None), *hi)], 1, -1)
            b = np.moveaxis(kernel[(slice(None), slice(None), slice(None), *lo)], 1, -1)
            a = a.reshape(g, -1, r)
            b = b.reshape(g, -1, r)
            deltas.append(delta)
            coeffs.append(a.transpose(0, 2, 1) @ b)  # (g, r, r): sum_b K_{b+delta} K_b^T
        self.deltas = np.array(deltas, dtype=np.float64)  # (D, d)
        self.coeffs = np.stack(coeffs, axis=1)  # (g, D, r, r)
        self.r = r
        count = math.prod(taps)
        n = c * count
        tap_norms = np.sqrt(np.sum(kernel.reshape(g, r * c, count) ** 2, axis=1)).sum(axis=1)
        total = float((tap_norms**2).max())
        dterms = len(deltas) + 3
        self._slack_sums = (n * UNIT / (1 - n * UNIT) + dterms * UNIT / (1 - dterms * UNIT))
        self._slack_sums *= total
        self._eigen = 16 * r * UNIT
        centre = deltas.index((0,) * len(taps))
        self.floor = float(np.linalg.eigvalsh(self.coeffs[:, centre])[:, -1].max())

    def relative_slack(self) -> float:
        """An upper bound on the slack relative to ``M^2`` (``M^2 >= lambda_max(C_0)``,
        the torus average of ``B B^H``)."""
        if self.floor <= 0:
            return math.inf
        return self._slack_sums / self.floor + self._eigen

    def __call__(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, r = self.coeffs.shape[0], self.r
        lam = np.empty(points.shape[0])
        chunk = max(1, CHUNK_ENTRIES // (g * r * r))
        flat = self.coeffs.reshape(g, len(self.deltas), r * r)
        for s in range(0, points.shape[0], chunk):
            phase = np.exp(1j * (points[s : s + chunk] @ self.deltas.T))  # (P, D)
            grams = np.einsum("pd,gdk->pgk", phase, flat).reshape(-1, g, r, r)
            for p, gram in enumerate(grams):
                lam[s + p] = max(
                    scipy.linalg.eigh(
                        m, eigvals_only=True, subset_by_index=[r - 1, r - 1], driver="evr",
                        check_finite=False, overwrite_a=True,
                    )[0]
                    for m in gram
                )
        slack = self._slack_sums + self._eigen * np.abs(lam)
        return np.sqrt(np.maximum(lam - slack, 0.0)), np.sqrt(np.maximum(lam, 0.0) + slack)


def _svd_norms(poly: Polyphase, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = symbol_norms(poly, points)  # LAPACK's rounding: ~1e-15, within ROUNDING
    return values, values * (1 + ROUNDING)


def _norms(poly: Polyphase, rtol: float):
    """The evaluator of ``max_g ||B_g(t)||`` as intervals ``(lo, hi)``: the Gram route
    for large blocks when its rounding slack is well below ``rtol``, else batched SVDs."""
    r, c = poly.kernel.shape[1:3]
    small, large = min(r, c), max(r, c)
    if small >= 128 or (small >= 48 and large >= 2 * small):
        gram = GramNorms(poly)
        if gram.relative_slack() <= rtol / 2:
            return gram
    return lambda points: _svd_norms(poly, points)


def coefficient_bound(poly: Polyphase) -> float:
    """A bound on ``M^2`` from the Gram polynomial's coefficients (``inf`` if too costly).

    ``max_g lambda_max(C_0) + sum_{delta != 0} ||C_delta||_2`` with
    ``C_delta = sum_b K_{b+delta} K_b^T`` over the smaller side of the blocks, plus the
    rounding of the sums: each entry is a sum of at most ``n = cols * taps`` products,
    in error by at most ``gamma_n`` times the sum of their moduli, and the sum over
    ``delta`` of those moduli is at most ``(sum_b ||K_b||_F)^2``.
    """
    kernel = poly.kernel
    if kernel.shape[1] > kernel.shape[2]:
        kernel = kernel.swapaxes(1, 2)
    g, r, c = kernel.shape[:3]
    taps = kernel.shape[3:]
    count = math.prod(taps)
    if g * r * r * c * count * math.prod(2 * k - 1 for k in taps) > _COEFFICIENT_WORK:
        return math.inf
    constant = np.zeros(g)
    moving = np.zeros(g)
    for delta in itertools.product(*(range(-(k - 1), k) for k in taps)):
        hi = tuple(slice(max(0, e), k + min(0, e)) for e, k in zip(delta, taps, strict=True))
        lo = tuple(slice(max(0, -e), k - max(0, e)) for e, k in zip(delta, taps, strict=True))
        a = kernel[(slice(None), slice(None), slice(None), *hi)].reshape(g, r, -1)
        b = kernel[(slice(None), slice(None), slice(None), *lo)].reshape(g, r, -1)
        coeff = a @ b.transpose(0, 2, 1)  # (g, r, r): C_delta per group
        if any(delta):
            moving += np.linalg.svd(coeff, compute_uv=False)[:, 0]
        else:
            constant = np.linalg.eigvalsh(coeff)[:, -1]
    n = c * count
    gamma = n * UNIT / (1 - n * UNIT)
    tap_norms = np.sqrt(np.sum(kernel.reshape(g, r * c, count) ** 2, axis=1)).sum(axis=1)
    value = (constant + moving) * (1 + 16 * r * UNIT) + gamma * tap_norms**2
    return float(value.max())


@takes_layer(torus=True)
def spectral_norm_bound(
    layer: Conv,
    *,
    rtol: float = 1e-9,
    grid: int = 32,
    max_levels: int = 40,
) -> NormBound:
    """Certified upper bound on ``sigma_max`` of a convolutional layer, for any input size.

    Valid for ``boundary="zero"`` and ``"periodic"`` and every input the layer accepts
    (see the module docstring for the argument): the maximum over the torus of the
    polyphase symbol's block norms, the largest over the groups. A transposed layer
    has the norm of its forward adjoint. Neither the input size, the boundary nor the
    padding changes the bound.

    Parameters
    ----------
    rtol : float
        Stop once ``upper <= (1 + rtol) * lower``: the bound is then within ``rtol`` of
        the symbol's maximum over the torus.
    grid : int
        Cells per axis of the first level (at least ``4 * sum(taps)`` are used, the
        polyphase kernel's tap ranges summed over the axes).
    max_levels : int
        Most refinement levels of a cell (the first grid is level one); cells there
        are not split again. When no cell can be split any more, or after
        :data:`MAX_EVALUATIONS` evaluations past the first level, the (still valid,
        looser) bound so far is returned.

    Returns
    -------
    NormBound
        ``upper`` (the bound; ``float(result)`` gives it), ``lower`` (the largest
        ``||B(theta)||`` evaluated), the number of evaluations and the maximiser
        ``theta`` (a d-tuple).

    Examples
    --------
    >>> import convbench as cb
    >>> w = cb.pytorch_default(16, 16, 3, seed=0)
    >>> bound = cb.spectral_norm_bound(w).upper
    >>> bound >= cb.singular_values(w, 8, method="explicit", boundary="zero", top_k=1)[0]
    True
    >>> strided = cb.spectral_norm_bound(w, stride=2).upper
    >>> strided >= cb.singular_values(w, 9, stride=2, method="explicit", boundary="zero")[0]
    True
    """
    torus = layer.torus()
    if (
        isinstance(rtol, bool)
        or not isinstance(rtol, (int, float))
        or not math.isfinite(rtol)
        or rtol <= 0
    ):
        raise ValueError(f"rtol must be a positive number; got {rtol!r}")
    for name, value in (("grid", grid), ("max_levels", max_levels)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    poly = compact(torus.polyphase())
    taps = poly.taps
    d = len(taps)
    tau = sum((k - 1) / 2 for k in taps)
    g = max(int(grid), 4 * sum(taps))  # q < 1/2 on the first level
    g += g % 2  # even: the grid is symmetric under t -> -t
    half = math.pi / g
    # an axis with a one-tap kernel is one where ||B|| is constant: never split it
    split = [k > 1 for k in taps]
    # real weights: ||B(-t)|| = ||B(t)||, and the cell of centre -c is a cell of the grid,
    # so the first split axis needs its first half only
    mirror = split.index(True) if any(split) else -1
    centres = [
        2 * math.pi * (np.arange((g // 2 if i == mirror else g) if sp else 1) + 0.5) / g
        for i, sp in enumerate(split)
    ]
    points = np.stack([c.ravel() for c in np.meshgrid(*centres, indexing="ij")], axis=-1)
    flat = math.sqrt(coefficient_bound(poly)) if tau > 0 else math.inf
    norms = _norms(poly, float(rtol))
    children = 2 ** sum(split)
    # the live cells: centres, refinement levels (half-width half / 2**level), and an
    # interval [low, high] holding each centre's exact max_g ||B_g||
    level = np.zeros(points.shape[0], dtype=np.int64)
    low, high = norms(points)
    evaluations = first = low.size
    lower, theta = 0.0, (0.0,) * d
    while True:
        best = int(np.argmax(low))
        if low[best] > lower:
            lower, theta = float(low[best]), tuple(float(t) for t in points[best])
        q = 0.5 * (tau * half / 2.0**level) ** 2
        # a cell can hold the maximiser only if its centre value is >= (1 - q) * M
        keep = high >= (1 - q) * lower
        points, level, low, high, q = points[keep], level[keep], low[keep], high[keep], q[keep]
        caps = high / (1 - q)  # each cell's bound on the norm inside it
        upper = min(float(caps.max()), flat)
        if upper <= (1 + rtol) * lower:
            break
        # split the live cells, those with the highest bounds first
        open_ = np.flatnonzero((q > 0) & (level < max_levels - 1))
        if open_.size == 0 or evaluations - first >= MAX_EVALUATIONS:
            break  # a (nearly) flat norm or no budget left: certified, looser
        open_ = open_[np.argsort(-caps[open_], kind="stable")][: max(1, MAX_CELLS // children)]
        open_.sort()
        step = half / 2.0 ** (level[open_] + 1)
        signs = [np.array([-1.0, 1.0] if sp else [0.0]) for sp in split]
        offsets = np.stack([o.ravel() for o in np.meshgrid(*signs, indexing="ij")], axis=-1)
        new = (points[open_][:, None, :] + step[:, None, None] * offsets[None]).reshape(-1, d)
        new_low, new_high = norms(new)
        evaluations += new_low.size
        rest = np.ones(points.shape[0], dtype=bool)
        rest[open_] = False
        points = np.concatenate([points[rest], new])
        level = np.concatenate([level[rest], np.repeat(level[open_] + 1, children)])
        low = np.concatenate([low[rest], new_low])
        high = np.concatenate([high[rest], new_high])
    upper = max(upper, lower)
    return NormBound(
        upper=float(upper),
        lower=float(lower),
        evaluations=int(evaluations),
        theta=tuple(t % (2 * math.pi) for t in theta),
    )
