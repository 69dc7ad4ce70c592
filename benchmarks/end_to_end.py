"""End to end: :func:`convbench.singular_values` per path, with threads as a parameter.

``threads`` is ``"1"`` or ``"all"`` (every core this process may use): the BLAS/OpenMP
pools are limited with threadpoolctl and the same count is passed as ``threads`` (FFTW
threads for ``fftw``, the thread pool of ``fast``). :class:`TrackThreads` records the
counts actually in effect.
"""

from __future__ import annotations

import convbench

from .common import (
    CHANNELS,
    FIXED_THREADS,
    LARGE_MAX_SECONDS,
    N_VALUES,
    PATHS,
    THREAD_SETTINGS,
    Case,
    feasible,
    limit_threads,
    predicted,
    resolve_threads,
    thread_info,
    weights,
)


class TimeSingularValues(Case):
    """Seconds for all ``n*n*c`` singular values (explicit: dense LAPACK)."""

    params = (list(PATHS), list(THREAD_SETTINGS), list(N_VALUES), list(CHANNELS))
    param_names = ("path", "threads", "n", "channels")

    def threads_for(self, path: str, threads: str, n: int, c: int) -> int:
        return resolve_threads(threads)

    def skip_reason(self, path: str, threads: str, n: int, c: int) -> str | None:
        return feasible(path, c, n)

    def predict(self, path: str, threads: str, n: int, c: int) -> tuple[float, float]:
        return 0.0, predicted(path, c, n)

    def prepare(self, path: str, threads: str, n: int, c: int) -> None:
        self.w = weights(c)
        # imports, JIT compilation and LAPACK loading happen here, not in the timing
        convbench.singular_values(self.w, max(self.w.shape[-1], 4), method=path, threads=1)

    def time_singular_values(self, path: str, threads: str, n: int, c: int) -> None:
        convbench.singular_values(self.w, n, method=path, threads=self.threads)


class TrackThreads:
    """The thread counts in effect for each setting of the suite (recorded with results)."""

    params = (["fixed", *THREAD_SETTINGS],)
    param_names = ("threads",)
    unit = "threads"

    def setup(self, setting: str) -> None:
        self.count = FIXED_THREADS if setting == "fixed" else resolve_threads(setting)
        self._limiter = limit_threads(self.count)

    def teardown(self, setting: str) -> None:
        self._limiter.restore_original_limits()

    def track_blas_threads(self, setting: str) -> int:
        """Largest thread count of any BLAS library loaded by numpy/scipy, under the limit."""
        convbench.singular_values(convbench.pytorch_default(2, 2, 3), 4)  # loads LAPACK
        info = thread_info()
        blas = [v for k, v in info.items() if k in ("openblas", "mkl", "blis", "flexiblas")]
        return max(blas) if blas else 0

    def track_fftw_threads(self, setting: str) -> int:
        """Threads handed to pyFFTW (and to the ``fast`` path's pool)."""
        return self.count


class TimeSingularValuesLarge(TimeSingularValues):
    """The same call at the cells too slow for :class:`TimeSingularValues` (one sample).

    The regular benchmark skips a cell predicted above ``MAX_SECONDS``; this one takes
    exactly those cells, up to ``LARGE_MAX_SECONDS`` and the memory budget, on one thread,
    and times each once (``rounds = 1``, one sample), so the run-time figures reach as far
    up the n range as a workstation allows without multiplying the run's duration. Its
    rows have the same benchmark name as the regular ones, with ``threads = "1"``.
    """

    params = (list(PATHS), ["1"], list(N_VALUES), list(CHANNELS))
    rounds = 1
    repeat = (1, 1, 0.0)

    def skip_reason(self, path: str, threads: str, n: int, c: int) -> str | None:
        if feasible(path, c, n) is None:
            return f"{path} at n={n}, c={c} is measured by TimeSingularValues"
        return feasible(path, c, n, max_seconds=LARGE_MAX_SECONDS)
