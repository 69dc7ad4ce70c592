"""The cost models of the built-in paths: peak memory and run time, before anything runs.

Each registered method (:mod:`convbench.registry`) carries a cost model, a function
``cost(layer, top_k, precision) -> Cost`` that predicts, from the layer's shapes alone,
the peak bytes of the whole path and the seconds of its two stages. This module holds
the models of the five built-in paths; :func:`convbench.budget.estimate` picks one
stage of a :class:`Cost` and adds the allocator's margin.

The time models only decide which benchmark cells are worth running and whether to
print progress, so they are deliberately simple: machine constants calibrated once on
a 2-core x86-64 workstation (numpy 2 with OpenBLAS) and rounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .krylov import block_parameters
from .layer import Conv
from .routes import block_route

__all__ = [
    "MATRIX_FREE_NNZ",
    "Cost",
    "Estimate",
    "explicit_cost",
    "fast_cost",
    "fft_cost",
    "lfa_cost",
    "matrix_free",
    "nonzeros",
]

#: Nonzeros above which ``method="explicit"`` with ``top_k`` stops its Lanczos at
#: ``rtol=1e-9`` instead of ``1e-12`` (:data:`convbench.paths.EXPLICIT_RTOL`); it
#: runs on the matrix-free operator of :mod:`convbench.operators` at every size.
MATRIX_FREE_NNZ = 2**25

_DENSE_FLOP_RATE = 8e9  # flop/s of LAPACK gesdd on a large real matrix
_STREAM_RATE = 1.5e9  # bytes/s for allocation-heavy numpy passes
_FFT_RATE = 2.5e9  # flop/s of numpy's pocketfft on big batched 2-D transforms
_SPARSE_NNZ_RATE = 2e7  # nonzeros per second when assembling the sparse operator
_MATRIX_FREE_FLOP_RATE = 1e10  # flop/s of the per-tap GEMMs (OpenBLAS, 1-2 threads)

# numpy's batched complex SVD (values only, one thread), fitted to blocks of 1 to 64
# channels as: call overhead + a memory-bound part + the cubic part.
_BATCHED_SVD_OVERHEAD = 6e-7  # seconds per block
_BATCHED_SVD_SCALE = 5e-7  # seconds per (big*small)**0.75
_BATCHED_SVD_FLOP_RATE = 2e10  # flop/s of the cubic part


@dataclass(frozen=True)
class Cost:
    """A method's predicted cost on one layer, by stage.

    Attributes
    ----------
    nbytes : int
        Peak bytes of the whole path, without the allocator's margin.
    transform : float
        Seconds of the first stage: the symbol, the half plane or the sparse matrix.
    svd : float
        Seconds of the singular-value step on that representation.
    transform_nbytes, svd_nbytes : int or None
        Peak bytes of one stage run on its own, where it differs from ``nbytes``.
    """

    nbytes: int
    transform: float
    svd: float
    transform_nbytes: int | None = None
    svd_nbytes: int | None = None


@dataclass(frozen=True)
class Estimate:
    """Predicted peak memory (bytes) and run time (seconds) of one computation."""

    nbytes: int
    seconds: float


def nonzeros(layer: Conv) -> int:
    """Nonzeros of the layer's sparse matrix (an upper bound for zero padding)."""
    return layer.fwd_cout * layer.group_in * math.prod(layer.kernel) * math.prod(layer.fwd_out)


def matrix_free(layer: Conv) -> bool:
    """Whether the layer's sparse matrix would have more than :data:`MATRIX_FREE_NNZ`
    nonzeros (``explicit`` + ``top_k`` then stops at ``rtol=1e-9``)."""
    return nonzeros(layer) > MATRIX_FREE_NNZ


def _coarse_taps(layer: Conv) -> tuple[int, ...]:
    """Taps per dimension of the layer's polyphase kernel (no weights touched)."""
    out = []
    for off, s, n in zip(layer.offsets, layer.stride, layer.grid, strict=True):
        u = (off - off % s) // s
        out.append(min(int(u.max() - u.min()) + 1, n))
    return tuple(out)


def _symbol_size(layer: Conv) -> tuple[int, int, int, int]:
    """``blocks, cout, cin, p`` of the periodic reduction: groups x grid blocks of
    ``cout x cin`` (per group, polyphase), and ``p`` entries in all."""
    cout, cin = layer.block_shape
    blocks = layer.groups * math.prod(layer.grid)
    return blocks, cout, cin, blocks * cout * cin


def _values_bytes(n_values: int) -> int:
    """LAPACK's output, its sorted copy and the descending copy."""
    return 3 * 8 * n_values


def _batched_svd_seconds(blocks: int, cout: int, cin: int) -> float:
    big, small = max(cout, cin), min(cout, cin)
    per_block = _BATCHED_SVD_OVERHEAD + _BATCHED_SVD_SCALE * (big * small) ** 0.75
    return blocks * (per_block + 16.0 * big * small * small / _BATCHED_SVD_FLOP_RATE)


def lfa_cost(layer: Conv, top_k: int | None = None, precision: str = "double") -> Cost:
    """``lfa``: the symbol summed tap by tap over the stencil, then batched SVD."""
    blocks, cout, cin, p = _symbol_size(layer)
    kh = _coarse_taps(layer)[0]
    m = math.prod(layer.grid[1:])
    nbytes = 16 * p + 16 * layer.groups * cout * cin * kh * m
    nbytes += _values_bytes(blocks * min(cout, cin))
    return Cost(nbytes, 16 * p * kh * 2 / _STREAM_RATE, _batched_svd_seconds(blocks, cout, cin))


def fft_cost(layer: Conv, top_k: int | None = None, precision: str = "double") -> Cost:
    """``fft`` and ``fftw``: the taps transformed one axis at a time, then batched SVD.

    The complex transform, and the one before it (the first axis still at its taps):
    each axis is padded to its grid just before its own transform, the last first.
    """
    blocks, cout, cin, p = _symbol_size(layer)
    taps, grid = _coarse_taps(layer), layer.grid
    nbytes = 16 * p * (1 + min(taps[0] / grid[0], 1.0)) + _values_bytes(blocks * min(cout, cin))
    fft_flops = sum(
        5.0 * p * math.prod(min(k / n, 1.0) for k, n in zip(taps[:i], grid[:i], strict=True))
        * math.log2(max(grid[i], 2))
        for i in range(len(grid))
    )
    transform = fft_flops / _FFT_RATE + 32 * p / _STREAM_RATE
    return Cost(int(nbytes), transform, _batched_svd_seconds(blocks, cout, cin))


def _fast_block_seconds(layer: Conv, big: int, k: int, taps: tuple[int, ...]) -> float:
    """Seconds of one block on the route :func:`convbench.routes.block_route` picks."""
    route = block_route(big, k)
    if route in ("norm", "closed-form"):
        return 5e-8 * big
    if route == "gram-soa":  # compiled Gram kernel (0.4/6/12/76 us, k=4/12/16/32)
        return 2e-7 + 3e-9 * k * k * (k + big) / 2
    if route == "svd":
        # LAPACK's SVD (measured 1.5/9.2/54 ms at k = 128/256/512 on one thread, taken
        # as 1.5x)
        return 5e-6 + 1.1e-9 * k**3
    # zherk and LAPACK's Hermitian eigenvalues (measured 0.23 ms at k = 64, taken as
    # 0.41 ms)
    gram = 4.0 * k * k * big
    if route == "gram-coef" and layer.groups == 1 and layer.d <= 2:
        # Gram matrices from the (2 kh - 1)(2 kw - 1) Gram coefficients (measured
        # 1.0 ms a block at 128 x 256, taken as 2.1)
        kh, kw = taps[0], taps[1] if len(taps) > 1 else 1
        gram = 8.0 * (2 * kh - 1) * (2 * kw - 1) * k * k
    return 5e-6 + (gram + 16.0 / 3.0 * k**3) / 6e9


def fast_cost(layer: Conv, top_k: int | None = None, precision: str = "double") -> Cost:
    """``fast``: half the plane, compiled kernels, threads.

    The whole path holds the kept values, the descending output, the column table and
    a few cache-sized chunks in flight per thread. Each stage on its own
    (:func:`convbench.fast.half_plane_symbol`) holds the whole half-plane symbol, which
    the whole path never does. ``"single"`` precision halves the bytes per value and
    per symbol entry; its time model is that of ``"double"``.
    """
    scale = 1 if precision == "double" else 2
    blocks, cout, cin, p = _symbol_size(layer)
    taps = _coarse_taps(layer)
    kh = taps[0]
    s = blocks * min(cout, cin)
    half_cols = math.prod(layer.grid[1:]) // 2 + 1
    nbytes = 12 * s // scale + 16 * cout * cin * kh * half_cols + 16 * 2**20
    half_blocks = (blocks + 4 * layer.groups) / 2
    per_block = _fast_block_seconds(layer, max(cout, cin), min(cout, cin), taps)
    staged = int(nbytes + 16 * p / 2 / scale)
    return Cost(
        nbytes,
        16 * p * kh / 2 / _STREAM_RATE,
        # the blocks' values, then radix sort and expansion (~30 ns per kept value)
        half_blocks * per_block + 3e-8 * s / 2,
        transform_nbytes=staged,
        svd_nbytes=staged,
    )


def _block_steps(layer: Conv) -> float:
    """Block steps of :mod:`convbench.krylov` on a zero-padded layer: like the largest
    side ``n`` in 2-D and 3-D (measured 63, 97 and 129 at n = 32, 48 and 64 with 8
    channels and 443 at n = 96 with 4, top_k = 2), like ``n^1.5`` in 1-D (113 and 929
    at n = 256 and 1024): ``max(40 + 3 n, n^1.5 / 32)``."""
    side = max(layer.shape)
    return max(40.0 + 3.0 * side, side**1.5 / 32)


def _matrix_free_chunks(layer: Conv) -> int:
    """Bytes of the matrix-free route's working arrays: one im2col chunk (at most
    32 MiB) and one chunk of symbol blocks of the start vector's maximiser search (at
    most 64 MiB)."""
    im2col = 8 * layer.groups * layer.group_in * math.prod(layer.kernel) * math.prod(
        layer.fwd_out)
    torus = math.prod(n + k for n, k in zip(layer.fwd_in, layer.extent, strict=True))
    symbol = 16 * layer.groups * layer.group_out * layer.group_in * layer.phases * torus
    return min(im2col, 32 * 2**20) + min(symbol, 64 * 2**20)


def _matrix_free_pair(layer: Conv, nnz: int) -> float:
    """Seconds of one matrix-vector pair of the matrix-free operator."""
    per_pair = 4.0 * nnz / _MATRIX_FREE_FLOP_RATE
    if not layer.is_plain:
        # the general operator gathers and scatters each tap's positions: memory
        # traffic of the input and output per tap, twice per pair
        vectors = layer.rows + layer.cols
        per_pair += 4 * 8 * vectors * math.prod(layer.kernel) / _STREAM_RATE
    return per_pair


def _golub_kahan_pair(layer: Conv, nnz: int) -> float:
    """Seconds of one product with the layer and one with its adjoint, matrix-free, on
    one thread: the GEMMs at 3e10 flop/s, the gathers and scatters of every tap's
    positions at 1.5 ns an entry, and 0.1 ms a pair in Python. On seven layers (1-D to
    64 channels, strided, dilated, grouped and transposed; 0.14 to 17 ms a pair,
    OpenBLAS on SkylakeX) this is 0.8 to 1.6 times what was measured. The plain
    zero-padded layer with four channels or more (:mod:`convbench.flat_taps`, which
    gathers nothing) is faster than this: 0.43 s a pair for 64 channels at 256 x 256
    where 0.23 s was measured; the model stays on the safe side."""
    gathers = (layer.rows + layer.cols) * math.prod(layer.kernel)
    return 4.0 * nnz / 3e10 + 1.5e-9 * gathers + 1e-4


def explicit_cost(layer: Conv, top_k: int | None = None, precision: str = "double") -> Cost:
    """``explicit``: the unrolled matrix and LAPACK, or Lanczos for ``top_k``.

    All values: the sparse matrix (COO triplets while assembling plus the CSR copy),
    its dense copy and LAPACK's SVD. ``top_k`` values: the matrix-free operator, no
    matrix assembled (its transform stage costs nothing).
    """
    nnz = nonzeros(layer)
    rows, cols = layer.rows, layer.cols
    small, big = min(rows, cols), max(rows, cols)
    if top_k is None or top_k >= layer.n_values:
        sparse = 40 * nnz
        nbytes = sparse + 8 * rows * cols + _values_bytes(layer.n_values)
        svd = 4.0 * big * small * small / _DENSE_FLOP_RATE + 8 * rows * cols / _STREAM_RATE
        return Cost(nbytes, nnz / _SPARSE_NNZ_RATE, svd, transform_nbytes=sparse)
    if top_k == 1:
        # convbench.extremes.golub_kahan_top: per-tap GEMMs, four Lanczos vectors, the
        # padded input and output of a matvec and the working chunks. It stops on the
        # top Ritz pair's residual: the top values crowd like 1/n^2 on the output grid,
        # and the steps grow about like its side n (measured 220 at n = 64 and 380 at
        # n = 128, 64 channels, rtol 1e-9, and 200 on a stride-2 layer at 80 x 80, whose
        # output is 40 x 40; taken as 60 + 4 n)
        pairs = 60 + 4 * max(layer.fwd_out)
        return Cost(8 * 8 * big + _matrix_free_chunks(layer), 0.0,
                    pairs * _golub_kahan_pair(layer, nnz))
    # convbench.krylov: block Lanczos on the smaller side, b = top_k + margin columns
    # per step, a basis of `basis` vectors, and per step the block's images on both
    # sides plus the final check on A (a few blocks)
    b, basis = block_parameters(top_k, small)
    vectors = 8 * (basis * small + 3 * b * (small + big))
    steps = _block_steps(layer)
    # full reorthogonalisation: CGS twice against at most `basis` vectors
    orthogonalize = steps * 8.0 * small * basis * b / _DENSE_FLOP_RATE
    svd = steps * b * _matrix_free_pair(layer, nnz) + orthogonalize
    return Cost(vectors + _matrix_free_chunks(layer), 0.0, svd)
