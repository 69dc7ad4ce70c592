"""Streamed statistics: :func:`convbench.summarize` (time and peak memory).

``summarize`` computes the spectrum with the ``fast`` path chunk by chunk and keeps only
running statistics, so its peak memory should stay flat in ``n`` while the full-spectrum
paths grow as ``n**2``. Exact quantiles take two passes; ``exact`` is a parameter. The
skip rule is the library's prediction for the ``fast`` path times the number of passes
(memory is not a limit: nothing of size ``n**2`` is held). One thread
(``CONVBENCH_BENCH_THREADS``).
"""

from __future__ import annotations

import convbench

from .common import CHANNELS, KERNEL, MAX_SECONDS, N_VALUES, Case, predicted, weights


def _predicted(n: int, c: int, exact: bool) -> float:
    passes = 2 if exact else 1
    return passes * predicted("fast", c, n)


class Summarize(Case):
    """sigma extremes, a 64-bin histogram and 11 quantiles of all ``n*n*c`` values."""

    params = ([True, False], list(N_VALUES), list(CHANNELS))
    param_names = ("exact", "n", "channels")
    version = "1"

    def skip_reason(self, exact: bool, n: int, c: int) -> str | None:
        seconds = _predicted(n, c, exact)
        if seconds > MAX_SECONDS:
            return (
                f"summarize at n={n}x{n}, c={c}x{c} predicted ~{seconds:.0f} s "
                f"> limit {MAX_SECONDS:.0f} s"
            )
        return None

    def predict(self, exact: bool, n: int, c: int) -> tuple[float, float]:
        return 0.0, _predicted(n, c, exact)

    def prepare(self, exact: bool, n: int, c: int) -> None:
        self.w = weights(c)
        # JIT compilation and imports happen here, not in the timing
        convbench.summarize(self.w, max(KERNEL, 4), exact=exact, threads=1, progress=False)

    def time_summarize(self, exact: bool, n: int, c: int) -> None:
        convbench.summarize(self.w, n, exact=exact, threads=self.threads, progress=False)

    def peakmem_summarize(self, exact: bool, n: int, c: int) -> None:
        convbench.summarize(self.w, n, exact=exact, threads=self.threads, progress=False)
