"""The transform step: the Fourier symbol of a periodic convolution.

For every frequency ``(t1, t2) = (2*pi*j/n, 2*pi*l/m)`` the symbol is the
``cout x cin`` matrix

    B(t1, t2) = sum_{a,b} W[:, :, a, b] * exp(i*(t1*(a - ph) + t2*(b - pw)))

with ``ph = (kh - 1) // 2`` and ``pw = (kw - 1) // 2``. All three paths return exactly
this array, of shape ``(n, m, cout, cin)``; they differ in how they compute it and in
the memory layout of the result:

``lfa``
    Local Fourier Analysis: direct summation over the kernel stencil as two tensor
    contractions (one per spatial axis), written C-contiguous in ``(n, m, cout, cin)``.
``fft``
    numpy's FFT of the zero-padded kernel (Sedghi, Gupta & Long, 2019), transformed
    in the kernel's own ``(cout, cin, n, m)`` order; the result is a strided view.
``fftw``
    The same transform through pyFFTW, with an explicit planner effort and thread
    count. :class:`FFTWPlan` separates planning from execution.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .budget import check_memory, estimate_bytes
from .weights import as_oihw, as_shape, check_fits

__all__ = [
    "SYMBOL_METHODS",
    "FFTWPlan",
    "default_threads",
    "fft_symbol",
    "fftw_symbol",
    "lfa_symbol",
    "padded_kernel",
    "symbol",
]

SYMBOL_METHODS = ("lfa", "fft", "fftw")
PLANNER_EFFORTS = ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")


def default_threads() -> int:
    """Number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def symbol(
    weight: Any,
    shape: int | tuple[int, int],
    method: str = "lfa",
    layout: str = "oihw",
    *,
    threads: int | None = None,
    planner_effort: str = "FFTW_ESTIMATE",
    memory_budget: int | float | str | None = None,
) -> np.ndarray:
    """Complex symbol blocks of the periodic convolution, shape ``(n, m, cout, cin)``.

    Parameters
    ----------
    weight : array_like
        Real 4-D weights in ``layout``.
    shape : int or tuple of int
        Input size ``n`` or ``(n, m)``.
    method : {"lfa", "fft", "fftw"}
        How the symbol is computed (see the module docstring).
    layout : {"oihw", "hwio"}
        Weight layout.
    threads : int, optional
        FFTW threads (``fftw`` only; default: all cores).
    planner_effort : str
        FFTW planner flag (``fftw`` only), e.g. ``"FFTW_ESTIMATE"`` or ``"FFTW_MEASURE"``.
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`).

    Returns
    -------
    numpy.ndarray
        complex128 array ``B[j, l] = B(2*pi*j/n, 2*pi*l/m)``. For ``fft`` and ``fftw``
        it is a transposed (non-contiguous) view of the transform's output.
    """
    if method not in SYMBOL_METHODS:
        raise ValueError(f"method must be one of {SYMBOL_METHODS} for symbol(); got {method!r}")
    w = as_oihw(weight, layout)
    n, m = as_shape(shape)
    check_fits(w, n, m)
    cout, cin, kh, kw = w.shape
    needed = estimate_bytes(method, cout, cin, n, m, kh, kw)
    check_memory(
        needed,
        memory_budget,
        f"the {method} symbol at {n}x{m} with {cout}x{cin} channels",
        "Use a smaller input size, or convbench.summarize for streamed statistics.",
    )
    if method == "lfa":
        return lfa_symbol(w, n, m)
    if method == "fft":
        return fft_symbol(w, n, m)
    return fftw_symbol(w, n, m, threads=threads, planner_effort=planner_effort)


def _phases(k: int, n: int) -> np.ndarray:
    """``E[j, a] = exp(2*pi*i*j*(a - (k-1)//2)/n)`` for ``j < n``, ``a < k``."""
    offsets = np.arange(k) - (k - 1) // 2
    # reduce j*offset modulo n in integers so the angle stays exact for large n
    return np.exp(2j * np.pi * (np.outer(np.arange(n), offsets) % n) / n)


def lfa_symbol(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """LFA symbol by summation over the stencil, as two contractions (validated input).

    Parameters
    ----------
    w : numpy.ndarray
        float64 weights ``(cout, cin, kh, kw)``.
    n, m : int
        Input size.

    Returns
    -------
    numpy.ndarray
        C-contiguous complex128 ``(n, m, cout, cin)``.
    """
    cout, cin, kh, kw = w.shape
    e1 = _phases(kh, n)  # (n, kh)
    e2 = _phases(kw, m)  # (m, kw)
    # contraction over b: T[a, l, o, i] = sum_b W[o, i, a, b] * e2[l, b]
    t = np.einsum("oiab,lb->aloi", w, e2, optimize=True)
    # contraction over a: B[j, (l, o, i)] = sum_a e1[j, a] * T[a, (l, o, i)]
    b = e1 @ t.reshape(kh, m * cout * cin)
    return b.reshape(n, m, cout, cin)


def padded_kernel(w: np.ndarray, n: int, m: int, dtype: Any = np.float64) -> np.ndarray:
    """The kernel zero-padded to ``(cout, cin, n, m)`` so that its DFT is the symbol.

    Tap ``(a, b)`` is stored at ``((ph - a) mod n, (pw - b) mod m)``: the flip turns the
    DFT's ``exp(-i t x)`` into the symbol's ``exp(+i t (a - ph))``, the shift centres it.
    """
    cout, cin, kh, kw = w.shape
    out = np.zeros((cout, cin, n, m), dtype=dtype)
    rows = ((kh - 1) // 2 - np.arange(kh)) % n
    cols = ((kw - 1) // 2 - np.arange(kw)) % m
    out[:, :, rows[:, None], cols[None, :]] = w
    return out


def fft_symbol(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """Symbol by numpy's 2-D FFT of the zero-padded kernel (validated input).

    Returns the ``(n, m, cout, cin)`` transposed view of the ``(cout, cin, n, m)``
    transform, the memory layout this path naturally produces.
    """
    return np.fft.fft2(padded_kernel(w, n, m), axes=(2, 3)).transpose(2, 3, 0, 1)


class FFTWPlan:
    """A pyFFTW plan for the symbol of ``(cout, cin, kh, kw)`` kernels at ``n x m``.

    Planning happens in the constructor, execution in :meth:`__call__`, so the two can
    be timed apart. The plan owns aligned input and output buffers and is reused.

    Parameters
    ----------
    weight_shape : tuple of int
        ``(cout, cin, kh, kw)``.
    shape : int or tuple of int
        Input size ``n`` or ``(n, m)``.
    threads : int, optional
        FFTW threads (default: all cores).
    planner_effort : str
        One of ``FFTW_ESTIMATE``, ``FFTW_MEASURE``, ``FFTW_PATIENT``, ``FFTW_EXHAUSTIVE``.
    """

    def __init__(
        self,
        weight_shape: tuple[int, int, int, int],
        shape: int | tuple[int, int],
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
        if len(weight_shape) != 4:
            raise ValueError(f"weight_shape must be (cout, cin, kh, kw); got {weight_shape}")
        self.n, self.m = as_shape(shape)
        self.weight_shape = tuple(int(s) for s in weight_shape)
        self.threads = int(threads)
        self.planner_effort = planner_effort
        cout, cin = self.weight_shape[:2]
        full = (cout, cin, self.n, self.m)
        self._in = pyfftw.empty_aligned(full, dtype="complex128")
        self._out = pyfftw.empty_aligned(full, dtype="complex128")
        self._fftw = pyfftw.FFTW(
            self._in,
            self._out,
            axes=(2, 3),
            direction="FFTW_FORWARD",
            flags=(planner_effort,),
            threads=self.threads,
        )

    def __call__(self, w: np.ndarray) -> np.ndarray:
        """Execute the plan on validated ``oihw`` float64 weights; returns a view.

        The returned array aliases the plan's output buffer: the next call overwrites it.
        """
        if w.shape != self.weight_shape:
            raise ValueError(f"plan made for weights {self.weight_shape}; got {w.shape}")
        self._in[...] = 0
        _cout, _cin, kh, kw = w.shape
        rows = ((kh - 1) // 2 - np.arange(kh)) % self.n
        cols = ((kw - 1) // 2 - np.arange(kw)) % self.m
        self._in[:, :, rows[:, None], cols[None, :]] = w
        self._fftw()
        return self._out.transpose(2, 3, 0, 1)


def fftw_symbol(
    w: np.ndarray,
    n: int,
    m: int,
    threads: int | None = None,
    planner_effort: str = "FFTW_ESTIMATE",
) -> np.ndarray:
    """Symbol through pyFFTW (validated input); plans, executes, returns a view."""
    return FFTWPlan(w.shape, (n, m), threads=threads, planner_effort=planner_effort)(w)
