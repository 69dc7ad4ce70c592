"""Memory budget and the feasibility rule shared by the API and the benchmark suite.

Every path estimates the bytes it will need *before* it allocates anything large
(:func:`estimate_bytes`). :func:`check_memory` compares that with the budget and raises
:class:`BudgetError` with what was needed, what was allowed and what to do instead.
The benchmark suite calls :func:`feasibility` with the same estimates (plus a
predicted run time, :func:`estimate_seconds`) to skip parameter combinations with
a stated reason.

The budget is, in order of precedence:

1. the ``memory_budget`` argument of the call (bytes, or a string such as ``"8G"``);
2. the environment variable ``CONVBENCH_MEMORY_BUDGET`` (same forms);
3. :data:`DEFAULT_FRACTION` of the memory available when the call is made.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .krylov import block_parameters
from .routes import block_route

__all__ = [
    "DEFAULT_FRACTION",
    "ENV_VAR",
    "MATRIX_FREE_NNZ",
    "STAGES",
    "BudgetError",
    "Estimate",
    "available_memory",
    "check_memory",
    "estimate",
    "estimate_bytes",
    "estimate_seconds",
    "feasibility",
    "format_bytes",
    "matrix_free",
    "memory_budget",
    "parse_bytes",
]

#: Fraction of currently available memory used as the default budget.
DEFAULT_FRACTION = 0.5
#: Environment variable that overrides the default budget.
ENV_VAR = "CONVBENCH_MEMORY_BUDGET"

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class BudgetError(MemoryError):
    """A computation would need more memory than the budget allows."""


def parse_bytes(value: int | float | str) -> int:
    """Parse a byte count such as ``1073741824``, ``"512M"``, ``"8G"`` or ``"1.5GiB"``."""
    if isinstance(value, bool):
        raise TypeError("memory budget must be a number of bytes or a string like '8G'")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"memory budget must be a positive number of bytes; got {value}")
        return int(value)
    if not isinstance(value, str):
        raise TypeError(
            f"memory budget must be a number of bytes or a string like '8G'; got {value!r}"
        )
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:I?B)?\s*", value.upper())
    if not match:
        raise ValueError(f"cannot parse memory budget {value!r}; use e.g. 8G, 512M or 1e9")
    number = float(match.group(1)) * _UNITS[match.group(2)]
    if number <= 0:
        raise ValueError(f"memory budget must be positive; got {value!r}")
    return int(number)


def format_bytes(nbytes: float) -> str:
    """Human-readable byte count (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return 8 * 2**30


def memory_budget(budget: int | float | str | None = None) -> int:
    """Resolve the memory budget in bytes (argument, then environment, then default)."""
    if budget is not None:
        return parse_bytes(budget)
    env = os.environ.get(ENV_VAR)
    if env:
        try:
            return parse_bytes(env)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"environment variable {ENV_VAR}: {exc}") from None
    return int(DEFAULT_FRACTION * available_memory())


# alias for functions whose ``memory_budget`` argument shadows the function's name
_memory_budget = memory_budget


def check_memory(
    needed: int, budget: int | float | str | None, what: str, advice: str
) -> None:
    """Raise :class:`BudgetError` if ``needed`` bytes exceed the budget.

    Parameters
    ----------
    needed : int
        Estimated bytes.
    budget : int, float, str or None
        Budget as accepted by :func:`memory_budget`.
    what : str
        What was asked for, e.g. ``"method='lfa' at 16384x16384 with 64x64 channels"``.
    advice : str
        What the user can do instead.
    """
    allowed = memory_budget(budget)
    if needed > allowed:
        raise BudgetError(
            f"{what} needs about {format_bytes(needed)} but the memory budget is "
            f"{format_bytes(allowed)}. {advice} (Raise the budget with memory_budget=... "
            f"or the {ENV_VAR} environment variable if you know it fits.)"
        )


@dataclass(frozen=True)
class Estimate:
    """Predicted peak memory (bytes) and run time (seconds) of one computation."""

    nbytes: int
    seconds: float


# Rough machine constants for the time model. They only decide which benchmark cells
# are worth running, so they are deliberately simple: calibrated once on a 2-core
# x86-64 workstation (numpy 2 with OpenBLAS) and rounded.
_SVD_BLOCK_OVERHEAD = 1.2e-6  # seconds per block of numpy's batched SVD
_SVD_BLOCK_FLOP_RATE = 1.5e9  # flop/s inside small complex SVDs
_DENSE_FLOP_RATE = 8e9  # flop/s of LAPACK gesdd on a large real matrix
_STREAM_RATE = 1.5e9  # bytes/s for allocation-heavy numpy passes
_FFT_RATE = 2.5e9  # flop/s of numpy's pocketfft on big batched 2-D transforms
_SPARSE_NNZ_RATE = 2e7  # nonzeros per second when assembling the sparse operator

FOURIER_METHODS = ("lfa", "fft", "fftw")
#: Nonzeros above which ``method="explicit"`` with ``top_k`` stops its Lanczos at
#: ``rtol=1e-9`` instead of ``1e-12`` (:data:`convbench.registry.EXPLICIT_RTOL`); it
#: runs on the matrix-free operator of :mod:`convbench.operators` at every size.
MATRIX_FREE_NNZ = 2**25
_MATRIX_FREE_FLOP_RATE = 1e10  # flop/s of the per-tap GEMMs (OpenBLAS, 1-2 threads)


def nonzeros(layer: Any) -> int:
    """Nonzeros of the layer's sparse matrix (an upper bound for zero padding)."""
    return layer.fwd_cout * layer.group_in * math.prod(layer.kernel) * math.prod(layer.fwd_out)


def matrix_free(layer: Any, *args: int) -> bool:
    """Whether the layer's sparse matrix would have more than :data:`MATRIX_FREE_NNZ`
    nonzeros (``explicit`` + ``top_k`` then stops at ``rtol=1e-9``). ``layer`` is a
    :class:`~convbench.layer.Conv`, or ``cout, cin, n, m, kh, kw`` of a plain 2-D
    layer."""
    return nonzeros(_as_layer(layer, *args)) > MATRIX_FREE_NNZ


def _as_layer(layer: Any, *args: Any, boundary: str = "periodic") -> Any:
    """A :class:`~convbench.layer.Conv` from a layer or from the seven numbers
    ``cout, cin, n, m, kh, kw`` of a plain 2-D layer (weights are not needed: zeros)."""
    from .layer import Conv

    if isinstance(layer, Conv):
        return layer
    cout, cin, n, m, kh, kw = (layer, *args)[:6]
    return Conv.build(np.zeros((cout, cin, kh, kw)), (n, m), boundary=boundary)


def _bound(layer: Any, function: str, boundary: str) -> Any:
    """The layer of ``estimate(method, layer, boundary=...)``: a ``Conv`` whose own
    boundary differs is a ``TypeError``, as in every public function."""
    from .layer import bind_layer

    return bind_layer(layer, function=function, boundary=boundary)


#: Steps of a path that :func:`estimate` can predict on their own.
STAGES = ("all", "transform", "svd")


# numpy's batched complex SVD (values only, one thread), fitted to blocks of 1 to 64
# channels as: call overhead + a memory-bound part + the cubic part.
_BATCHED_SVD_OVERHEAD = 6e-7  # seconds per block
_BATCHED_SVD_SCALE = 5e-7  # seconds per (big*small)**0.75
_BATCHED_SVD_FLOP_RATE = 2e10  # flop/s of the cubic part


def _batched_svd_seconds(blocks: int, cout: int, cin: int) -> float:
    big, small = max(cout, cin), min(cout, cin)
    per_block = _BATCHED_SVD_OVERHEAD + _BATCHED_SVD_SCALE * (big * small) ** 0.75
    return blocks * (per_block + 16.0 * big * small * small / _BATCHED_SVD_FLOP_RATE)


def _svd_block_seconds(blocks: int, cout: int, cin: int) -> float:
    big, small = max(cout, cin), min(cout, cin)
    flops = 16.0 * big * small * small  # complex values-only bidiagonalisation, generous
    return blocks * (_SVD_BLOCK_OVERHEAD + flops / _SVD_BLOCK_FLOP_RATE)


def estimate(
    method: str,
    layer: Any,
    *args: int,
    top_k: int | None = None,
    boundary: str | None = None,
    stage: str = "all",
    precision: str = "double",
) -> Estimate:
    """Predict peak memory and run time of ``singular_values`` for one layer.

    Parameters
    ----------
    method : str
        ``"lfa"``, ``"fft"``, ``"fftw"``, ``"explicit"`` or ``"fast"``.
    layer : Conv, or int
        The validated layer (:class:`convbench.layer.Conv`), or, for a plain 2-D
        stride-1 layer, its numbers ``cout, cin, n, m, kh, kw`` (``layer`` is ``cout``).
    top_k : int or None
        Number of largest singular values requested (``None``: all).
    boundary : str, optional
        ``"periodic"`` or ``"zero"`` of the six numbers' layer (default
        ``"periodic"``); a ``Conv`` keeps its own (a different one is a ``TypeError``).
    stage : {"all", "transform", "svd"}
        The whole computation, or one of its two steps: ``"transform"`` builds the
        symbol (``lfa``, ``fft``, ``fftw``; ``fast``: its half plane) or the sparse
        operator (``explicit``), ``"svd"`` is the singular-value step on that
        representation. The memory
        estimate of ``"svd"`` and of the Fourier transforms is that of the whole path;
        for ``fast`` both stages hold the half-plane symbol
        (:func:`convbench.fast.half_plane_symbol`), which the whole path never does.
    precision : {"double", "single"}
        Working precision (``"single"``: ``fast`` only, half the bytes per value and
        per symbol entry; the time model is that of ``"double"``).

    Returns
    -------
    Estimate
        Bytes and seconds; both are upper-bound style guesses, not measurements.
    """
    if args:
        # the plain 2-D layer's numbers; extra positional numbers are old-style top_k/boundary
        if len(args) < 5:
            raise TypeError("estimate(method, cout, cin, n, m, kh, kw) needs all six numbers")
        layer = _as_layer(layer, *args[:5], boundary=boundary or "periodic")
    elif boundary is not None:  # a Conv keeps its own boundary
        layer = _bound(layer, "estimate", boundary)
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}; got {stage!r}")
    if precision not in ("double", "single"):
        raise ValueError(f"precision must be 'double' or 'single'; got {precision!r}")
    if precision != "double" and method != "fast":
        raise ValueError(f"precision={precision!r} is offered by method='fast' only")
    scale = 1 if precision == "double" else 2  # single: half the bytes per value and entry
    stages: tuple[float, float] | None = None  # (transform, svd) seconds
    # the periodic reduction: groups x grid blocks of cout x cin (per group, polyphase)
    cout, cin = layer.block_shape
    grid = layer.grid
    m = math.prod(grid[1:])
    taps = _coarse_taps(layer)
    kh = taps[0]
    blocks = layer.groups * math.prod(grid)
    p = blocks * cout * cin  # entries of the full symbol
    s = blocks * min(cout, cin)  # number of singular values
    values = 3 * 8 * s  # LAPACK's output, its sorted copy and the descending copy
    if method == "lfa":
        nbytes = 16 * p + 16 * layer.groups * cout * cin * kh * m + values
        stages = (16 * p * kh * 2 / _STREAM_RATE, _batched_svd_seconds(blocks, cout, cin))
        seconds = sum(stages)
    elif method in ("fft", "fftw"):
        # the complex transform, and the one before it (the first axis still at its taps):
        # each axis is padded to its grid just before its own transform, the last first
        nbytes = 16 * p * (1 + min(taps[0] / grid[0], 1.0)) + values
        fft_flops = sum(
            5.0 * p * math.prod(min(k / n, 1.0) for k, n in zip(taps[:i], grid[:i], strict=True))
            * math.log2(max(grid[i], 2))
            for i in range(len(grid))
        )
        transform = fft_flops / _FFT_RATE + 32 * p / _STREAM_RATE
        stages = (transform, _batched_svd_seconds(blocks, cout, cin))
        seconds = sum(stages)
    elif method == "fast":
        # half the plane: the kept values, the descending output, the column table and
        # a few cache-sized chunks in flight per thread
        half_cols = m // 2 + 1
        nbytes = 12 * s // scale + 16 * cout * cin * kh * half_cols + 16 * 2**20
        k = min(cout, cin)
        big = max(cout, cin)
        half_blocks = (blocks + 4 * layer.groups) / 2
        route = block_route(big, k)
        if route in ("norm", "closed-form"):
            per_block = 5e-8 * big
        elif route == "gram-soa":  # compiled Gram kernel (0.4/6/12/76 us, k=4/12/16/32)
            per_block = 2e-7 + 3e-9 * k * k * (k + big) / 2
        elif route == "svd":
            # LAPACK's SVD (measured 1.5/9.2/54 ms at k = 128/256/512 on one thread,
            # taken as 1.5x)
            per_block = 5e-6 + 1.1e-9 * k**3
        else:  # zherk and LAPACK's Hermitian eigenvalues (measured 0.23 ms at
            # k = 64, taken as 0.41 ms)
            gram = 4.0 * k * k * big
            if route == "gram-coef" and layer.groups == 1 and layer.d <= 2:
                # Gram matrices from the (2 kh - 1)(2 kw - 1) Gram coefficients
                # (measured 1.0 ms a block at 128 x 256, taken as 2.1)
                kw = taps[1] if len(taps) > 1 else 1
                gram = 8.0 * (2 * kh - 1) * (2 * kw - 1) * k * k
            per_block = 5e-6 + (gram + 16.0 / 3.0 * k**3) / 6e9
        stages = (
            16 * p * kh / 2 / _STREAM_RATE,
            # the blocks' values, then radix sort and expansion (~30 ns per kept value)
            half_blocks * per_block + 3e-8 * s / 2,
        )
        seconds = sum(stages)
        if stage != "all":  # fast.half_plane_symbol holds the whole half plane
            nbytes += 16 * p / 2 / scale
    elif method == "explicit":
        nnz = nonzeros(layer)
        sparse = 40 * nnz  # COO triplets while assembling plus the CSR copy
        seconds = assemble = nnz / _SPARSE_NNZ_RATE
        rows, cols = layer.rows, layer.cols
        values = 3 * 8 * layer.n_values
        if top_k is None or top_k >= layer.n_values:
            nbytes = sparse + 8 * rows * cols + values
            small, big = min(rows, cols), max(rows, cols)
            seconds += (4.0 * big * small * small) / _DENSE_FLOP_RATE + 8 * rows * cols / (
                _STREAM_RATE
            )
        elif top_k == 1:
            # convbench.extremes.golub_kahan_top: per-tap GEMMs, no sparse matrix, four
            # Lanczos vectors, the padded input and output of a matvec, one 32 MiB chunk
            # and the 64 MiB symbol chunk of the start vector's maximiser search
            big = max(rows, cols)
            nbytes = 8 * 8 * big + _matrix_free_chunks(layer)
            # it stops on the top Ritz pair's residual: the top values crowd like 1/n^2,
            # and the steps grow about like n (measured 220 at n = 64 and 380 at
            # n = 128, 64 channels, rtol 1e-9; taken as 60 + 4 n)
            pairs = 60 + 4 * max(layer.shape)
            stages = (0.0, pairs * _matrix_free_pair(layer, nnz))
            return Estimate(int(1.1 * nbytes), float(stages[1] if stage != "transform" else 0.0))
        else:
            # convbench.krylov: block Lanczos on the smaller side, b = top_k + margin
            # columns per step, a basis of `basis` vectors, and per step the block's
            # images on both sides plus the final check on A (a few blocks)
            small, big = min(rows, cols), max(rows, cols)
            b, basis = block_parameters(top_k, small)
            vectors = 8 * (basis * small + 3 * b * (small + big))
            steps = _block_steps(layer)
            # full reorthogonalisation: CGS twice against at most `basis` vectors
            orthogonalize = steps * 8.0 * small * basis * b / _DENSE_FLOP_RATE
            nbytes = vectors + _matrix_free_chunks(layer)
            stages = (0.0, steps * b * _matrix_free_pair(layer, nnz) + orthogonalize)
            seconds = stages[1]
            return Estimate(int(1.1 * nbytes), float(seconds if stage != "transform" else 0.0))
        stages = (assemble, seconds - assemble)
        if stage == "transform":
            nbytes = sparse
    else:
        raise ValueError(f"no estimate for method {method!r}")
    if stage != "all":
        if stages is None:
            raise ValueError(f"no estimate of stage {stage!r} for method {method!r}")
        seconds = stages[0] if stage == "transform" else stages[1]
    # 10% for interpreter, LAPACK workspace and allocator overhead
    return Estimate(int(1.1 * nbytes), float(seconds))


def _block_steps(layer: Any) -> float:
    """Block steps of :mod:`convbench.krylov` on a zero-padded layer: like the largest
    side ``n`` in 2-D and 3-D (measured 63, 97 and 129 at n = 32, 48 and 64 with 8
    channels and 443 at n = 96 with 4, top_k = 2), like ``n^1.5`` in 1-D (113 and 929
    at n = 256 and 1024): ``max(40 + 3 n, n^1.5 / 32)``."""
    side = max(layer.shape)
    return max(40.0 + 3.0 * side, side**1.5 / 32)


def _matrix_free_chunks(layer: Any) -> int:
    """Bytes of the matrix-free route's working arrays: one im2col chunk (at most
    32 MiB) and one chunk of symbol blocks of the start vector's maximiser search (at
    most 64 MiB)."""
    im2col = 8 * layer.groups * layer.group_in * math.prod(layer.kernel) * math.prod(
        layer.fwd_out)
    torus = math.prod(n + k for n, k in zip(layer.fwd_in, layer.extent, strict=True))
    symbol = 16 * layer.groups * layer.group_out * layer.group_in * layer.phases * torus
    return min(im2col, 32 * 2**20) + min(symbol, 64 * 2**20)


def _matrix_free_pair(layer: Any, nnz: int) -> float:
    """Seconds of one matrix-vector pair of the matrix-free operator."""
    per_pair = 4.0 * nnz / _MATRIX_FREE_FLOP_RATE
    if not layer.is_plain:
        # the general operator gathers and scatters each tap's positions: memory
        # traffic of the input and output per tap, twice per pair
        vectors = layer.rows + layer.cols
        per_pair += 4 * 8 * vectors * math.prod(layer.kernel) / _STREAM_RATE
    return per_pair


def _coarse_taps(layer: Any) -> tuple[int, ...]:
    """Taps per dimension of the layer's polyphase kernel (no weights touched)."""
    out = []
    for off, s, n in zip(layer.offsets, layer.stride, layer.grid, strict=True):
        u = (off - off % s) // s
        out.append(min(int(u.max() - u.min()) + 1, n))
    return tuple(out)


def estimate_bytes(*args, **kwargs) -> int:
    """Predicted peak memory in bytes; arguments as for :func:`estimate`."""
    return estimate(*args, **kwargs).nbytes


def estimate_seconds(*args, **kwargs) -> float:
    """Predicted run time in seconds; arguments as for :func:`estimate`."""
    return estimate(*args, **kwargs).seconds


def feasibility(
    method: str,
    layer: Any,
    *args: int,
    top_k: int | None = None,
    boundary: str | None = None,
    memory_budget: int | float | str | None = None,
    max_seconds: float | None = None,
    stage: str = "all",
    precision: str = "double",
) -> str | None:
    """The shared skip rule: ``None`` if the configuration may run, else the reason why not.

    Parameters
    ----------
    method, layer, top_k, boundary
        As for :func:`estimate` (``layer`` a :class:`~convbench.layer.Conv` or the
        numbers ``cout, cin, n, m, kh, kw`` of a plain 2-D layer).
    memory_budget : int, float, str or None
        Budget as accepted by :func:`memory_budget` (module function).
    max_seconds : float or None
        Largest acceptable predicted run time (``None``: no time limit).
    stage : {"all", "transform", "svd"}
        As for :func:`estimate`.
    precision : {"double", "single"}
        As for :func:`estimate`.

    Returns
    -------
    str or None
        A one-line reason naming the estimate and the limit, or ``None``.
    """
    if args:
        layer = _as_layer(layer, *args[:5], boundary=boundary or "periodic")
    elif boundary is not None:  # a Conv keeps its own boundary
        layer = _bound(layer, "feasibility", boundary)
    est = estimate(method, layer, top_k=top_k, stage=stage, precision=precision)
    what = method if stage == "all" else f"{method} ({stage})"
    size = "x".join(map(str, layer.shape))
    if layer.is_plain:
        where = f"n={size}, c={layer.cout}x{layer.cin}"
    else:
        where = f"{layer.describe()}"
    allowed = _memory_budget(memory_budget)
    if est.nbytes > allowed:
        return (
            f"{what} at {where} needs ~{format_bytes(est.nbytes)} "
            f"> budget {format_bytes(allowed)}"
        )
    if max_seconds is not None and est.seconds > max_seconds:
        return f"{what} at {where} predicted ~{est.seconds:.0f} s > limit {max_seconds:.0f} s"
    return None
