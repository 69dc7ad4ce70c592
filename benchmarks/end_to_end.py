"""End to end: :func:`convbench.singular_values` per path, with threads as a parameter.

``threads`` is ``"1"`` or ``"all"`` (every core this process may use): the BLAS/OpenMP
pools are limited with threadpoolctl and the same count is passed as ``threads`` (FFTW
threads for ``fftw``, the thread pool of ``fast``). :class:`TrackThreads` records the
counts actually in effect.

The peers of :mod:`benchmarks.torch_peer` run beside the library's paths: ``torch``
(``torch.fft.fft2`` of the padded kernel, ``torch.linalg.svdvals``, sorted descending,
with ``torch.set_num_threads`` set to the same count; :class:`TrackTorchThreads` records
it), skipped with that reason where torch is not installed.
:class:`TimeSingularValuesWide` times the wide cells of real networks (128 to 512
channels at n = 7 to 28) on one thread, ``torch-cuda`` among its paths (skipped without
a CUDA device): the regime where a GPU would be the question.
"""

from __future__ import annotations

import convbench

from .common import (
    CHANNELS,
    FIXED_THREADS,
    LARGE_MAX_SECONDS,
    N_VALUES,
    PATHS,
    PEERS,
    THREAD_SETTINGS,
    WIDE_CHANNELS,
    WIDE_N,
    WIDE_PATHS,
    Case,
    check_tier,
    feasible,
    feasible_path,
    limit_threads,
    predicted_path,
    resolve_threads,
    thread_info,
    tier_cells,
    weights,
    wide_reason,
)
from .torch_peer import TorchPeer, reason, torch_module


class TimeSingularValues(Case):
    """Seconds for all ``n*n*c`` singular values (explicit: dense LAPACK; peers: torch)."""

    params = (list((*PATHS, "torch")), list(THREAD_SETTINGS), list(N_VALUES), list(CHANNELS))
    param_names = ("path", "threads", "n", "channels")
    version = "1"
    tracked = tier_cells(threads=("1", "all"))

    def threads_for(self, path: str, threads: str, n: int, c: int) -> int:
        return resolve_threads(threads)

    def skip_reason(self, path: str, threads: str, n: int, c: int) -> str | None:
        return feasible_path(path, c, n)

    def predict(self, path: str, threads: str, n: int, c: int) -> tuple[float, float]:
        return 0.0, predicted_path(path, c, n)

    def prepare(self, path: str, threads: str, n: int, c: int) -> None:
        self.w = weights(c)
        self.peer = None
        # imports, JIT compilation and LAPACK loading happen here, not in the timing
        if path in PEERS:
            TorchPeer(self.w, max(self.w.shape[-1], 4), path, self.threads).singular_values()
            self.peer = TorchPeer(self.w, n, path, self.threads)
            return
        convbench.singular_values(self.w, max(self.w.shape[-1], 4), method=path, threads=1)

    def time_singular_values(self, path: str, threads: str, n: int, c: int) -> None:
        if self.peer is not None:
            self.peer.singular_values()
        else:
            convbench.singular_values(self.w, n, method=path, threads=self.threads)


class TrackThreads:
    """The thread counts in effect for each setting of the suite (recorded with results)."""

    params = (["fixed", *THREAD_SETTINGS],)
    param_names = ("threads",)
    unit = "threads"
    version = "1"
    tracked = tier_cells(threads=("fixed", *THREAD_SETTINGS))

    def setup(self, setting: str) -> None:
        check_tier(self, setting)
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


class TrackTorchThreads:
    """The torch threads in effect for each thread setting of the torch peer."""

    params = (list(THREAD_SETTINGS),)
    param_names = ("threads",)
    unit = "threads"
    version = "1"
    tracked = tier_cells(threads=THREAD_SETTINGS)

    def setup(self, setting: str) -> None:
        check_tier(self, setting)
        why = reason("torch")
        if why is None and isinstance(torch_module(), str):
            why = torch_module()
        if why is not None:
            raise NotImplementedError(why)
        self.peer = TorchPeer(weights(1), 4, "torch", resolve_threads(setting))

    def teardown(self, setting: str) -> None:
        self.peer.restore()

    def track_torch_threads(self, setting: str) -> int:
        """``torch.get_num_threads()`` while the peer runs."""
        return int(self.peer.torch.get_num_threads())


class TimeSingularValuesLarge(TimeSingularValues):
    """The same call at the cells too slow for :class:`TimeSingularValues` (one sample).

    The regular benchmark skips a cell predicted above ``MAX_SECONDS``; this one takes
    exactly those cells, up to ``LARGE_MAX_SECONDS`` and the memory budget, on one thread,
    and times each once (``rounds = 1``, one sample), so the run-time figures reach as far
    up the n range as a workstation allows without multiplying the run's duration. Its
    rows have the same benchmark name as the regular ones, with ``threads = "1"``.
    """

    params = (list(PATHS), ["1"], list(N_VALUES), list(CHANNELS))
    version = "1"
    tracked = tier_cells(n=(1024,), channels=(4,))
    rounds = 1
    repeat = (1, 1, 0.0)

    def skip_reason(self, path: str, threads: str, n: int, c: int) -> str | None:
        if feasible(path, c, n) is None:
            return f"{path} at n={n}, c={c} is measured by TimeSingularValues"
        return feasible(path, c, n, max_seconds=LARGE_MAX_SECONDS)


class TimeSingularValuesWide(TimeSingularValues):
    """The same call at the wide cells of real networks, one thread, 1 to 3 samples.

    128, 256 and 512 channels at n = 7, 14, 28, 56 where ``c * n`` is at most
    ``WIDE_MAX_CN`` (see :mod:`benchmarks.common`), up to ``LARGE_MAX_SECONDS`` a call;
    a call over a second is timed once, faster ones up to three times. Its rows share
    the benchmark name of the regular ones, so the run-time figures draw them as more
    channel counts.
    """

    params = (list(WIDE_PATHS), ["1"], list(WIDE_N), list(WIDE_CHANNELS))
    version = "1"
    tracked = tier_cells(n=(14,), channels=(128,))
    rounds = 1
    repeat = (1, 3, 1.0)

    def skip_reason(self, path: str, threads: str, n: int, c: int) -> str | None:
        return wide_reason(c, n) or feasible_path(path, c, n, max_seconds=LARGE_MAX_SECONDS)
