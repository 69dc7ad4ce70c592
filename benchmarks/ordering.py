"""Ordering a spectrum: numpy's comparison sort against the library's parallel radix sort.

The ``fast`` path ends by sorting the values of half the frequency plane (each stands for
two singular values). This isolates that step on real data: the moduli of a 1-channel
layer's symbol over the half plane, ``n * (n//2 + 1)`` values in frequency order, sorted
ascending in place. ``numpy`` is ``ndarray.sort`` (one thread); ``radix`` is
:func:`convbench.ordering.radix_sort` with ``threads`` workers; ``auto`` is
:func:`convbench.ordering.sort`, what the fast path calls (the faster of the two as
measured on this machine, numpy's on one value range per thread). The setup recomputes
the unsorted values before every sample. :class:`TrackSortChoice` records which sort
``auto`` picks here.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from convbench import budget, ordering

from .common import MAX_SECONDS, N_VALUES, THREAD_SETTINGS, Case, resolve_threads, weights

SORTS = ("numpy", "radix", "auto")
# seconds per value on the slower host of the reference machine (8M values: numpy
# 0.55-0.9 s without AVX2, radix 0.2 s); auto picks the faster
_SECONDS_PER_VALUE = {"numpy": 1e-7, "radix": 3e-8, "auto": 3e-8}


def _values(n: int) -> int:
    return n * (n // 2 + 1)


class TimeOrdering(Case):
    """Seconds to sort ``n * (n//2 + 1)`` half-plane values ascending, in place."""

    params = (list(SORTS), list(THREAD_SETTINGS), list(N_VALUES))
    param_names = ("sort", "threads", "n")
    version = "1"

    def threads_for(self, sort: str, threads: str, n: int) -> int:
        return resolve_threads(threads)

    def skip_reason(self, sort: str, threads: str, n: int) -> str | None:
        if sort == "numpy" and threads != "1":
            return "numpy's sort has no threads"
        count = _values(n)
        nbytes = 3 * 8 * count  # the values, the radix scratch, the symbol they come from
        allowed = budget.memory_budget()
        if nbytes > allowed:
            return (f"{sort} sort of {count} values needs ~{budget.format_bytes(nbytes)} "
                    f"> budget {budget.format_bytes(allowed)}")
        seconds = count * _SECONDS_PER_VALUE[sort]
        if seconds > MAX_SECONDS:
            return (f"{sort} sort of {count} values predicted ~{seconds:.0f} s "
                    f"> limit {MAX_SECONDS:.0f} s")
        return None

    def predict(self, sort: str, threads: str, n: int) -> tuple[float, float]:
        return 2e-8 * n * n, _values(n) * _SECONDS_PER_VALUE[sort]

    def prepare(self, sort: str, threads: str, n: int) -> None:
        kernel = weights(1)[0, 0]
        self.values = np.ascontiguousarray(np.abs(np.fft.rfft2(kernel, s=(n, n))).ravel())
        self.scratch = np.empty_like(self.values)
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        ordering.radix_sort(self.values[:100].copy(), self.scratch)  # compile, untimed
        ordering.sort_method(self.values.size)  # measured once, untimed

    def time_sort(self, sort: str, threads: str, n: int) -> None:
        submit = self.pool.submit if self.pool is not None else None
        if sort == "numpy":
            self.values.sort()
        elif sort == "radix":
            ordering.radix_sort(self.values, self.scratch, self.threads, submit)
        else:
            ordering.sort(self.values, self.scratch, self.threads, submit)

    def teardown(self, sort: str, threads: str, n: int) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.shutdown()
            self.pool = None
        super().teardown(sort, threads, n)


class TrackSortChoice:
    """The sort :func:`convbench.ordering.sort` picks here for a large spectrum.

    1: numpy's sort (vectorised on this CPU and measured faster), 0: the radix sort.
    Recorded with the results because the fast path's times depend on it.
    """

    unit = "numpy sort (1) or radix (0)"
    version = "1"

    def track_numpy_sort(self) -> int:
        return int(ordering.sort_method(1 << 23) == "numpy")
