"""SVD only, with the memory layout of the symbol as a parameter.

The same symbol values are handed to the batched SVD
(:func:`convbench.svd.block_singular_values`) in three layouts:

``lfa``
    as LFA writes them: C-contiguous ``(n, n, cout, cin)``, each block contiguous;
``fft-view``
    as numpy's FFT of the ``(cout, cin, kh, kw)`` kernel produces them
    (:func:`strided_view`): the transform is ``(cout, cin, n, n)`` and the blocks are
    read through a transposed (strided) view. The library's ``fft`` path no longer
    works in this layout (its blocks are contiguous); the layout is kept here, by name,
    because it is what the paper's claim C3 is about;
``fft-copy``
    the same FFT output copied to C-contiguous ``(n, n, cout, cin)``; the copy is done in
    ``setup`` here and timed on its own by :class:`TimeLayoutCopy`.

Comparing ``fft-view`` with ``fft-copy`` (plus the copy) and with ``lfa`` confirms or
refutes the claim that the symbol's memory layout matters for the SVD step.

``fast``
    the fast path's own second step on its own symbol
    (:func:`convbench.fast.half_plane_values` of :func:`convbench.fast.half_plane_symbol`):
    half the blocks, in its layout, its factorizations and its radix ordering; one pool
    thread, BLAS at the suite's fixed thread count (``CONVBENCH_BENCH_THREADS``). Not a
    layout of the same computation, but the same question of where the time goes.
``torch``
    the peer of :mod:`benchmarks.torch_peer`: ``torch.linalg.svdvals`` of torch's FFT
    symbol as ``torch.fft.fft2`` leaves it (the ``(n, n, cout, cin)`` view), then the
    values sorted descending; torch threads at the suite's fixed count.

:class:`TimeBatchedSVDWide` times the wide cells of real networks.
"""

from __future__ import annotations

import numpy as np

from convbench import fast
from convbench.svd import block_singular_values
from convbench.symbols import lfa_symbol

from .common import (
    CHANNELS,
    LARGE_MAX_SECONDS,
    N_VALUES,
    WIDE_CHANNELS,
    WIDE_N,
    Case,
    feasible,
    feasible_path,
    predicted,
    predicted_path,
    tier_cells,
    weights,
    wide_reason,
)
from .torch_peer import TorchPeer

LAYOUTS = ("lfa", "fft-view", "fft-copy", "fast", "torch")


def strided_view(w: np.ndarray, n: int) -> np.ndarray:
    """numpy's FFT of the ``(cout, cin, kh, kw)`` kernel, read as ``(n, n, cout, cin)``.

    The blocks are the symbol's conjugates times a phase (the kernel is neither flipped
    nor centred), so their singular values are the layer's; the layout is a transposed,
    strided view of the ``(cout, cin, n, n)`` transform.
    """
    return np.moveaxis(np.fft.fft2(w, s=(n, n)), (2, 3), (0, 1))


def _source(layout: str) -> str:
    return layout if layout in ("lfa", "fast", "torch") else "fft"


class TimeBatchedSVD(Case):
    """Seconds of the batched SVD (values only, sorted) of the symbol in each layout."""

    params = (list(LAYOUTS), list(N_VALUES), list(CHANNELS))
    param_names = ("layout", "n", "channels")
    version = "1"

    #: largest predicted seconds of one stage (None: the suite's MAX_SECONDS)
    max_seconds: float | None = None

    def skip_reason(self, layout: str, n: int, c: int) -> str | None:
        source = _source(layout)
        limit = self.max_seconds
        return feasible_path(source, c, n, stage="svd", max_seconds=limit) or feasible_path(
            source, c, n, stage="transform", max_seconds=limit
        )

    def predict(self, layout: str, n: int, c: int) -> tuple[float, float]:
        source = _source(layout)
        return (predicted_path(source, c, n, stage="transform"),
                predicted_path(source, c, n, stage="svd"))

    def prepare(self, layout: str, n: int, c: int) -> None:
        w = weights(c)
        self.peer = None
        if layout == "torch":
            small = TorchPeer(w, 4, layout, self.threads)
            small.sorted_values(small.symbol())  # torch's LAPACK loaded outside the timing
            self.peer = TorchPeer(w, n, layout, self.threads)
            self.values_of = self.peer.sorted_values
            self.blocks = self.peer.symbol()
            return
        block_singular_values(lfa_symbol(w, 4, 4))  # LAPACK loaded outside the timing
        self.values_of = block_singular_values
        if layout == "fast":
            self.values_of = fast.half_plane_values
            self.values_of(fast.half_plane_symbol(w, 4))  # compiled kernels
            self.blocks = fast.half_plane_symbol(w, n)
        elif layout == "lfa":
            self.blocks = lfa_symbol(w, n, n)
        elif layout == "fft-view":
            self.blocks = strided_view(w, n)
        else:
            self.blocks = np.ascontiguousarray(strided_view(w, n))

    def time_svd(self, layout: str, n: int, c: int) -> None:
        self.values_of(self.blocks)


class TimeBatchedSVDWide(TimeBatchedSVD):
    """The SVD step at the wide cells of real networks (see
    :class:`benchmarks.end_to_end.TimeSingularValuesWide`): 1 to 3 samples a cell.

    ``fft-view`` is left out: it is LAPACK on the same values as ``lfa`` (the regular
    benchmark answers the layout question), and the suite's hour has no room for it.
    """

    params = (["lfa", "fast", "torch"], list(WIDE_N), list(WIDE_CHANNELS))
    version = "1"
    tracked = tier_cells(n=(14,), channels=(128,))
    rounds = 1
    repeat = (1, 3, 1.0)
    max_seconds = LARGE_MAX_SECONDS

    def skip_reason(self, layout: str, n: int, c: int) -> str | None:
        return wide_reason(c, n) or super().skip_reason(layout, n, c)


class TimeLayoutCopy(Case):
    """Seconds to copy numpy's FFT symbol (a strided view) to C-contiguous blocks."""

    params = (list(N_VALUES), list(CHANNELS))
    param_names = ("n", "channels")
    version = "1"

    def skip_reason(self, n: int, c: int) -> str | None:
        return feasible("fft", c, n, stage="transform")

    def predict(self, n: int, c: int) -> tuple[float, float]:
        transform = predicted("fft", c, n, stage="transform")
        return transform, transform  # a copy streams less than the transform

    def prepare(self, n: int, c: int) -> None:
        self.view = strided_view(weights(c), n)

    def time_copy(self, n: int, c: int) -> None:
        np.ascontiguousarray(self.view)
