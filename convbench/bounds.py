"""A certified upper bound on the spectral norm of a convolution, for any input size.

The zero-padded operator on an ``n x m`` input is a compression of the periodic
operator on any larger grid ``N1 x N2`` with ``N1 >= n + kh - 1`` and
``N2 >= m + kw - 1`` (embed the input with zeros, keep the first ``n x m`` outputs),
and the periodic operator's singular values are those of the symbol ``B(theta)`` on
that grid. Hence, for both boundaries and every input size,

    sigma_max <= M = max over the torus of ||B(theta)||_2.

:func:`spectral_norm_bound` bounds ``M`` from above with a certificate, by branch and
bound over the torus with a second-order margin. Up to a unimodular factor, each entry
of ``B`` is a trigonometric polynomial whose frequencies along axis ``i`` lie in an
interval of half-width ``tau_i = (k_i - 1)/2``. Let ``theta*`` be a maximiser and ``u, v``
the top singular vectors of ``B(theta*)``; ``g(theta) = Re(u^H B(theta) v)`` (suitably
phased) satisfies ``g <= ||B|| <= M = g(theta*)``, so ``theta*`` is a maximum of the smooth
``g`` and its gradient vanishes there. Bernstein's inequality bounds the second
derivatives of ``g`` by ``tau_i tau_j M``, so every point ``theta`` with
``|theta_i - theta*_i| <= h_i`` has

    ||B(theta)|| >= g(theta) >= M (1 - q),   q = (tau_1 h_1 + tau_2 h_2)^2 / 2.

A cell of half-widths ``h`` whose centre value is below ``(1 - q)`` times the best value
seen cannot hold ``theta*`` and is dropped; the others are split in four, and
``M <= max over kept cells of ||B(centre)|| / (1 - q)``. Because the margin is quadratic
in the cell size, a handful of cells survive each level and the bound tightens by a
factor four per level. The cost is a few thousand ``c x c`` SVDs, independent of ``n``,
where the exact ``sigma_max`` of a zero-padded layer needs Lanczos on the whole operator
(:func:`convbench.operators.top_singular_values`).

The bound is ``M``, not the zero-padded ``sigma_max`` itself: that one is smaller by
about ``O(1/n^2)`` relative (its top singular vector is confined to the box), and the
periodic ``sigma_max`` on an ``n x m`` grid is the largest of the ``n*m`` samples of
``||B||``, also at most ``M``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .weights import as_oihw

__all__ = ["NormBound", "spectral_norm_bound"]

# symbol entries evaluated at once (complex128: 64 MiB)
_CHUNK_ENTRIES = 1 << 22
# relative slack for rounding in the block SVDs (LAPACK is backward stable to ~1e-15)
_ROUNDING = 1e-12


@dataclass(frozen=True)
class NormBound:
    """Result of :func:`spectral_norm_bound`.

    Attributes
    ----------
    upper : float
        Certified upper bound on the spectral norm of the operator (either boundary,
        any input size).
    lower : float
        The largest ``||B(theta)||_2`` evaluated: a lower bound of the torus supremum.
    evaluations : int
        Number of frequencies at which the symbol's norm was computed.
    theta : tuple of float
        The frequency ``(t1, t2)`` where ``lower`` was found: a maximiser of
        ``||B(theta)||`` to within the bound's tolerance.
    """

    upper: float
    lower: float
    evaluations: int
    theta: tuple[float, float] = (0.0, 0.0)

    def __float__(self) -> float:
        return self.upper


def _norms(w: np.ndarray, t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """``||B(t1[i], t2[i])||_2`` at the points ``(t1[i], t2[i])`` (not a grid)."""
    _cout, _cin, kh, kw = w.shape
    a = np.arange(kh) - (kh - 1) // 2
    b = np.arange(kw) - (kw - 1) // 2
    out = np.empty(t1.size)
    chunk = max(1, _CHUNK_ENTRIES // (w.shape[0] * w.shape[1]))
    for s in range(0, t1.size, chunk):
        e1 = np.exp(1j * np.outer(t1[s : s + chunk], a))  # (P, kh)
        e2 = np.exp(1j * np.outer(t2[s : s + chunk], b))  # (P, kw)
        blocks = np.einsum("pa,pb,oiab->poi", e1, e2, w, optimize=True)
        out[s : s + chunk] = np.linalg.svd(blocks, compute_uv=False)[:, 0]
    return out


def spectral_norm_bound(
    weight: Any,
    layout: str = "oihw",
    *,
    rtol: float = 1e-9,
    grid: int = 32,
    max_levels: int = 40,
) -> NormBound:
    """Certified upper bound on ``sigma_max`` of the convolution, for any input size.

    Valid for ``boundary="zero"`` and ``"periodic"`` and every ``n x m`` input the
    kernel fits (see the module docstring for the argument).

    Parameters
    ----------
    weight : array_like
        Real 4-D weights in ``layout``.
    layout : {"oihw", "hwio"}
        Weight layout.
    rtol : float
        Stop once ``upper <= (1 + rtol) * lower``: the bound is then within ``rtol`` of
        the symbol's maximum over the torus.
    grid : int
        Cells per axis of the first level (at least ``4 * (kh + kw)`` are used).
    max_levels : int
        Most refinement levels; if reached, the (still valid, looser) bound so far is
        returned.

    Returns
    -------
    NormBound
        ``upper`` (the bound; ``float(result)`` gives it), ``lower`` (the largest
        ``||B(theta)||`` evaluated) and the number of evaluations.

    Examples
    --------
    >>> import convbench as cb
    >>> w = cb.pytorch_default(16, 16, 3, seed=0)
    >>> bound = cb.spectral_norm_bound(w).upper
    >>> bound >= cb.singular_values(w, 8, method="explicit", boundary="zero", top_k=1)[0]
    True
    """
    w = as_oihw(weight, layout)
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
    _cout, _cin, kh, kw = w.shape
    tau1, tau2 = (kh - 1) / 2, (kw - 1) / 2
    g = max(int(grid), 4 * (kh + kw))  # q < 1/2 on the first level
    half = math.pi / g
    # an axis with a one-tap kernel is one where ||B|| is constant: never split it
    split1, split2 = tau1 > 0, tau2 > 0
    c1 = 2 * math.pi * (np.arange(g if split1 else 1) + 0.5) / g
    c2 = 2 * math.pi * (np.arange(g if split2 else 1) + 0.5) / g
    t1, t2 = (c.ravel() for c in np.meshgrid(c1, c2, indexing="ij"))
    lower, evaluations, theta = 0.0, 0, (0.0, 0.0)
    for _level in range(max_levels):
        values = _norms(w, t1, t2)
        evaluations += values.size
        best = int(np.argmax(values))
        if values[best] > lower:
            lower, theta = float(values[best]), (float(t1[best]), float(t2[best]))
        q = 0.5 * ((tau1 + tau2) * half) ** 2
        # a cell can hold the maximiser only if its centre value is >= (1 - q) * M
        keep = values >= (1 - q) * lower
        upper = float(values[keep].max()) / (1 - q)
        if upper <= (1 + rtol) * lower or q == 0.0:
            break
        half /= 2
        d1 = np.array([-half, half] if split1 else [0.0])
        d2 = np.array([-half, half] if split2 else [0.0])
        o1, o2 = (d.ravel() for d in np.meshgrid(d1, d2, indexing="ij"))
        t1 = (t1[keep][:, None] + o1).ravel()
        t2 = (t2[keep][:, None] + o2).ravel()
    upper = max(upper, lower) * (1 + _ROUNDING)
    return NormBound(
        upper=float(upper),
        lower=float(lower),
        evaluations=int(evaluations),
        theta=(theta[0] % (2 * math.pi), theta[1] % (2 * math.pi)),
    )
