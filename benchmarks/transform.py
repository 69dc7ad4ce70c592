"""Transform only: the time to build the symbol, per path (no SVD).

``lfa`` and ``fft`` are timed through :func:`convbench.symbol`. ``fftw`` is planned in
``setup`` (:class:`convbench.FFTWPlan`) and only the execution is timed;
:class:`TimeFFTWPlanning` times the planning on its own. ``fast`` is the fast path's
own transform, :func:`convbench.fast.half_plane_symbol`: the kept blocks of half the
frequency plane in the layout its kernels read (one thread). ``torch`` is the peer of
:mod:`benchmarks.torch_peer`: ``torch.fft.fft2`` of the padded kernel, on the CPU with
the suite's thread count (skipped where torch is not installed).
:class:`TimeTransformWide` times the wide cells of real networks.
"""

from __future__ import annotations

import functools
from typing import Any

import convbench
from convbench import fast

from .common import (
    CHANNELS,
    LARGE_MAX_SECONDS,
    N_VALUES,
    TRANSFORM_PATHS,
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


class TimeTransform(Case):
    """Seconds to build the ``(n, n, c, c)`` symbol (fftw: executing a ready plan; fast:
    the half plane)."""

    params = ([*TRANSFORM_PATHS, "fast", "torch"], list(N_VALUES), list(CHANNELS))
    param_names = ("path", "n", "channels")
    version = "1"

    def skip_reason(self, path: str, n: int, c: int) -> str | None:
        return feasible_path(path, c, n, stage="transform")

    def predict(self, path: str, n: int, c: int) -> tuple[float, float]:
        call = predicted_path(path, c, n, stage="transform")
        return (call if path == "fftw" else 0.0), call

    def prepare(self, path: str, n: int, c: int) -> None:
        self.w = weights(c)
        self.plan: Any = None  # a ready callable of the weights, where the path has one
        self.peer = None
        if path == "torch":
            TorchPeer(self.w, max(self.w.shape[-1], 4), path, self.threads).symbol()
            self.peer = TorchPeer(self.w, n, path, self.threads)
            self.plan = lambda w: self.peer.symbol()
        elif path == "fftw":
            self.plan = convbench.FFTWPlan(self.w.shape, n, threads=self.threads)
            self.plan(weights(c))  # first execution: pages of the buffers are touched
        elif path == "fast":
            fast.half_plane_symbol(self.w, max(self.w.shape[-1], 4))  # compiled kernels
            self.plan = functools.partial(fast.half_plane_symbol, shape=n)
        else:
            convbench.symbol(self.w, max(self.w.shape[-1], 4), method=path)  # imports

    def time_symbol(self, path: str, n: int, c: int) -> None:
        if self.plan is not None:
            self.plan(self.w)
        else:
            convbench.symbol(self.w, n, method=path, threads=self.threads)


class TimeTransformWide(TimeTransform):
    """The transform at the wide cells of real networks (see
    :class:`benchmarks.end_to_end.TimeSingularValuesWide`): 1 to 3 samples a cell."""

    params = (["lfa", "fft", "fast", "torch"], list(WIDE_N), list(WIDE_CHANNELS))
    version = "1"
    tracked = tier_cells(n=(14,), channels=(128,))
    rounds = 1
    repeat = (1, 3, 1.0)

    def skip_reason(self, path: str, n: int, c: int) -> str | None:
        return wide_reason(c, n) or feasible_path(
            path, c, n, stage="transform", max_seconds=LARGE_MAX_SECONDS
        )


class TimeFFTWPlanning(Case):
    """Seconds to plan pyFFTW's transform (``FFTW_ESTIMATE``, buffers included).

    Only ``FFTW_ESTIMATE`` is timed: the other planner efforts run trial transforms and
    keep wisdom in the process, so repeated samples would not measure the same thing.
    """

    params = (list(N_VALUES), list(CHANNELS))
    param_names = ("n", "channels")
    version = "1"

    def skip_reason(self, n: int, c: int) -> str | None:
        return feasible("fftw", c, n, stage="transform")

    def predict(self, n: int, c: int) -> tuple[float, float]:
        # planning allocates the buffers but runs no transform: bounded by one execution
        return 0.0, predicted("fftw", c, n, stage="transform")

    def prepare(self, n: int, c: int) -> None:
        self.shape = weights(c).shape
        convbench.FFTWPlan(self.shape, max(self.shape[-1], 4), threads=self.threads)

    def time_plan(self, n: int, c: int) -> None:
        convbench.FFTWPlan(self.shape, n, threads=self.threads, planner_effort="FFTW_ESTIMATE")
