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
"""

from __future__ import annotations

import numpy as np

from convbench.svd import block_singular_values
from convbench.symbols import fft_symbol, lfa_symbol

from .common import CHANNELS, N_VALUES, Case, feasible, predicted, weights

LAYOUTS = ("lfa", "fft-view", "fft-copy")


def _source(layout: str) -> str:
    return "lfa" if layout == "lfa" else "fft"


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
        if layout == "lfa":
            self.blocks = lfa_symbol(w, n, n)
        elif layout == "fft-view":
            self.blocks = fft_symbol(w, n, n)
        else:
            self.blocks = np.ascontiguousarray(fft_symbol(w, n, n))

    def time_svd(self, layout: str, n: int, c: int) -> None:
        block_singular_values(self.blocks)


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
