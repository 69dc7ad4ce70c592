"""The field's bounds and estimates of ``sigma_max``, side by side with the exact value.

:func:`sigma_max_estimates` computes, for one layer, the exact largest singular value of
its operator and the numbers that published methods give for it, one row each
(:data:`ESTIMATE_METHODS`), and says of each what it is: ``"exact"``, a certified
``"upper bound"``, or an ``"estimate"`` (a number that may fall on either side, or a
bound of some other operator).

**One reduction for every layer kind.** Every layer is, up to the adjoint, ``groups``
stride-1 convolutions with the stride's phases as extra input channels: the compact
polyphase kernel ``K`` of :meth:`convbench.layer.Conv.polyphase` and
:func:`convbench.bounds.compact`, ``(groups, rows, cols, *taps)``, whose symbol
``B(t) = sum_b K[:, :, b] exp(i <t, b>)`` has the torus maximum ``M`` that bounds the
layer's norm at every input size, for both boundaries (:mod:`convbench.bounds`). The
kernel-based bounds (``gram_zero``, ``araujo``, ``singla``) bound ``M`` and so apply to
strided, dilated, grouped and transposed layers in 1-D, 2-D and 3-D alike (the largest
over the groups). ``gram_embedded`` uses the torus of
:func:`convbench.embedding.embedding_torus`, on which the zero-padded layer at this input
size is a compression of the periodic one.

**Why each bound holds.** With ``T`` Gram steps:

- ``gram_circular`` / ``gram_embedded``: ``G_0 = B(t)``, ``G_{s+1} = G_s^H G_s`` at
  every frequency of a grid, so ``||B(t)||^(2^(T+1)) = ||G_T(t)||_2^2 <=
  sum_t ||G_T(t)||_F^2``. On the layer's own grid this bounds the periodic layer at its
  size; on the embedding torus, the zero-padded layer at its size.
- ``gram_zero``: ``K_{s+1}[delta] = sum_b K_s[b]^T K_s[b + delta]`` is the kernel of
  ``B_s^H B_s`` (taps ``2 k - 1``, by FFT), so ``M^(2^T) = sup_t ||B_T(t)|| <=
  sum_b ||K_T[b]||_2``: the sum of the taps' spectral norms, never above the
  ``sqrt(taps) ||K_T||_F`` form. The smallest of the bounds after ``0..T`` steps is
  kept; the kernel stops growing at 64 MiB.
- ``araujo``: ``||B(t)||_2^2 <= ||B(t)||_F^2 <= sum_ij sup |f_ij|^2``. Each ``sup``
  comes from ``m`` FFT samples per axis: at the maximiser of ``|f|`` the real
  trigonometric polynomial ``Re(conj(u) f)`` (centred frequencies ``|nu_i| <= tau_i =
  (taps_i - 1)/2``) has a zero gradient and, by Bernstein's inequality, a second
  derivative at most ``(sum_i tau_i |e_i|)^2 sup |f|``, so the nearest sample is at
  least ``(1 - q) sup |f|`` with ``q = (pi sum_i tau_i / m)^2 / 2``: the samples'
  maximum over ``1 - q`` is certified (``q <= 1/128`` where 16384 samples per entry
  allow it, always ``q < 1/8``).
- ``singla``: for a split of the tap axes into a set ``S`` and the rest,
  ``B(t) = (I (x) e_S(t)^T) R_S (I (x) e_S'(t))`` with ``R_S`` the kernel reshaped to
  ``(rows * taps_S) x (cols * taps_S')`` and ``||e_S|| ||e_S'|| = sqrt(prod taps)``:
  the paper's four reshapes in 2-D, the same argument with ``2**d`` reshapes in 1-D
  and 3-D.
- ``grishina``: ``u^H B(t) v = K(conj(u), v, e_1(t_1), ..)``, so ``||B(t)|| <=
  sqrt(prod taps) ||K||_sigma`` with the tensor norm over *complex* unit vectors (at
  least the real one). HOPM (from the unfoldings' top singular vectors and one complex
  random start) finds that norm from below only, hence an ``"estimate"``.

**Rounding.** A certified row carries a rounding margin: powers of two rescale the Gram
iterates (exactly), and the error of each product or FFT, relative to the quantity it
bounds, enters the result as a factor ``1 + margin`` (at least
:data:`convbench.bounds.ROUNDING`); the margins are about ``1e-12`` to ``1e-9``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.fft

from .bounds import ROUNDING, UNIT, compact, spectral_norm_bound
from .embedding import embedding_torus, size_bound
from .layer import Conv, Polyphase, takes_layer
from .memory import BudgetError
from .operators import operator_of
from .spectrum import singular_values
from .symbols import symbol_points

__all__ = ["ESTIMATE_COLUMNS", "ESTIMATE_METHODS", "estimate_methods", "sigma_max_estimates"]

#: The columns of :func:`sigma_max_estimates`' table, in order.
ESTIMATE_COLUMNS = (
    "method", "value", "kind", "operator", "relative_gap", "seconds", "iterations",
    "reference", "applies", "reason",
)

#: Complex entries handled at once (64 MiB).
_CHUNK = 1 << 22
#: Largest iterate of ``gram_zero``'s kernel (64 MiB of float64); its FFT may take 4x.
_KERNEL_BYTES = 64 << 20
#: Largest FFT sample grid of ``araujo`` per kernel entry (before the correction).
_ARAUJO_POINTS = 1 << 14

_ZERO, _PERIODIC, _ANY = "zero-padded layer", "periodic layer at this size", "any input size"


class _NotApplicable(Exception):
    """The method does not apply to this layer (the message says why)."""


def _gamma(n: float) -> float:
    return n * UNIT / (1 - n * UNIT)


def _own(layer: Conv) -> str:
    return _ZERO if layer.boundary == "zero" else _PERIODIC


def _periodic(layer: Conv) -> Conv:
    try:
        return layer.with_boundary("periodic")
    except ValueError as exc:
        raise _NotApplicable(f"no periodic layer at this size: {exc}") from None


def _poly(layer: Conv) -> Polyphase:
    return compact(layer.torus().polyphase())


def _pow2(x: np.ndarray) -> tuple[np.ndarray, int]:
    """``x / 2**e`` with ``max |x / 2**e|`` in ``[1/2, 1)``: exact (a power of two)."""
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top == 0.0 or not math.isfinite(top):
        return x, 0
    e = math.frexp(top)[1]
    return x * 2.0**-e, e


# ---------------------------------------------------------------------------------------
# the rows


def _exact(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    method = "explicit" if layer.boundary == "zero" else "lfa"
    try:
        value = singular_values(layer, method=method, top_k=1)[0]
    except BudgetError as exc:
        raise _NotApplicable(str(exc)) from None
    return {"value": float(value), "kind": "exact", "operator": _own(layer)}


def _periodic_row(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    periodic = _periodic(layer)
    try:
        value = singular_values(periodic, method="lfa", top_k=1)[0]
    except BudgetError as exc:
        raise _NotApplicable(str(exc)) from None
    kind = "exact" if layer.boundary == "periodic" else "estimate"
    return {"value": float(value), "kind": kind, "operator": _PERIODIC}


def _size_bound(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    value = size_bound(layer).upper
    return {"value": float(value), "kind": "upper bound", "operator": _own(layer)}


def _norm_bound(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    value = spectral_norm_bound(layer).upper
    return {"value": float(value), "kind": "upper bound", "operator": _ANY}


def _grid(poly: Polyphase, coarse: tuple[int, ...]):
    """Chunks of the full frequency grid ``2*pi*j/coarse`` as ``(P, d)`` points."""
    g, r, c = poly.kernel.shape[:3]
    total = math.prod(coarse)
    step = max(1, _CHUNK // (g * r * c))
    for start in range(0, total, step):
        idx = np.unravel_index(np.arange(start, min(total, start + step)), coarse)
        yield np.stack([2 * math.pi * i / n for i, n in zip(idx, coarse, strict=True)], axis=-1)


def _gram_blocks(poly: Polyphase, coarse: tuple[int, ...], steps: int) -> float:
    """Gram iteration on every block of the symbol on the grid ``coarse``, certified.

    ``G_0 = B(t)`` (oriented so that ``G^H G`` is the smaller side), ``G_{s+1} =
    G_s^H G_s``; the bound is ``(sum_t ||G_T(t)||_F^2)^(1/2^(T+1))``. The blocks are
    rescaled by powers of two, chunk by chunk, with the logs of the scales kept apart
    and combined by log-sum-exp at the end.
    """
    kernel = poly.kernel
    g, r, c = kernel.shape[:3]
    n = max(r, c)
    logs = []
    for points in _grid(poly, coarse):
        blocks = symbol_points(poly, points).reshape(-1, r, c)
        if r < c:
            blocks = np.conj(blocks.swapaxes(1, 2))
        blocks, e = _pow2(blocks)
        log_scale = e * math.log(2)
        for step in range(steps):  # G_1 is Hermitian: then G^H G = G G
            left = np.ascontiguousarray(np.conj(blocks.swapaxes(1, 2))) if step == 0 else blocks
            blocks = left @ blocks
            blocks, e = _pow2(blocks)
            log_scale = 2 * log_scale + e * math.log(2)
        total = float(np.sum(blocks.real**2 + blocks.imag**2))
        if total > 0:
            logs.append(math.log(total) + 2 * log_scale)
    if not logs:
        return 0.0
    top = max(logs)
    log_sum = top + math.log(sum(math.exp(v - top) for v in logs))
    value = math.exp(log_sum / 2 ** (steps + 1))
    # each product's error is at most eta ||G_s||^2 (|E| <= gamma |G^H| |G|, and
    # ||G||_F^2 <= n ||G||_2^2), which costs a factor 1/(1 - eta) on the root overall;
    # the symbol's own rounding is absolute, at most gamma * sum_b ||K_b||_F
    taps = math.prod(poly.taps)
    eta = _gamma(4 * n) * n
    rel = ROUNDING + 2 * eta + _gamma(math.prod(coarse) * g * n * n + 8)
    tap_norms = np.sqrt(np.sum(kernel.reshape(g, r * c, taps) ** 2, axis=1)).sum(axis=1)
    return value * (1 + rel) + _gamma(taps + 8) * float(tap_norms.max())


def _gram_circular(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    periodic = _periodic(layer)
    steps = opts["gram_iterations"]
    value = _gram_blocks(compact(periodic.polyphase()), periodic.grid, steps)
    kind = "upper bound" if layer.boundary == "periodic" else "estimate"
    return {"value": value, "kind": kind, "operator": _PERIODIC, "iterations": steps}


def _gram_embedded(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    torus = embedding_torus(layer)
    coarse = tuple(t // s for t, s in zip(torus, layer.stride, strict=True))
    steps = opts["gram_iterations"]
    value = _gram_blocks(_poly(layer), coarse, steps)
    return {"value": value, "kind": "upper bound", "operator": _own(layer), "iterations": steps}


def _gram_zero(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    """Gram iteration on the kernel: ``K_{s+1}[delta] = sum_b K_s[b]^T K_s[b + delta]``
    (the kernel of ``B_s^H B_s``), by FFT; ``M^(2^s) <= sum_b ||K_s[b]||_2``."""
    kernel = _poly(layer).kernel
    if kernel.shape[1] < kernel.shape[2]:  # the Gram on the smaller side
        kernel = kernel.swapaxes(1, 2)
    g, r, c = kernel.shape[:3]
    d = kernel.ndim - 3
    n = max(r, c)
    axes = tuple(range(3, 3 + d))
    kernel, e = _pow2(kernel)
    log_scale, log_margin = e * math.log(2), 0.0
    best, steps = math.inf, 0
    for step in range(opts["gram_iterations"] + 1):
        taps = kernel.shape[3:]
        flat = kernel.reshape(g, kernel.shape[1], kernel.shape[2], -1)
        norms = np.linalg.norm(np.moveaxis(flat, -1, 1), ord=2, axis=(2, 3)).sum(axis=1)
        top = float(norms.max()) * (1 + ROUNDING)
        if top == 0.0:
            best = 0.0
            break
        bound = math.exp((math.log(top) + log_scale) / 2**step + log_margin)
        best = min(best, bound)
        if step == opts["gram_iterations"]:
            break
        out = tuple(2 * k - 1 for k in taps)
        grid = tuple(scipy.fft.next_fast_len(k) for k in out)
        fft_bytes = 16 * g * n * n * math.prod(grid[:-1]) * (grid[-1] // 2 + 1)  # rfftn
        if 8 * g * c * c * math.prod(out) > _KERNEL_BYTES or fft_bytes > 4 * _KERNEL_BYTES:
            break
        spec = np.moveaxis(scipy.fft.rfftn(kernel, s=grid, axes=axes), axes, range(d))
        gram = np.ascontiguousarray(np.conj(spec.swapaxes(-1, -2))) @ spec  # (freqs, g, c, c)
        back = scipy.fft.irfftn(np.moveaxis(gram, range(d), axes), s=grid, axes=axes)
        for axis, k in zip(axes, taps, strict=True):  # delta in [-(k-1), k-1]
            back = np.roll(back, k - 1, axis=axis).take(np.arange(2 * k - 1), axis=axis)
        kernel, e = _pow2(back)
        log_scale = 2 * log_scale + e * math.log(2)
        # the FFT's and the product's error relative to sup ||B_s||^2 (see the docs)
        size = math.prod(grid)
        eta = 2 * (15 * UNIT * math.log2(max(size, 2)) + _gamma(4 * n)) * n
        eta *= math.sqrt(size * math.prod(out))
        log_margin += -math.log1p(-min(eta, 0.5)) / 2 ** (step + 1)
        steps = step + 1
    return {"value": best, "kind": "upper bound", "operator": _ANY, "iterations": steps}


def _araujo(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    """``sqrt(sum_ij sup_t |f_ij(t)|^2)``, each sup from an FFT sample grid with a
    Bernstein correction ``1 / (1 - q)``, ``q = (pi * sum_i tau_i / m)^2 / 2``."""
    kernel = _poly(layer).kernel
    g, r, c = kernel.shape[:3]
    taps = kernel.shape[3:]
    d = len(taps)
    tau = sum((k - 1) / 2 for k in taps)
    split = sum(k > 1 for k in taps)
    m = 1
    if split:  # q <= 1/128 where the sample budget allows, q < 1/8 always
        m = min(math.ceil(8 * math.pi * tau), int(_ARAUJO_POINTS ** (1 / split)))
        m = scipy.fft.next_fast_len(max(m, math.floor(2 * math.pi * tau) + 1, *taps))
    grid = tuple(m if k > 1 else 1 for k in taps)
    q = (math.pi * tau / m) ** 2 / 2
    points = math.prod(grid)
    axes = tuple(range(2, 2 + d))
    err = (5 * math.log2(max(points, 2)) + 4) * UNIT * math.sqrt(points)
    best = 0.0
    for k in range(g):
        total = 0.0
        rows = max(1, _CHUNK // max(1, c * points))
        for i in range(0, r, rows):
            part = kernel[k, i : i + rows]
            spec = np.abs(scipy.fft.rfftn(part, s=grid, axes=axes)) if split else np.abs(part)
            sup = spec.reshape(*part.shape[:2], -1).max(axis=-1)
            sup = sup + err * np.sqrt(np.sum(part.reshape(*part.shape[:2], -1) ** 2, axis=-1))
            total += float(np.sum((sup / (1 - q)) ** 2))
        best = max(best, math.sqrt(total) * (1 + ROUNDING))
    return {"value": best, "kind": "upper bound", "operator": _ANY}


def _singla(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    """``sqrt(prod taps) * min`` over the ``2**d`` reshapes that put each tap axis on
    the rows or on the columns: ``B(t) = (I (x) e_S(t)^T) R_S (I (x) e_S'(t))``."""
    kernel = _poly(layer).kernel
    g, r, _c = kernel.shape[:3]
    taps = kernel.shape[3:]
    d = len(taps)
    best = 0.0
    for k in range(g):
        norms = []
        for on_rows in itertools.product((False, True), repeat=d):
            row_axes = [3 + i for i in range(d) if on_rows[i]]
            col_axes = [3 + i for i in range(d) if not on_rows[i]]
            mat = kernel[k : k + 1].transpose(0, 1, *row_axes, 2, *col_axes)[0]
            rows = r * math.prod(taps[i] for i in range(d) if on_rows[i])
            norms.append(float(np.linalg.norm(mat.reshape(rows, -1), ord=2)))
        best = max(best, math.sqrt(math.prod(taps)) * min(norms) * (1 + ROUNDING))
    return {"value": best, "kind": "upper bound", "operator": _ANY}


def _hopm(tensor: np.ndarray, start: list[np.ndarray], sweeps: int) -> tuple[float, int]:
    """Higher-order power method for ``max |T(u_1, ..., u_N)|`` over complex unit
    vectors; returns the value (a lower bound of that norm) and the sweeps run."""
    vecs = [v / np.linalg.norm(v) for v in start]
    value = 0.0
    for sweep in range(1, sweeps + 1):
        for mode in range(tensor.ndim):
            x = tensor
            for other in range(tensor.ndim - 1, -1, -1):
                if other != mode:
                    x = np.tensordot(x, vecs[other], axes=([other], [0]))
            norm = float(np.linalg.norm(x))
            if norm == 0.0:
                return 0.0, sweep
            vecs[mode] = np.conj(x) / norm
        if norm <= value * (1 + 1e-9):
            return max(value, norm), sweep
        value = norm
    return value, sweeps


def _top_left(mat: np.ndarray) -> np.ndarray:
    """The top left singular vector of ``mat`` (a wide unfolding), as complex."""
    return np.linalg.eigh(mat @ mat.T)[1][:, -1] + 0j


def _grishina(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    """``sqrt(prod taps) * ||K||_sigma`` (complex tensor spectral norm) by HOPM."""
    kernel = _poly(layer).kernel
    taps = kernel.shape[3:]
    rng = np.random.default_rng(opts["seed"])
    best, sweeps = 0.0, 0
    for k in range(kernel.shape[0]):
        t = kernel[k]
        starts = [[_top_left(np.moveaxis(t, a, 0).reshape(t.shape[a], -1)) for a in range(t.ndim)]]
        starts.append([rng.standard_normal(s) + 1j * rng.standard_normal(s) for s in t.shape])
        for start in starts:
            value, used = _hopm(t, start, 100)
            sweeps = max(sweeps, used)
            best = max(best, math.sqrt(math.prod(taps)) * value)
    # HOPM finds the tensor norm from below: an estimate of an upper bound, not certified
    return {"value": best, "kind": "estimate", "operator": _ANY, "iterations": sweeps}


def _power(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    op = operator_of(layer)
    x = np.random.default_rng(opts["seed"]).standard_normal(op.shape[1])
    x /= np.linalg.norm(x)
    for _ in range(opts["power_iterations"]):
        y = op.rmatvec(op.matvec(x))
        norm = float(np.linalg.norm(y))
        if norm == 0.0:
            break
        x = y / norm
    value = float(np.linalg.norm(op.matvec(x)) / np.linalg.norm(x))
    return {"value": value, "kind": "estimate", "operator": _own(layer),
            "iterations": opts["power_iterations"]}


def _reshaped(layer: Conv, opts: dict[str, Any]) -> dict[str, Any]:
    w = layer.weight
    if layer.transposed:  # torch.nn.utils.spectral_norm uses dim=1 for ConvTranspose
        w = np.moveaxis(w, 1, 0)
    value = float(np.linalg.norm(w.reshape(w.shape[0], -1), ord=2))
    return {"value": value, "kind": "estimate", "operator": "reshaped weight matrix"}


#: name -> (the row's function, its reference)
_REGISTRY: dict[str, tuple[Callable[[Conv, dict[str, Any]], dict[str, Any]], str]] = {
    "exact": (_exact, "Lanczos on the operator (convbench.singular_values)"),
    "periodic": (_periodic_row, "Sedghi, Gupta & Long 2019, arXiv 1805.10408"),
    "size_bound": (_size_bound, "convbench.size_bound (torus embedding)"),
    "spectral_norm_bound": (_norm_bound, "convbench.spectral_norm_bound (branch and bound)"),
    "gram_circular": (_gram_circular, "Delattre et al. 2023, arXiv 2305.16173"),
    "gram_embedded": (_gram_embedded, "Delattre et al. 2023, arXiv 2305.16173"),
    "gram_zero": (_gram_zero, "Delattre et al. 2024, arXiv 2402.00240"),
    "araujo": (_araujo, "Araujo et al. 2021, arXiv 2006.08391"),
    "singla": (_singla, "Singla & Feizi 2021, arXiv 1911.10258"),
    "grishina": (_grishina, "Grishina et al. 2024, arXiv 2409.11859"),
    "power": (_power, "Ryu et al. 2019, arXiv 1905.05929"),
    "reshaped": (_reshaped, "Miyato et al. 2018, arXiv 1802.05957"),
}

#: The rows of :func:`sigma_max_estimates`, in the table's order.
ESTIMATE_METHODS = tuple(_REGISTRY)


def _count(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ValueError(f"{name} must be at least {minimum}{upper}; got {value!r}")
    return int(value)


def estimate_methods(methods: Sequence[str] | None) -> tuple[str, ...]:
    """The names of ``methods`` (default: all) in the order of :data:`ESTIMATE_METHODS`.

    Raises
    ------
    ValueError
        An unknown name, with the list of known ones.
    """
    if methods is None:
        return ESTIMATE_METHODS
    if isinstance(methods, str):
        methods = (methods,)
    unknown = [m for m in methods if m not in _REGISTRY]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; known: {', '.join(ESTIMATE_METHODS)}")
    return tuple(m for m in ESTIMATE_METHODS if m in set(methods))


@takes_layer(boundary="zero")
def sigma_max_estimates(
    layer: Conv,
    *,
    methods: Sequence[str] | None = None,
    power_iterations: int = 50,
    gram_iterations: int = 6,
    seed: int = 0,
) -> pd.DataFrame:
    """The exact ``sigma_max`` of a layer next to the field's bounds and estimates of it.

    One row per method of :data:`ESTIMATE_METHODS` (see the user guide's table): the
    exact value, the periodic layer's, the library's certified bounds, Gram iteration in
    its circular, embedded and zero-padding forms (Delattre et al. 2023, 2024),
    LipBound (Araujo et al. 2021), the four reshapes (Singla & Feizi 2021), the tensor
    norm bound (Grishina et al. 2024), power iteration and the reshaped weight matrix of
    ``torch.nn.utils.spectral_norm``. Strided, dilated, grouped and transposed layers,
    1-D to 3-D, go through the compact polyphase kernel (the largest over the groups).

    ``kind`` always refers to the given layer's own operator at its input size: the
    zero-padded layer (the default) or, for ``boundary="periodic"``, the periodic one.
    A number is an ``"upper bound"`` only where it is proven for that operator,
    rounding included; a bound of another operator (the periodic layer, for a
    zero-padded one) or a value found from below is an ``"estimate"``. A method that
    does not apply gives ``applies=False``, a NaN value and the reason.

    Parameters
    ----------
    methods : sequence of str, optional
        The rows to compute (default: all), kept in the order of
        :data:`ESTIMATE_METHODS`. An unknown name raises ``ValueError`` before
        anything is computed.
    power_iterations : int
        Steps ``x <- A^T A x`` of the ``power`` row (at least 1).
    gram_iterations : int
        Gram steps of ``gram_circular`` and ``gram_embedded``, and the most of
        ``gram_zero`` (whose kernel grows to ``2 * taps - 1`` each step and stops at
        64 MiB); 0 to 60.
    seed : int
        Seed of the power iteration's start and of one HOPM start.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ESTIMATE_COLUMNS`: ``method``, ``value`` (NaN where the method
        does not apply), ``kind`` (``"exact"``, ``"upper bound"`` or ``"estimate"``),
        ``operator`` (what the number is a value or bound of), ``relative_gap``
        (``value / exact - 1``; NaN without the ``exact`` row), ``seconds`` (wall
        time), ``iterations`` (Gram, power or HOPM steps; NA elsewhere),
        ``reference``, ``applies`` and ``reason``.

    Raises
    ------
    ValueError, TypeError
        For bad input, naming the argument.

    Examples
    --------
    >>> import convbench as cb
    >>> w = cb.pytorch_default(8, 8, 3, seed=0)
    >>> table = cb.sigma_max_estimates(w, 8, methods=["exact", "singla", "power"])
    >>> table.method.tolist()
    ['exact', 'singla', 'power']
    >>> exact, singla, power = table.value
    >>> bool(singla >= exact >= power)
    True
    >>> table.kind.tolist()
    ['exact', 'upper bound', 'estimate']
    """
    chosen = estimate_methods(methods)
    opts = {
        "power_iterations": _count(power_iterations, "power_iterations", 1),
        "gram_iterations": _count(gram_iterations, "gram_iterations", 0, 60),
        "seed": _count(seed, "seed", 0),
    }
    rows = []
    for name in chosen:
        func, reference = _REGISTRY[name]
        start = time.perf_counter()
        try:
            row = func(layer, opts)
            applies, reason = True, ""
        except _NotApplicable as exc:
            row, applies, reason = {"value": math.nan}, False, str(exc)
        seconds = time.perf_counter() - start
        rows.append({
            "method": name,
            "value": float(row["value"]),
            "kind": row.get("kind", _KINDS[name](layer)),
            "operator": row.get("operator", _OPERATORS[name](layer)),
            "relative_gap": math.nan,
            "seconds": seconds,
            "iterations": row.get("iterations", pd.NA),
            "reference": reference,
            "applies": applies,
            "reason": reason,
        })
    table = pd.DataFrame(rows, columns=list(ESTIMATE_COLUMNS))
    table["iterations"] = table["iterations"].astype("Int64")
    table["applies"] = table["applies"].astype(bool)
    exact = table.loc[table.method == "exact", "value"]
    if len(exact) and np.isfinite(exact.iloc[0]) and exact.iloc[0] > 0:
        table["relative_gap"] = table["value"] / exact.iloc[0] - 1
    return table


# what a row that does not apply would have been
_KINDS: dict[str, Callable[[Conv], str]] = {
    "exact": lambda layer: "exact",
    "periodic": lambda layer: "exact" if layer.boundary == "periodic" else "estimate",
    "gram_circular": lambda layer: (
        "upper bound" if layer.boundary == "periodic" else "estimate"
    ),
    "grishina": lambda layer: "estimate",
    "power": lambda layer: "estimate",
    "reshaped": lambda layer: "estimate",
}
_KINDS = {name: _KINDS.get(name, lambda layer: "upper bound") for name in _REGISTRY}
_OPERATORS: dict[str, Callable[[Conv], str]] = {
    "exact": _own, "size_bound": _own, "gram_embedded": _own, "power": _own,
    "periodic": lambda layer: _PERIODIC, "gram_circular": lambda layer: _PERIODIC,
    "reshaped": lambda layer: "reshaped weight matrix",
}
_OPERATORS = {name: _OPERATORS.get(name, lambda layer: _ANY) for name in _REGISTRY}
