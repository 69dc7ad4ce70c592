"""Approximate spectra of zero-padded convolutions from symbol samples.

With zero padding the convolution is a block two-level Toeplitz matrix, not a block
circulant one, and its singular values are not samples of the symbol. Sorted, they
differ from the periodic ("circular") spectrum by ``O(k/n)`` relative to ``sigma_max``:
the boundary rows see fewer kernel taps. :func:`approximate` gives a spectrum of the
exact length ``n*m*min(cout, cin)``, sorted descending, from ``O(n*m)`` symbol
evaluations, with one of the models in :data:`MODELS`:

``"circular"``
    The periodic spectrum, as the LFA paper compares it with zero padding.
``"mixture"``
    The local-kernel mixture. Output row ``p`` of the zero-padded operator is the row of
    a periodic convolution whose kernel keeps only the taps that read inside the input
    (``0 <= p + a - ph < n``). Rows fall into ``kh`` classes along the first axis
    (``ph`` top rows, ``kh - 1 - ph`` bottom rows, the interior) and ``kw`` along the
    second, so there are at most ``kh*kw`` masked kernels. The model is the mixture of
    their symbols' singular value distributions, each weighted by its number of output
    pixels, returned as its ``n*m*min(cout, cin)`` mid-point quantiles. It reproduces
    the exact Frobenius norm of the zero-padded operator (:func:`mixture_distribution`
    has the exact mean of ``sigma^2``), and it shrinks the edge part of the spectrum as
    zero padding does. The interior class is sampled on the half-shifted grid
    ``2*pi*(j + 1/2)/n``; the edge classes on at most :data:`EDGE_GRID` points per
    masked axis.
``"mixture_top"``
    The mixture with its largest value replaced by :func:`sigma_max_estimate` (and the
    others clipped to it). The quantiles of any limit distribution put ``sigma_max`` at
    the symbol's supremum, which the zero-padded operator reaches only as
    ``n -> infinity``: its top singular vector is confined to the box, like the ground
    state of a particle in a box, which lowers ``sigma_max^2`` by about
    ``(1/2) * (H11*h1^2 + H22*h2^2)`` with ``h = pi/(n+1)`` and ``H`` the Hessian of
    ``||B(theta)||^2`` at its maximiser. The estimate evaluates exactly that: the mean
    of ``||B||^2`` at the four points ``theta* +- (h1, h2)``, whose cross terms cancel.

``"best"`` is the model this package recommends (:data:`BEST`). The measured errors
against dense exact spectra are in the README (section "Zero padding") and come from
:func:`model_errors_vs_n`.

Reference for the idea of comparing with the circular approximation: X. Yi,
"Asymptotic singular value distribution of linear convolutional layers" (spectral
density of the block doubly Toeplitz matrix).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import spectrum_errors
from .explicit import BOUNDARIES
from .svd import sort_descending
from .weights import as_oihw, as_shape, check_fits, pytorch_default

__all__ = [
    "BEST",
    "EDGE_GRID",
    "MODELS",
    "approximate",
    "compare_models",
    "mixture_distribution",
    "model_errors_vs_n",
    "sigma_max_estimate",
    "symbol_at",
]

#: Models accepted by :func:`approximate` (plus ``"best"``).
MODELS = ("circular", "mixture", "mixture_top")
#: The recommended model, used for ``model="best"``.
BEST = "mixture_top"
#: Most frequency samples per axis for an edge class of the mixture.
EDGE_GRID = 16
# symbol entries computed at once (complex128): bounds the working memory
_CHUNK_ENTRIES = 2**22


def symbol_at(w: np.ndarray, t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """The symbol ``B(t1[j], t2[l])`` at arbitrary frequencies, ``(len(t1), len(t2), cout, cin)``.

    Parameters
    ----------
    w : numpy.ndarray
        float64 ``(cout, cin, kh, kw)`` weights.
    t1, t2 : numpy.ndarray
        1-D frequencies along each axis.

    Returns
    -------
    numpy.ndarray
        complex128 symbol blocks, centred as in :mod:`convbench.symbols`.
    """
    _cout, _cin, kh, kw = w.shape
    e1 = np.exp(1j * np.outer(np.asarray(t1, dtype=np.float64), np.arange(kh) - (kh - 1) // 2))
    e2 = np.exp(1j * np.outer(np.asarray(t2, dtype=np.float64), np.arange(kw) - (kw - 1) // 2))
    t = np.einsum("oiab,lb->aloi", w, e2, optimize=True)  # (kh, L, cout, cin)
    out = e1 @ t.reshape(kh, -1)
    return out.reshape(len(e1), len(e2), w.shape[0], w.shape[1])


def _block_values(w: np.ndarray, t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """Singular values of the symbol on the grid ``t1 x t2``, chunked over ``t1``."""
    cout, cin = w.shape[:2]
    rows = max(1, _CHUNK_ENTRIES // max(1, len(t2) * cout * cin))
    parts = [
        np.linalg.svd(symbol_at(w, t1[i : i + rows], t2), compute_uv=False).ravel()
        for i in range(0, len(t1), rows)
    ]
    return np.concatenate(parts)


def _row_classes(k: int, n: int) -> list[tuple[np.ndarray, int]]:
    """Masks of the taps that stay inside ``[0, n)`` for each output row, with counts."""
    ph = (k - 1) // 2
    counts: dict[tuple[bool, ...], int] = {}
    # rows further than k from both edges all have the full mask
    for p in (*range(min(n, k)), *range(max(k, n - k), n)):
        mask = tuple(0 <= p + a - ph < n for a in range(k))
        counts[mask] = counts.get(mask, 0) + 1
    interior = n - min(n, k) - (n - max(k, n - k))
    if interior > 0:
        full = (True,) * k
        counts[full] = counts.get(full, 0) + interior
    return [(np.array(mask), count) for mask, count in counts.items()]


def _half_grid(g: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies ``2*pi*(j + 1/2)/g`` of one half of the grid and their weights.

    ``j`` and ``g - 1 - j`` are opposite frequencies, whose blocks are complex
    conjugates for real weights: one of each pair is kept with weight 2.
    """
    half = g // 2
    t = 2 * np.pi * (np.arange(half + g % 2) + 0.5) / g
    weights = np.full(t.size, 2.0)
    if g % 2:
        weights[-1] = 1.0  # theta = pi is its own opposite
    return t, weights


def mixture_distribution(w: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The local-kernel mixture as weighted singular values.

    Parameters
    ----------
    w : numpy.ndarray
        float64 ``(cout, cin, kh, kw)`` weights.
    n, m : int
        Input size.

    Returns
    -------
    tuple of numpy.ndarray
        ``(values, weights)``: singular values of the masked kernels' symbols and
        probability weights summing to 1. ``sum(weights * values**2)``, the mean of
        ``sigma^2``, equals the squared Frobenius norm of the zero-padded operator
        divided by ``n*m*min(cout, cin)``.
    """
    _cout, _cin, kh, kw = w.shape
    values, weights = [], []
    for mask_r, count_r in _row_classes(kh, n):
        g1 = n if mask_r.all() else min(n, EDGE_GRID)
        t1, w1 = _half_grid(g1)
        for mask_c, count_c in _row_classes(kw, m):
            g2 = m if mask_c.all() else min(m, EDGE_GRID)
            t2 = 2 * np.pi * (np.arange(g2) + 0.5) / g2
            masked = w * np.outer(mask_r, mask_c)
            s = _block_values(masked, t1, t2).reshape(t1.size, t2.size, -1)
            share = count_r * count_c / (n * m)  # this class's share of the output pixels
            wt = (w1[:, None, None] / (g1 * g2 * s.shape[-1])) * share
            values.append(s.ravel())
            weights.append(np.broadcast_to(wt, s.shape).ravel())
    return np.concatenate(values), np.concatenate(weights)


def _quantiles(values: np.ndarray, weights: np.ndarray, count: int) -> np.ndarray:
    """Mid-point quantiles ``(i + 1/2)/count`` of a weighted distribution, descending."""
    order = np.argsort(values)[::-1]
    v = values[order]
    cum = np.cumsum(weights[order])
    cum /= cum[-1]
    u = (np.arange(count) + 0.5) / count
    return v[np.minimum(np.searchsorted(cum, u), v.size - 1)]


def sigma_max_estimate(w: np.ndarray, n: int, m: int, grid: int = 64) -> float:
    """Estimate of the zero-padded ``sigma_max`` from the symbol (particle in a box).

    Finds the maximiser ``theta*`` of ``||B(theta)||`` on a ``grid x grid`` frequency
    grid refined four times locally, then returns the root mean square of ``||B||`` at
    ``theta* + (+-pi/(n+1), +-pi/(m+1))``. Not a bound: see
    :func:`convbench.bounds.spectral_norm_bound` for a guaranteed one.

    Parameters
    ----------
    w : numpy.ndarray
        float64 ``(cout, cin, kh, kw)`` weights.
    n, m : int
        Input size.
    grid : int
        Points per axis of the search grid.

    Returns
    -------
    float
        The estimate.
    """
    _cout, _cin, kh, kw = w.shape
    g1, g2 = max(grid, 4 * kh), max(grid, 4 * kw)
    t1 = 2 * np.pi * np.arange(g1) / g1
    t2 = 2 * np.pi * np.arange(g2) / g2
    top = _block_values_top(w, t1, t2)
    i1, i2 = np.unravel_index(int(np.argmax(top)), top.shape)
    c1, c2 = t1[i1], t2[i2]
    h1, h2 = 2 * np.pi / g1, 2 * np.pi / g2
    for _ in range(4):
        s1, s2 = c1 + np.linspace(-h1, h1, 9), c2 + np.linspace(-h2, h2, 9)
        top = _block_values_top(w, s1, s2)
        i1, i2 = np.unravel_index(int(np.argmax(top)), top.shape)
        c1, c2 = s1[i1], s2[i2]
        h1, h2 = h1 / 4, h2 / 4
    d1, d2 = np.pi / (n + 1), np.pi / (m + 1)
    corners = _block_values_top(w, np.array([c1 - d1, c1 + d1]), np.array([c2 - d2, c2 + d2]))
    return float(np.sqrt(np.mean(corners**2)))


def _block_values_top(w: np.ndarray, t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """Largest singular value of the symbol on the grid, shape ``(len(t1), len(t2))``."""
    cout, cin = w.shape[:2]
    s = _block_values(w, t1, t2).reshape(len(t1), len(t2), min(cout, cin))
    return s[..., 0]


def approximate(
    weight: Any,
    shape: int | tuple[int, int],
    boundary: str = "zero",
    model: str = "best",
    layout: str = "oihw",
) -> np.ndarray:
    """Approximate singular values of the zero-padded convolution from symbol samples.

    Parameters
    ----------
    weight : array_like
        Real 4-D weights in ``layout``.
    shape : int or tuple of int
        Input size ``n`` or ``(n, m)``.
    boundary : {"zero", "periodic"}
        ``"zero"``: approximate the zero-padded spectrum with ``model``.
        ``"periodic"``: the exact periodic spectrum (every model coincides).
    model : {"best", "circular", "mixture", "mixture_top"}
        See the module docstring; ``"best"`` is :data:`BEST`.
    layout : {"oihw", "hwio"}
        Weight layout.

    Returns
    -------
    numpy.ndarray
        ``n*m*min(cout, cin)`` values, sorted descending.
    """
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}; got {boundary!r}")
    if model == "best":
        model = BEST
    if model not in MODELS:
        raise ValueError(f"model must be 'best' or one of {MODELS}; got {model!r}")
    w = as_oihw(weight, layout)
    n, m = as_shape(shape)
    check_fits(w, n, m)
    cout, cin = w.shape[:2]
    count = n * m * min(cout, cin)
    if boundary == "periodic" or model == "circular":
        t1 = 2 * np.pi * np.arange(n) / n
        t2 = 2 * np.pi * np.arange(m) / m
        return sort_descending(_block_values(w, t1, t2))
    values = _quantiles(*mixture_distribution(w, n, m), count)
    if model == "mixture_top":
        top = sigma_max_estimate(w, n, m)
        values = np.minimum(values, top)
        values[0] = top
    return np.ascontiguousarray(values)


def compare_models(
    weight: Any,
    shape: int | tuple[int, int],
    models: tuple[str, ...] = MODELS,
    layout: str = "oihw",
    *,
    exact: np.ndarray | None = None,
    memory_budget: int | float | str | None = None,
) -> list[dict[str, Any]]:
    """Every model against the exact zero-padded spectrum for one layer.

    Parameters
    ----------
    weight : array_like
        Real 4-D weights in ``layout``.
    shape : int or tuple of int
        Input size ``n`` or ``(n, m)``.
    models : tuple of str
        Models to evaluate (``"best"`` allowed).
    layout : {"oihw", "hwio"}
        Weight layout.
    exact : numpy.ndarray, optional
        The exact zero-padded spectrum if already known; otherwise it is computed by a
        dense SVD (``singular_values(..., method="explicit", boundary="zero")``).
    memory_budget : int, float, str, optional
        Memory budget for the dense SVD.

    Returns
    -------
    list of dict
        One record per model: ``model``, ``n``, ``m``, ``cout``, ``cin``, ``kh``, ``kw``
        and the measures of :func:`convbench.errors.spectrum_errors` (``mean_abs``,
        ``rms``, ``max_abs``, ``rel_sigma_max``, ``rel_frobenius``).
    """
    from .spectrum import singular_values

    w = as_oihw(weight, layout)
    n, m = as_shape(shape)
    check_fits(w, n, m)
    if exact is None:
        exact = singular_values(
            w, (n, m), method="explicit", boundary="zero", memory_budget=memory_budget
        )
    cout, cin, kh, kw = w.shape
    records = []
    for model in models:
        errors = spectrum_errors(approximate(w, (n, m), "zero", model), exact)
        records.append(
            {"model": model, "n": n, "m": m, "cout": cout, "cin": cin, "kh": kh, "kw": kw}
            | errors
        )
    return records


def model_errors_vs_n(
    channels: tuple[int, ...] = (1, 4, 16),
    kernels: tuple[int, ...] = (3, 5),
    sizes: tuple[int, ...] = (8, 16, 32),
    seed: int = 0,
    max_unknowns: int = 8192,
    models: tuple[str, ...] = MODELS,
) -> list[dict[str, Any]]:
    """Model errors against dense exact spectra over a grid of layers (deterministic).

    For every ``c`` in ``channels`` (``cin = cout = c``), ``k`` in ``kernels`` and ``n``
    in ``sizes`` with ``c * n**2 <= max_unknowns`` and ``k <= n``, draws
    :func:`convbench.pytorch_default` weights with ``seed`` and compares every model with
    the dense SVD of the zero-padded operator.

    Returns
    -------
    list of dict
        Records of :func:`compare_models` plus ``seed``; one per layer and model.
    """
    records = []
    for c in channels:
        for k in kernels:
            for n in sizes:
                if c * n * n > max_unknowns or k > n:
                    continue
                w = pytorch_default(c, c, k, seed=seed)
                for rec in compare_models(w, n, models):
                    records.append(rec | {"seed": seed})
    return records


def geometric_mean(values: Any) -> float:
    """Geometric mean of positive numbers (used to summarise errors over layers)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or np.any(arr <= 0):
        raise ValueError("geometric mean needs a non-empty array of positive numbers")
    return float(math.exp(np.mean(np.log(arr))))
