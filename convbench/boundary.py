"""Approximate spectra of zero-padded convolutions from symbol samples.

With zero padding a stride-1 convolution is a block multi-level Toeplitz matrix, not a
block circulant one, and its singular values are not samples of the symbol. Sorted,
they differ from the periodic ("circular") spectrum by ``O(k/n)`` relative to
``sigma_max``: the boundary rows see fewer kernel taps. :func:`approximate` gives a
spectrum of the exact length (the layer's ``min(rows, cols)``), sorted descending, from
``O(n)`` symbol evaluations (``n`` the number of input pixels), with one of the models
in :data:`MODELS`. Every symbol is evaluated by :func:`convbench.symbols.symbol_at` on
the layer's polyphase kernel (:meth:`convbench.layer.Conv.polyphase`).

``"circular"``
    The periodic spectrum of the same layer, as the LFA paper compares it with zero
    padding. It is an approximation of the zero-padded layer only when the two have
    the same number of outputs: always for stride-1 'same' layers and the usual
    strided ones (``out = n/s``), not for, say, ``padding="valid"``, which is refused
    with the two output sizes named.
``"mixture"``
    The local-kernel mixture. Output row ``p`` of the zero-padded operator is the row of
    a periodic convolution whose kernel keeps only the taps that read inside the input
    (``0 <= p + dilation*a - before < n``). Rows fall into a few classes along each
    axis (the top rows, the bottom rows, the interior), so there are at most
    ``prod(kernel)`` masked kernels. The model is the mixture of their symbols'
    singular value distributions, each weighted by its number of output pixels,
    returned as its mid-point quantiles. It reproduces the exact Frobenius norm of the
    zero-padded operator (:func:`mixture_distribution` has the exact mean of
    ``sigma^2``), and it shrinks the edge part of the spectrum as zero padding does. The
    interior class is sampled on the half-shifted grid ``2*pi*(j + 1/2)/n``; the edge
    classes on at most :data:`EDGE_GRID` points per masked axis (more if the dilated
    kernel is longer).
``"mixture_top"``
    The mixture with its largest value replaced by :func:`sigma_max_estimate` (and the
    others clipped to it). The quantiles of any limit distribution put ``sigma_max`` at
    the symbol's supremum, which the zero-padded operator reaches only as
    ``n -> infinity``: its top singular vector is confined to the box, like the ground
    state of a particle in a box, which lowers ``sigma_max^2`` by about
    ``(1/2) * sum_i H_ii h_i^2`` with ``h_i = pi/(n_i+1)`` and ``H`` the Hessian of
    ``||B(theta)||^2`` at its maximiser. The estimate evaluates exactly that: the mean
    of ``||B||^2`` at the ``2^d`` points ``theta* +- h``, whose cross terms cancel.
    ``theta*`` is the certified maximiser of :func:`convbench.bounds.spectral_norm_bound`.

**Which layers.** The mixture's row classes assume that output ``p`` reads around input
``p``: the models ``"mixture"`` and ``"mixture_top"`` take stride-1 layers whose output
has the size of their input (total padding ``dilation*(k-1)``, any split), 1-D, 2-D
(the paper's model) or 3-D (the classes of each axis combined), dilated or not. A
grouped layer is the union of its groups: the mixture of the per-group mixtures, each
with weight ``1/groups``. A transposed layer has the singular values of its forward
adjoint, so it is modelled through that (stride 1 and equal sizes again). Anything
else raises a ``ValueError`` naming the option. ``boundary="periodic"`` returns the
exact periodic spectrum of any layer whatever the model.

``"best"`` is the model this package recommends (:data:`BEST`). The measured errors
against dense exact spectra are in the README (section "Zero padding") and come from
:func:`model_errors_vs_n`.

Reference for the idea of comparing with the circular approximation: X. Yi,
"Asymptotic singular value distribution of linear convolutional layers" (spectral
density of the block doubly Toeplitz matrix).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from .bounds import spectral_norm_bound, symbol_norms, torus_layer
from .errors import spectrum_errors
from .explicit import assemble, dense_singular_values
from .layer import Conv, Polyphase, takes_layer
from .svd import sort_descending
from .symbols import symbol_at
from .weights import pytorch_default

__all__ = [
    "BEST",
    "EDGE_GRID",
    "MODELS",
    "approximate",
    "compare_models",
    "mixture_distribution",
    "model_errors_vs_n",
    "sigma_max_estimate",
]

#: Models accepted by :func:`approximate` (plus ``"best"``).
MODELS = ("circular", "mixture", "mixture_top")
#: The recommended model, used for ``model="best"``.
BEST = "mixture_top"
#: Most frequency samples per axis for an edge class of the mixture.
EDGE_GRID = 16
# symbol entries computed at once (complex128): bounds the working memory
_CHUNK_ENTRIES = 2**22


def _periodic_twin(layer: Conv, model: str) -> Conv:
    """The same layer on the torus: every model samples the symbol on its grid."""
    if layer.boundary == "periodic":
        return layer
    try:
        return layer.with_boundary("periodic")
    except ValueError as exc:
        raise ValueError(
            f"model={model!r} samples the periodic symbol of the same layer: {exc}"
        ) from None


def _block_values(poly: Polyphase, freqs: list[np.ndarray]) -> np.ndarray:
    """Singular values of the symbol on the grid ``freqs[0] x freqs[1] ...``, chunked over
    the first axis: ``(len(freqs[0]), prod(other lengths) * groups * min(rows, cols))``."""
    g, r, c = poly.kernel.shape[:3]
    rest = math.prod(len(t) for t in freqs[1:])
    rows = max(1, _CHUNK_ENTRIES // max(1, rest * g * r * c))
    first = freqs[0]
    parts = [
        np.linalg.svd(symbol_at(poly, [first[i : i + rows], *freqs[1:]]), compute_uv=False)
        .reshape(len(first[i : i + rows]), -1)
        for i in range(0, len(first), rows)
    ]
    return np.concatenate(parts)


def _grid_values(poly: Polyphase) -> np.ndarray:
    """The periodic spectrum: singular values of the symbol on its whole grid, descending."""
    freqs = [2 * np.pi * np.arange(n) / n for n in poly.grid]
    return sort_descending(_block_values(poly, freqs).ravel())


def _row_classes(offsets: np.ndarray, n: int) -> list[tuple[np.ndarray, int]]:
    """Masks of the taps (at ``offsets``) that stay inside ``[0, n)`` for each output
    row, with the number of rows that have each mask."""
    lo, hi = int(offsets.min()), int(offsets.max())
    # rows p >= reach and p < n - reach read inside the input with every tap
    reach = max(hi - lo + 1, -lo, hi)
    counts: dict[tuple[bool, ...], int] = {}
    for p in (*range(min(n, reach)), *range(max(reach, n - reach), n)):
        mask = tuple(bool(0 <= p + o < n) for o in offsets)
        counts[mask] = counts.get(mask, 0) + 1
    interior = n - min(n, reach) - (n - max(reach, n - reach))
    if interior > 0:
        full = (True,) * offsets.size
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


def _check_mixture(layer: Conv, model: str) -> None:
    """Refuse, naming the option, a layer the mixture's row classes do not describe."""
    if any(s != 1 for s in layer.stride):
        raise ValueError(
            f"model={model!r} is defined for stride-1 layers; got stride={layer.stride}"
        )
    if layer.fwd_in != layer.fwd_out:
        raise ValueError(
            f"model={model!r} needs a layer whose output has the size of its input "
            f"(total padding dilation*(k-1)); got shape {layer.shape} -> output "
            f"{layer.out_shape} with padding {layer.padding}"
        )


def _mixture(layer: Conv) -> tuple[np.ndarray, np.ndarray]:
    """The local-kernel mixture of a checked stride-1, same-size layer."""
    poly = _periodic_twin(layer, "mixture").polyphase()  # (groups, co, ci, *extent)
    size = layer.fwd_out
    groups, co, ci = poly.kernel.shape[:3]
    k = min(co, ci)
    pixels = math.prod(size)
    axes = []
    for offsets, n, dl, e in zip(layer.offsets, size, layer.dilation, layer.extent, strict=True):
        classes = []
        for mask, count in _row_classes(offsets, n):
            taps = np.zeros(e, dtype=bool)
            taps[dl * np.arange(mask.size)] = mask  # the polyphase kernel's tap dl*a
            classes.append((taps, count, n if mask.all() else min(n, max(EDGE_GRID, e))))
        axes.append(classes)
    values, weights = [], []
    for combo in itertools.product(*axes):
        masks, counts, grids = zip(*combo, strict=True)
        t0, w0 = _half_grid(grids[0])
        rest = [2 * np.pi * (np.arange(g) + 0.5) / g for g in grids[1:]]
        mask = masks[0]
        for other in masks[1:]:
            mask = np.multiply.outer(mask, other)
        masked = Polyphase(poly.kernel * mask, poly.origin, poly.grid, poly.transposed)
        s = _block_values(masked, [t0, *rest])
        share = math.prod(counts) / pixels  # this class's share of the output pixels
        wt = (w0[:, None] / (math.prod(grids) * groups * k)) * share
        values.append(s.ravel())
        weights.append(np.broadcast_to(wt, s.shape).ravel())
    return np.concatenate(values), np.concatenate(weights)


@takes_layer("zero", boundaries=("zero",))
def mixture_distribution(layer: Conv) -> tuple[np.ndarray, np.ndarray]:
    """The local-kernel mixture of a zero-padded layer as weighted singular values.

    The layer must have stride 1 and an output of the size of its input (see the
    module docstring); other layers raise a ``ValueError`` naming the option.

    Returns
    -------
    tuple of numpy.ndarray
        ``(values, weights)``: singular values of the masked kernels' symbols and
        probability weights summing to 1. ``sum(weights * values**2)``, the mean of
        ``sigma^2``, equals the squared Frobenius norm of the zero-padded operator
        divided by its number of singular values.
    """
    _check_mixture(layer, "mixture")
    return _mixture(layer)


def _quantiles(values: np.ndarray, weights: np.ndarray, count: int) -> np.ndarray:
    """Mid-point quantiles ``(i + 1/2)/count`` of a weighted distribution, descending."""
    order = np.argsort(values)[::-1]
    v = values[order]
    cum = np.cumsum(weights[order])
    cum /= cum[-1]
    u = (np.arange(count) + 0.5) / count
    return v[np.minimum(np.searchsorted(cum, u), v.size - 1)]


def _sigma_max_estimate(layer: Conv, grid: int = 32) -> float:
    torus = torus_layer(layer)
    theta = np.array(spectral_norm_bound(torus, grid=grid).theta)
    steps = [np.array([-1.0, 1.0]) * np.pi / (n + 1) for n in layer.fwd_out]
    offsets = np.stack([o.ravel() for o in np.meshgrid(*steps, indexing="ij")], axis=-1)
    corners = symbol_norms(torus.polyphase(), theta + offsets)
    return float(np.sqrt(np.mean(corners**2)))


@takes_layer("zero", boundaries=("zero",))
def sigma_max_estimate(layer: Conv, *, grid: int = 32) -> float:
    """Estimate of the zero-padded ``sigma_max`` from the symbol (particle in a box).

    Takes the certified maximiser ``theta*`` of the symbol's norm from
    :func:`convbench.bounds.spectral_norm_bound` and returns the root mean square of
    ``||B||`` (the largest over groups) at the ``2^d`` points ``theta* +- pi/(n_i+1)``,
    ``n_i`` the output size of the layer's canonical forward map (the input size of a
    stride-1 'same' layer; for strided layers the coarse output, a rougher guess). Not
    a bound: :func:`convbench.bounds.spectral_norm_bound` gives a guaranteed one.

    Parameters
    ----------
    grid : int
        First-level cells per axis of the bound's search.

    Returns
    -------
    float
        The estimate.
    """
    return _sigma_max_estimate(layer, grid)


@takes_layer("zero")
def approximate(layer: Conv, model: str = "best") -> np.ndarray:
    """Approximate singular values of a zero-padded convolution from symbol samples.

    With ``boundary="zero"`` the zero-padded spectrum is approximated with ``model``;
    with ``boundary="periodic"`` the exact periodic spectrum is returned (every model
    coincides). Which models take which layers is in the module docstring; the others
    raise a ``ValueError`` naming the option.

    Parameters
    ----------
    model : {"best", "circular", "mixture", "mixture_top"}
        See the module docstring; ``"best"`` is :data:`BEST`.

    Returns
    -------
    numpy.ndarray
        The layer's ``min(rows, cols)`` values (``n*m*min(cout, cin)`` for the plain
        2-D layer), sorted descending.

    Raises
    ------
    ValueError
        For a model that does not describe the layer, naming the option; or when the
        kernel does not fit the input's torus (every model samples the symbol there).
    """
    if model == "best":
        model = BEST
    if model not in MODELS:
        raise ValueError(f"model must be 'best' or one of {MODELS}; got {model!r}")
    periodic = _periodic_twin(layer, model)
    if layer.boundary == "periodic":
        return _grid_values(periodic.polyphase())
    if model == "circular":
        if periodic.out_shape != layer.out_shape:
            raise ValueError(
                "model='circular' approximates the zero-padded layer by the periodic one "
                f"of the same size; here the zero-padded output is {layer.out_shape} and "
                f"the periodic one {periodic.out_shape} (padding {layer.padding}, stride "
                f"{layer.stride}): their spectra have different lengths"
            )
        return _grid_values(periodic.polyphase())
    _check_mixture(layer, model)
    values = _quantiles(*_mixture(layer), layer.n_values)
    if model == "mixture_top":
        top = _sigma_max_estimate(layer)
        values = np.minimum(values, top)
        values[0] = top
    return np.ascontiguousarray(values)


@takes_layer("zero", boundaries=("zero",))
def compare_models(
    layer: Conv,
    models: tuple[str, ...] = MODELS,
    *,
    exact: np.ndarray | None = None,
    memory_budget: int | float | str | None = None,
) -> list[dict[str, Any]]:
    """Every model against the exact zero-padded spectrum for one layer.

    Parameters
    ----------
    models : tuple of str
        Models to evaluate (``"best"`` allowed).
    exact : numpy.ndarray, optional
        The exact zero-padded spectrum if already known; otherwise it is computed by a
        dense SVD of the assembled operator (as ``singular_values(...,
        method="explicit", boundary="zero")`` does).
    memory_budget : int, float, str, optional
        Memory budget for the dense SVD.

    Returns
    -------
    list of dict
        One record per model: ``model``, ``n``, ``m``, ``cout``, ``cin``, ``kh``, ``kw``
        (the first two input and kernel dimensions, 1 where a 1-D layer has none) and
        the measures of :func:`convbench.errors.spectrum_errors` (``mean_abs``, ``rms``,
        ``max_abs``, ``rel_sigma_max``, ``rel_frobenius``).
    """
    if exact is None:  # what singular_values(..., method="explicit") computes
        exact = dense_singular_values(assemble(layer), memory_budget=memory_budget)
    n, m = (*layer.shape, 1)[:2]
    kh, kw = (*layer.kernel, 1)[:2]
    records = []
    for model in models:
        errors = spectrum_errors(approximate(layer, model=model), exact)
        records.append(
            {
                "model": model,
                "n": n,
                "m": m,
                "cout": layer.cout,
                "cin": layer.cin,
                "kh": kh,
                "kw": kw,
            }
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
