"""SVD only, with the memory layout of the symbol as a parameter.

The same symbol values are handed to the batched SVD
(:func:`convbench.svd.block_singular_values`) in three layouts:

``lfa``
    as LFA writes them: C-contiguous ``(n, n, cout, cin)``, each block contiguous;
``fft-view``
    as numpy's FFT of the ``(cout, cin, kh, kw)`` kernel produces them: the transform is
    ``(cout, cin, n, n)`` and the blocks are read through a transposed (strided) view;
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
"""

from __future__ import annotations

import numpy as np

from convbench import fast
from convbench.svd import block_singular_values
from convbench.symbols import fft_symbol, lfa_symbol

from .common import CHANNELS, N_VALUES, Case, feasible, predicted, weights

LAYOUTS = ("lfa", "fft-view", "fft-copy", "fast")


def _source(layout: str) -> str:
    return layout if layout in ("lfa", "fast") else "fft"


class TimeBatchedSVD(Case):
    """Seconds of the batched SVD (values only, sorted) of the symbol in each layout."""

    params = (list(LAYOUTS), list(N_VALUES), list(CHANNELS))
    param_names = ("layout", "n", "channels")

    def skip_reason(self, layout: str, n: int, c: int) -> str | None:
        return feasible(_source(layout), c, n, stage="svd") or feasible(
            _source(layout), c, n, stage="transform"
        )

    def predict(self, layout: str, n: int, c: int) -> tuple[float, float]:
        source = _source(layout)
        return predicted(source, c, n, stage="transform"), predicted(source, c, n, stage="svd")

    def prepare(self, layout: str, n: int, c: int) -> None:
        w = weights(c)
        block_singular_values(lfa_symbol(w, 4, 4))  # LAPACK loaded outside the timing
        self.values_of = block_singular_values
        if layout == "fast":
            self.values_of = fast.half_plane_values
            self.values_of(fast.half_plane_symbol(w, 4))  # compiled kernels
            self.blocks = fast.half_plane_symbol(w, n)
        elif layout == "lfa":
            self.blocks = lfa_symbol(w, n, n)
        elif layout == "fft-view":
            self.blocks = fft_symbol(w, n, n)
        else:
            self.blocks = np.ascontiguousarray(fft_symbol(w, n, n))

    def time_svd(self, layout: str, n: int, c: int) -> None:
        self.values_of(self.blocks)


class TimeLayoutCopy(Case):
    """Seconds to copy numpy's FFT symbol (a strided view) to C-contiguous blocks."""

    params = (list(N_VALUES), list(CHANNELS))
    param_names = ("n", "channels")

    def skip_reason(self, n: int, c: int) -> str | None:
        return feasible("fft", c, n, stage="transform")

    def predict(self, n: int, c: int) -> tuple[float, float]:
        transform = predicted("fft", c, n, stage="transform")
        return transform, transform  # a copy streams less than the transform

    def prepare(self, n: int, c: int) -> None:
        self.view = fft_symbol(weights(c), n, n)

    def time_copy(self, n: int, c: int) -> None:
        np.ascontiguousarray(self.view)
