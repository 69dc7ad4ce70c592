"""The transform step: the Fourier symbol of a periodic convolution, in one place.

For a forward, stride-1 layer the symbol at frequency ``t = 2*pi*j/n`` (per dimension)
is the ``cout x cin`` matrix

    B(t) = sum_a W[:, :, a] * exp(i <t, dilation*a - before>)

(``before`` the padding before, ``(k-1)//2`` for a 3x3 'same' layer). Strided layers
are split into polyphase components (:meth:`convbench.layer.Conv.polyphase`): each
frequency of the coarse grid ``n/s`` gives one ``cout x (cin*prod(s))`` block, and
groups give one block per group. Every path, the bound, the zero-padding models and the
operators' start vector evaluate the symbol through :func:`symbol_at` (a tensor grid),
:func:`symbol_points` (a list of frequencies) or the grid functions below.

The paper's three transform paths compute the same C-contiguous array on the grid,
``(*grid, groups, rows, cols)``, every block contiguous as the batched SVD reads it:

``lfa``
    Local Fourier Analysis: direct summation over the stencil as one tensor
    contraction per spatial axis, written C-contiguous in ``(*grid, [groups,] rows, cols)``.
``fft``
    numpy's FFT of the zero-padded kernel (Sedghi, Gupta & Long, 2019), laid out taps
    first and transformed one axis at a time, each axis padded from its taps to its grid
    just before its own transform (:func:`fft_blocks`).
``fftw``
    The same transform through pyFFTW (one in-place plan per axis), with an explicit
    planner effort and thread count. :class:`FFTWPlan` separates planning from execution.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import registry
from .blas import default_threads
from .layer import Conv, Polyphase, as_layer, bind_layer, takes_layer

__all__ = [
    "PLANNER_EFFORTS",
    "SYMBOL_METHODS",
    "FFTWPlan",
    "default_threads",
    "fft_blocks",
    "fft_symbol",
    "fftw_symbol",
    "grid_blocks",
    "lfa_blocks",
    "lfa_symbol",
    "symbol",
    "symbol_at",
    "symbol_points",
]

#: The methods of kind ``"symbol"`` (:mod:`convbench.registry`, a live view): each
#: builds the periodic symbol that :func:`symbol` returns.
SYMBOL_METHODS = registry.MethodNames("symbol")
PLANNER_EFFORTS = ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")


# ---------------------------------------------------------------------------------------
# the one evaluator


def grid_phases(offsets: np.ndarray, n: int, rows: np.ndarray | None = None) -> np.ndarray:
    """``E[j, b] = exp(2*pi*i*j*offsets[b]/n)`` for ``j`` in ``rows`` (default all ``n``).

    ``j*offset`` is reduced modulo ``n`` in integers, so the angle stays exact for large
    ``n``.
    """
    j = np.arange(n) if rows is None else np.asarray(rows)
    return np.exp(2j * np.pi * (np.outer(j, offsets) % n) / n)


def contract(kernel: np.ndarray, phases: Sequence[np.ndarray]) -> np.ndarray:
    """``out[j1..jd, g, r, c] = sum_b kernel[g, r, c, b] prod_i phases[i][j_i, b_i]``.

    One contraction per spatial axis, the last first; the first axis is one GEMM that
    writes the result C-contiguous.
    """
    d = kernel.ndim - 3
    head = kernel.shape[:3]
    x = np.moveaxis(kernel, tuple(range(3, 3 + d)), tuple(range(d)))  # (k1..kd, g, r, c)
    for i in range(d - 1, 0, -1):
        # x: (k1..k_{i+1}, N_{i+2}.., g, r, c) -> contract k_{i+1} (axis i)
        x = np.moveaxis(np.tensordot(phases[i], x, axes=([1], [i])), 0, i)
    e1 = phases[0]
    out = e1 @ x.reshape(x.shape[0], -1)
    lens = tuple(p.shape[0] for p in phases)
    return out.reshape(*lens, *head)


def symbol_at(poly: Polyphase, freqs: Sequence[Any]) -> np.ndarray:
    """The symbol at arbitrary frequencies, on the tensor grid ``freqs[0] x freqs[1] ...``.

    Parameters
    ----------
    poly : Polyphase
        The layer's periodic reduction (:meth:`convbench.layer.Conv.polyphase`).
    freqs : sequence of array_like
        One 1-D array of angles per spatial dimension.

    Returns
    -------
    numpy.ndarray
        complex128 ``(*lens, groups, rows, cols)`` blocks of the canonical forward map.
    """
    if len(freqs) != len(poly.taps):
        raise ValueError(f"need {len(poly.taps)} frequency arrays; got {len(freqs)}")
    phases = [
        np.exp(1j * np.outer(np.asarray(t, dtype=np.float64).ravel(), np.arange(k) + o))
        for t, k, o in zip(freqs, poly.taps, poly.origin, strict=True)
    ]
    return contract(poly.kernel, phases)


def symbol_points(poly: Polyphase, points: Any) -> np.ndarray:
    """The symbol at a list of frequencies (not a tensor grid).

    Parameters
    ----------
    poly : Polyphase
        The layer's periodic reduction (:meth:`convbench.layer.Conv.polyphase`).
    points : array_like
        ``(P, d)`` angles: point ``p`` is the frequency ``points[p]``.

    Returns
    -------
    numpy.ndarray
        complex128 ``(P, groups, rows, cols)`` blocks of the canonical forward map.
    """
    pts = np.asarray(points, dtype=np.float64)
    d = len(poly.taps)
    if pts.ndim != 2 or pts.shape[1] != d:
        raise ValueError(f"points must have shape (P, {d}); got {pts.shape}")
    # E[p, b1..bd] = prod_i exp(i t_i[p] (b_i + o_i)), flattened over the taps
    phases = np.ones((pts.shape[0], 1), dtype=np.complex128)
    for i, (k, o) in enumerate(zip(poly.taps, poly.origin, strict=True)):
        e = np.exp(1j * np.outer(pts[:, i], np.arange(k) + o))
        phases = (phases[:, :, None] * e[:, None, :]).reshape(pts.shape[0], -1)
    head = poly.kernel.shape[:3]
    flat = poly.kernel.reshape(-1, phases.shape[1])  # (groups*rows*cols, taps)
    return (phases @ flat.T).reshape(pts.shape[0], *head)


def lfa_blocks(poly: Polyphase) -> np.ndarray:
    """The symbol on the whole grid by summation over the stencil (LFA).

    Returns a C-contiguous complex128 ``(*grid, groups, rows, cols)`` array.
    """
    phases = [
        grid_phases(np.arange(k) + o, n)
        for k, o, n in zip(poly.taps, poly.origin, poly.grid, strict=True)
    ]
    return contract(poly.kernel, phases)


def tap_positions(poly: Polyphase) -> tuple[np.ndarray, ...]:
    """Where tap ``b`` of each axis sits on the grid: ``(b + origin) mod n``.

    The taps of a polyphase kernel span at most the grid, so the positions are distinct.
    """
    return tuple(
        (np.arange(k) + o) % n for k, o, n in zip(poly.taps, poly.origin, poly.grid, strict=True)
    )


def fft_blocks(poly: Polyphase) -> np.ndarray:
    """The symbol on the grid by numpy's FFT of the zero-padded kernel.

    The kernel is laid out taps first, ``(*taps, groups, rows, cols)``, and transformed
    one axis at a time, the last first: each axis is zero-padded from its taps to its
    grid size just before its own transform, so the earlier transforms run on
    ``taps/n`` of the data (the three-liner ``fft2(kernel, (n, n), axes=[0, 1])`` of
    Sedghi, Gupta & Long does the same through ``s=``). The unnormalised inverse
    transform (``exp(+i t x)``) at ``(b + origin) mod n`` is the symbol itself.

    Returns a C-contiguous complex128 ``(*grid, groups, rows, cols)`` array: every
    block contiguous, as the batched SVD reads it.
    """
    d = len(poly.grid)
    x = np.moveaxis(poly.kernel, tuple(range(3, 3 + d)), tuple(range(d)))
    for axis, pos in reversed(list(enumerate(tap_positions(poly)))):
        y = np.zeros((*x.shape[:axis], poly.grid[axis], *x.shape[axis + 1 :]), np.complex128)
        y[(slice(None),) * axis + (pos,)] = x
        x = np.fft.ifft(y, axis=axis, norm="forward", out=y)
    return x


def grid_blocks(
    layer: Conv,
    method: str = "lfa",
    *,
    threads: int | None = None,
    planner_effort: str = "FFTW_ESTIMATE",
) -> np.ndarray:
    """The periodic symbol of a validated layer on its grid, ``(*grid, groups, rows, cols)``.

    These are the blocks of the canonical forward map; their singular values are the
    layer's periodic spectrum (transposed or not).
    """
    poly = layer.polyphase()
    if method == "lfa":
        return lfa_blocks(poly)
    if method == "fft":
        return fft_blocks(poly)
    if method == "fftw":
        return FFTWPlan(layer, threads=threads, planner_effort=planner_effort)(layer.weight)
    raise ValueError(f"method must be one of {SYMBOL_METHODS}; got {method!r}")


# ---------------------------------------------------------------------------------------
# the public transform


@takes_layer(boundaries=("periodic",))
def symbol(
    layer: Conv,
    method: str = "lfa",
    *,
    threads: int | None = None,
    planner_effort: str = "FFTW_ESTIMATE",
    memory_budget: int | float | str | None = None,
) -> np.ndarray:
    """Complex symbol blocks of the periodic layer on its frequency grid.

    Parameters
    ----------
    method : {"lfa", "fft", "fftw"}
        How the symbol is computed (see the module docstring).
    threads : int, optional
        FFTW threads (``fftw`` only; default: all cores).
    planner_effort : str
        FFTW planner flag (``fftw`` only), e.g. ``"FFTW_ESTIMATE"`` or ``"FFTW_MEASURE"``.
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`).

    Returns
    -------
    numpy.ndarray
        complex128 blocks indexed by the frequency ``2*pi*j/grid`` with
        ``grid = shape / stride`` (transposed layers: ``shape``):

        - ``(*grid, cout, cin*prod(stride))`` for ``groups == 1``, the input channels
          ordered ``(channel, phase_1, ..., phase_d)``;
        - ``(*grid, groups, cout/groups, (cin/groups)*prod(stride))`` for ``groups > 1``.

        For a transposed layer the blocks are those of the layer itself, the conjugate
        transposes of its forward adjoint's: ``((cout/groups)*prod(stride), cin/groups)``.
        For a plain stride-1 2-D layer this is ``(n, m, cout, cin)``.
    """
    from . import registry
    from .memory import check_memory

    if method not in SYMBOL_METHODS:
        raise ValueError(f"method must be one of {SYMBOL_METHODS} for symbol(); got {method!r}")
    check_memory(
        registry.get(method).estimate(layer).nbytes,
        memory_budget,
        f"the {method} symbol of {layer.describe()}",
        "Use a smaller input size, or convbench.summarize for streamed statistics.",
    )
    blocks = grid_blocks(layer, method, threads=threads, planner_effort=planner_effort)
    if layer.transposed:
        blocks = np.conj(np.swapaxes(blocks, -1, -2))
    if layer.groups == 1:
        blocks = blocks[..., 0, :, :]
    return blocks


# ---------------------------------------------------------------------------------------
# the paper's plain 2-D layer (validated (cout, cin, kh, kw) weights, 'same' padding)


def _plain(w: np.ndarray, n: int, m: int) -> Conv:
    return Conv.build(w, (n, m), boundary="periodic")


def lfa_symbol(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """LFA symbol of a plain 2-D layer, C-contiguous ``(n, m, cout, cin)``.

    Parameters
    ----------
    w : numpy.ndarray
        float64 weights ``(cout, cin, kh, kw)``.
    n, m : int
        Input size.
    """
    return lfa_blocks(_plain(w, n, m).polyphase())[:, :, 0]


def fft_symbol(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """Symbol of a plain 2-D layer by numpy's FFT, C-contiguous ``(n, m, cout, cin)``."""
    return fft_blocks(_plain(w, n, m).polyphase())[:, :, 0]


class FFTWPlan:
    """A pyFFTW plan for the symbol of one layer geometry.

    Planning happens in the constructor, execution in :meth:`__call__`, so the two can
    be timed apart. The plan owns aligned input and output buffers and is reused.

    Parameters
    ----------
    layer : Conv or tuple of int
        A validated periodic layer (its weights may be replaced at each call), or the
        weight shape ``(cout, cin, kh, kw)`` of a plain 2-D layer, with ``shape``.
    shape : int or tuple of int, optional
        Input size ``n`` or ``(n, m)`` of the plain layer (with a weight shape only).
    threads : int, optional
        FFTW threads (default: all cores).
    planner_effort : str
        One of ``FFTW_ESTIMATE``, ``FFTW_MEASURE``, ``FFTW_PATIENT``, ``FFTW_EXHAUSTIVE``.
    """

    def __init__(
        self,
        layer: Conv | tuple[int, ...],
        shape: Any = None,
        threads: int | None = None,
        planner_effort: str = "FFTW_ESTIMATE",
    ) -> None:
        import pyfftw

        if planner_effort not in PLANNER_EFFORTS:
            raise ValueError(
                f"planner_effort must be one of {PLANNER_EFFORTS}; got {planner_effort!r}"
            )
        threads = default_threads() if threads is None else threads
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ValueError(f"threads must be a positive integer; got {threads!r}")
        self._plain = not isinstance(layer, Conv)
        if not isinstance(layer, Conv):
            weight_shape = tuple(int(s) for s in layer)
            if len(weight_shape) != 4:
                raise ValueError(f"weight_shape must be (cout, cin, kh, kw); got {layer}")
            if shape is None:
                raise TypeError("FFTWPlan needs the input shape with a weight shape")
            layer = as_layer(np.ones(weight_shape), shape, boundary="periodic")
        else:  # the periodic layer's transform: a Conv keeps its settings
            layer = bind_layer(layer, shape, function="FFTWPlan", boundaries=("periodic",))
        self.layer = layer
        self.n, self.m = (*layer.grid, 1)[:2]
        self.weight_shape = tuple(layer.weight.shape)
        self.threads = int(threads)
        self.planner_effort = planner_effort
        poly = layer.polyphase()
        d = len(poly.grid)
        # one in-place backward (unnormalised, exp(+i t x)) transform per axis, the last
        # first, each on the axes already transformed and the taps of those still to go
        taps_first = (*poly.taps, *poly.kernel.shape[:3])
        self._positions = tap_positions(poly)
        self._stages = []
        for axis in range(d - 1, -1, -1):
            shape = (*taps_first[:axis], *poly.grid[axis:d], *taps_first[d:])
            buf = pyfftw.empty_aligned(shape, dtype="complex128")
            plan = pyfftw.FFTW(
                buf,
                buf,
                axes=(axis,),
                direction="FFTW_BACKWARD",
                flags=(planner_effort, "FFTW_DESTROY_INPUT"),
                threads=self.threads,
            )
            self._stages.append((axis, buf, plan))

    def __call__(self, w: np.ndarray) -> np.ndarray:
        """Execute the plan on validated float64 weights of the planned shape.

        Returns a C-contiguous array: ``(n, m, cout, cin)`` for a plan made from a weight
        shape, else ``(*grid, groups, rows, cols)``. It is the plan's output buffer: the
        next call overwrites it.
        """
        if w.shape != self.weight_shape:
            raise ValueError(f"plan made for weights {self.weight_shape}; got {w.shape}")
        layer = self.layer if w is self.layer.weight else dataclasses.replace(self.layer, weight=w)
        kernel = layer.polyphase().kernel
        d = kernel.ndim - 3
        x = np.moveaxis(kernel, tuple(range(3, 3 + d)), tuple(range(d)))
        for axis, buf, plan in self._stages:
            buf[...] = 0
            buf[(slice(None),) * axis + (self._positions[axis],)] = x
            plan.execute()  # unnormalised: the symbol itself
            x = buf
        return x[:, :, 0] if self._plain else x


def fftw_symbol(
    w: np.ndarray,
    n: int,
    m: int,
    threads: int | None = None,
    planner_effort: str = "FFTW_ESTIMATE",
) -> np.ndarray:
    """Symbol of a plain 2-D layer through pyFFTW; plans, executes, returns the blocks."""
    return FFTWPlan(w.shape, (n, m), threads=threads, planner_effort=planner_effort)(w)
