"""Ordering a spectrum: numpy's comparison sort against the library's parallel radix sort.

The ``fast`` path ends by sorting the values of half the frequency plane (each stands for
two singular values). This isolates that step on real data: the moduli of a 1-channel
layer's symbol over the half plane, ``n * (n//2 + 1)`` values in frequency order, sorted
ascending in place. ``numpy`` is ``ndarray.sort`` (one thread); ``radix`` is
:func:`convbench.ordering.radix_sort` with ``threads`` workers. The setup recomputes the
unsorted values before every sample.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from convbench import budget, ordering

from .common import MAX_SECONDS, N_VALUES, THREAD_SETTINGS, Case, resolve_threads, weights

SORTS = ("numpy", "radix")
# seconds per value, measured on the reference machine (8M values: 0.55-0.9 s, 0.2 s)
_SECONDS_PER_VALUE = {"numpy": 1e-7, "radix": 3e-8}


def _values(n: int) -> int:
    return n * (n // 2 + 1)


class TimeOrdering(Case):
    """Seconds to sort ``n * (n//2 + 1)`` half-plane values ascending, in place."""

    params = (list(SORTS), list(THREAD_SETTINGS), list(N_VALUES))
    param_names = ("sort", "threads", "n")

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

    def time_sort(self, sort: str, threads: str, n: int) -> None:
        if sort == "numpy":
            self.values.sort()
        else:
            submit = self.pool.submit if self.pool is not None else None
            ordering.radix_sort(self.values, self.scratch, self.threads, submit)

    def teardown(self, sort: str, threads: str, n: int) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.shutdown()
            self.pool = None
        super().teardown(sort, threads, n)
