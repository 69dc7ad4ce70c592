"""Peak memory of :func:`convbench.singular_values` per path, end to end.

asv's ``peakmem_`` is the largest resident set size of the benchmark process, so it
includes the interpreter with numpy, scipy and pyFFTW loaded (the cells at the smallest
sizes show that floor). One thread (``CONVBENCH_BENCH_THREADS``).
"""

from __future__ import annotations

import convbench

from .common import CHANNELS, N_VALUES, PATHS, Case, feasible, predicted, weights


class PeakMemSingularValues(Case):
    """Peak resident memory (bytes) while computing all singular values."""

    params = (list(PATHS), list(N_VALUES), list(CHANNELS))
    param_names = ("path", "n", "channels")
    version = "1"

    def skip_reason(self, path: str, n: int, c: int) -> str | None:
        return feasible(path, c, n)

    def predict(self, path: str, n: int, c: int) -> tuple[float, float]:
        return 0.0, predicted(path, c, n)

    def prepare(self, path: str, n: int, c: int) -> None:
        self.w = weights(c)

    def peakmem_singular_values(self, path: str, n: int, c: int) -> None:
        convbench.singular_values(self.w, n, method=path, threads=self.threads)
