"""The published codes, as reference paths: written from their papers' descriptions.

Two short programs are what people compare against when they say "LFA" or "FFT". They
are written here from their published descriptions (not from the library), each split
into its transform and its SVD step so that they can be timed per stage beside the
library's paths, and each followed by one descending sort so that every path returns
the same thing:

``three_liner``
    Sedghi, Gupta & Long (ICLR 2019): the kernel in ``(kh, kw, cin, cout)`` order,
    ``np.fft.fft2(kernel, (n, n), axes=[0, 1])``, then
    ``np.linalg.svd(..., compute_uv=False)``. Its blocks come out contiguous (the
    transform's last two axes are the channels); they are the transposes of the
    symbol's conjugates times a phase (no flip, no centring), so their singular values
    are the layer's.
``three_liner_fftw``
    The same three lines with pyFFTW's numpy interface
    (``pyfftw.interfaces.numpy_fft.fft2``, ``FFTW_ESTIMATE``, one thread by default).
``paper_lfa``
    The LFA code of van Betteray, Rottmann & Kahl (arXiv 2506.05617): a 3x3 kernel,
    ``c_in = c_out``, stride 1; the phases ``exp(i theta_j k)`` for ``k = -1, 0, 1``,
    two tensordots (one per spatial axis) and a transposed view ``(n, n, cout, cin)``
    handed to the batched SVD.

The kernel's reordering to ``(kh, kw, cin, cout)`` is the three-liner's input format,
not part of its work: :func:`hwio` is done before the timing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PUBLISHED", "hwio", "paper_lfa", "sorted_values", "three_liner", "three_liner_fftw"]


def hwio(w: np.ndarray) -> np.ndarray:
    """PyTorch's ``(cout, cin, kh, kw)`` weights as the three-liner's ``(kh, kw, cin, cout)``."""
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def three_liner(kernel: np.ndarray, n: int) -> np.ndarray:
    """The transform of the FFT three-liner: ``(n, n, cin, cout)``, contiguous blocks."""
    return np.fft.fft2(kernel, (n, n), axes=[0, 1])


def three_liner_fftw(kernel: np.ndarray, n: int, threads: int = 1) -> np.ndarray:
    """The same transform through pyFFTW's numpy interface."""
    from pyfftw.interfaces import numpy_fft

    return numpy_fft.fft2(kernel, (n, n), axes=(0, 1), threads=threads,
                          planner_effort="FFTW_ESTIMATE")


def paper_lfa(w: np.ndarray, n: int) -> np.ndarray:
    """The paper's LFA transform of ``(c, c, 3, 3)`` weights: a ``(n, n, c, c)`` view."""
    if w.ndim != 4 or w.shape[2:] != (3, 3) or w.shape[0] != w.shape[1]:
        raise ValueError(f"the paper's LFA code takes (c, c, 3, 3) weights; got {w.shape}")
    theta = 2 * np.pi * np.arange(n) / n
    phases = np.exp(1j * np.outer(theta, np.arange(-1, 2)))  # (n, 3)
    rows = np.tensordot(phases, w, axes=([1], [2]))  # (n, cout, cin, kw)
    both = np.tensordot(rows, phases, axes=([3], [1]))  # (n, cout, cin, n)
    return both.transpose(0, 3, 1, 2)  # (n, n, cout, cin), a transposed view


def sorted_values(blocks: np.ndarray) -> np.ndarray:
    """The SVD step: ``np.linalg.svd(blocks, compute_uv=False)``, sorted descending."""
    return np.sort(np.linalg.svd(blocks, compute_uv=False), axis=None)[::-1]


#: name -> (transform of (weights, n), whether it takes hwio weights)
PUBLISHED = {
    "three-liner": (three_liner, True),
    "three-liner-fftw": (three_liner_fftw, True),
    "paper-lfa": (paper_lfa, False),
}
