"""Zero padding: exact extremes, the certified norm bound and the approximate models.

:class:`TimeTopOne`
    ``sigma_max`` of the zero-padded operator by Lanczos
    (``singular_values(..., method="explicit", boundary="zero", top_k=1)``; matrix-free
    above ``convbench.budget.MATRIX_FREE_NNZ`` nonzeros);
:class:`TimeTopOneTargets`
    the same on the zero-padding speed targets: a YOLOv8n detector layer (64x32x3x3,
    stride 2, at 80x80, one thread) against ARPACK on torch's ``conv2d``
    (:func:`benchmarks.torch_peer.arpack_sigma_max`, what a user would write), and a
    64-channel 3x3 layer at 256x256 on two threads (skipped by the time limit unless
    ``CONVBENCH_BENCH_MAX_SECONDS`` allows it);
:class:`TimeNormBound`
    :func:`convbench.spectral_norm_bound`, the certified upper bound (independent of n);
:class:`TimeApproximate`
    :func:`convbench.approximate` for every model;
:class:`TrackModelError`
    each model's error against the dense zero-padded spectrum (W1 over ``sigma_max``
    and the relative ``sigma_max`` error), for 3x3 and 5x5 kernels at small n (dense
    SVDs predicted at most a quarter of ``REFERENCE_MAX_SECONDS``);
:class:`TrackBoundGap`
    how far the bound sits above the exact zero-padded ``sigma_max``.
"""

from __future__ import annotations

import convbench
from convbench.boundary import MODELS
from convbench.errors import spectrum_errors

from . import torch_peer
from .common import (
    BOUNDARY_N,
    CHANNELS,
    FIXED_THREADS,
    LARGE_MAX_SECONDS,
    MAX_SECONDS,
    N_VALUES,
    REFERENCE_MAX_SECONDS,
    SEED,
    Case,
    Tracked,
    check,
    check_tier,
    feasible,
    feasible_layer,
    in_tier,
    limit_threads,
    predicted,
    predicted_layer,
    tier_cells,
    weights,
)

#: ``"best"`` is one of these (``convbench.boundary.BEST``), so it is not timed twice.
ALL_MODELS = MODELS
MODEL_KERNELS = (3, 5)


class TimeTopOne(Case):
    """Seconds for the largest singular value of the zero-padded operator."""

    params = (list(N_VALUES), list(CHANNELS))
    param_names = ("n", "channels")
    version = "1"
    tracked = tier_cells(n=(32, 64), channels=(4,))

    def skip_reason(self, n: int, c: int) -> str | None:
        return feasible("explicit", c, n, top_k=1, boundary="zero")

    def predict(self, n: int, c: int) -> tuple[float, float]:
        return 0.0, predicted("explicit", c, n, top_k=1, boundary="zero")

    def prepare(self, n: int, c: int) -> None:
        self.w = weights(c)

    def time_top_one(self, n: int, c: int) -> None:
        convbench.singular_values(self.w, n, method="explicit", boundary="zero", top_k=1)


#: The speed targets of the exact zero-padded sigma_max: cout, cin, input size n,
#: stride and threads (3x3 kernels, padding 1, seeded PyTorch-default weights).
TARGET_CELLS = {
    "detector": (64, 32, 80, 2, 1),
    "n256-c64": (64, 64, 256, 1, 2),
}
#: convbench, and the reference a user would write (on the detector cell).
TARGET_PATHS = ("convbench", "arpack-torch")
#: ARPACK's tolerance (``svds(tol=...)``); convbench runs at its own, no looser.
ARPACK_TOL = 1e-10
#: ARPACK on torch's time over convbench's, for the skip rule and the plan (measured
#: 3.1 to 3.6 on the detector cell at 428e11f, taken as 4).
ARPACK_FACTOR = 4.0


class TimeTopOneTargets(Case):
    """Seconds for the exact zero-padded ``sigma_max`` of the target cells."""

    params = (list(TARGET_CELLS), list(TARGET_PATHS))
    param_names = ("cell", "path")
    version = "1"
    tracked = tier_cells(cell=("detector",))
    # seconds a call: 1 to 3 samples, up to LARGE_MAX_SECONDS predicted
    repeat = (1, 3, 1.0)

    def threads_for(self, cell: str, path: str) -> int:
        return TARGET_CELLS[cell][4]

    def _layer(self, cell: str) -> convbench.Conv:
        cout, cin, n, stride, _threads = TARGET_CELLS[cell]
        w = convbench.pytorch_default(cout, cin, 3, seed=SEED)
        return convbench.as_layer(w, n, stride=stride, padding=1, boundary="zero")

    def skip_reason(self, cell: str, path: str) -> str | None:
        if path == "arpack-torch":
            if cell != "detector":
                return ("ARPACK on torch is the reference of the detector cell; the "
                        "n = 256 target is a time of its own (60 s)")
            why = torch_peer.reason("torch")
            if why is None and self.predict(cell, path)[1] > LARGE_MAX_SECONDS:
                why = (f"ARPACK on torch predicted ~{self.predict(cell, path)[1]:.0f} s "
                       f"> limit {LARGE_MAX_SECONDS:.0f} s")
            return why
        return feasible_layer("explicit", self._layer(cell), top_k=1,
                              max_seconds=LARGE_MAX_SECONDS)

    def predict(self, cell: str, path: str) -> tuple[float, float]:
        seconds = predicted_layer("explicit", self._layer(cell), top_k=1)
        return 0.0, ARPACK_FACTOR * seconds if path == "arpack-torch" else seconds

    def prepare(self, cell: str, path: str) -> None:
        self.layer = self._layer(cell)
        self.peer = None
        if path == "arpack-torch":  # torch's own pool, restored in teardown
            self.peer = torch_peer.TorchThreads(self.threads)

    def time_top_one(self, cell: str, path: str) -> None:
        if path == "arpack-torch":
            _cout, _cin, n, stride, _threads = TARGET_CELLS[cell]
            torch_peer.arpack_sigma_max(self.layer.weight, n, stride, 1, ARPACK_TOL)
        else:
            convbench.singular_values(self.layer, method="explicit", top_k=1)


class TimeNormBound(Case):
    """Seconds for the certified bound on ``sigma_max`` (any n, either boundary)."""

    params = (list(CHANNELS),)
    param_names = ("channels",)
    version = "1"

    def skip_reason(self, c: int) -> str | None:
        return None

    def predict(self, c: int) -> tuple[float, float]:
        return 0.0, 6000 * (2e-6 + 2e-9 * c**3)  # a few thousand c x c SVDs

    def prepare(self, c: int) -> None:
        self.w = weights(c)

    def time_norm_bound(self, c: int) -> None:
        convbench.spectral_norm_bound(self.w)


class TimeApproximate(Case):
    """Seconds for an approximate zero-padding spectrum of the exact length."""

    params = (list(ALL_MODELS), list(N_VALUES), list(CHANNELS))
    param_names = ("model", "n", "channels")
    version = "1"

    def skip_reason(self, model: str, n: int, c: int) -> str | None:
        # O(n*n) symbol evaluations and SVDs, like the lfa path; a third of its limit
        return feasible("lfa", c, n, max_seconds=MAX_SECONDS / 3)

    def predict(self, model: str, n: int, c: int) -> tuple[float, float]:
        return 0.0, predicted("lfa", c, n)

    def prepare(self, model: str, n: int, c: int) -> None:
        self.w = weights(c)

    def time_approximate(self, model: str, n: int, c: int) -> None:
        convbench.approximate(self.w, n, model=model)


def _reference_cells() -> list[tuple[int, int, int]]:
    """(kernel, n, c) whose dense zero-padded SVD fits the reference time limit."""
    cells = []
    for k in MODEL_KERNELS:
        for n in BOUNDARY_N:
            for c in CHANNELS:
                if n < k or not in_tier(TrackModelError, kernel=k, n=n, channels=c):
                    continue
                if feasible("explicit", c, n, max_seconds=REFERENCE_MAX_SECONDS / 4) is None:
                    cells.append((k, n, c))
    return cells


class TrackModelError(Tracked):
    """Error of each model against the dense zero-padded spectrum."""

    params = (list(ALL_MODELS), list(MODEL_KERNELS), list(BOUNDARY_N), list(CHANNELS))
    param_names = ("model", "kernel", "n", "channels")
    version = "1"
    tracked = tier_cells(n=(8, 16), channels=(4,))

    @staticmethod
    def predict_cache() -> float:
        return sum(predicted("explicit", c, n, boundary="zero") for _k, n, c in _reference_cells())

    def setup_cache(self) -> dict[tuple[str, int, int, int], dict[str, float]]:
        out = {}
        with limit_threads(FIXED_THREADS):
            for k, n, c in _reference_cells():
                w = convbench.pytorch_default(c, c, k, seed=0)
                exact = convbench.singular_values(w, n, method="explicit", boundary="zero")
                for model in ALL_MODELS:
                    approx = convbench.approximate(w, n, model=model)
                    out[(model, k, n, c)] = spectrum_errors(approx, exact)
        return out

    def skip_reason(self, model: str, k: int, n: int, c: int) -> str | None:
        if (k, n, c) in _reference_cells():
            return None
        return (
            f"no dense zero-padding spectrum for k={k}, n={n}, c={c} "
            "(kernel larger than n, or beyond the size or time limit)"
        )

    def predict(self, model: str, k: int, n: int, c: int) -> tuple[float, float]:
        return 0.0, 0.0

    def setup(self, errors: dict, model: str, k: int, n: int, c: int) -> None:
        check_tier(self, model, k, n, c)
        check(self.skip_reason(model, k, n, c))

    def track_mean_abs(self, errors: dict, model: str, k: int, n: int, c: int) -> float:
        """W1 distance of the sorted spectra over the exact ``sigma_max``."""
        return errors[(model, k, n, c)]["mean_abs"]

    def track_rel_sigma_max(self, errors: dict, model: str, k: int, n: int, c: int) -> float:
        """Signed relative error of the largest singular value."""
        return errors[(model, k, n, c)]["rel_sigma_max"]


class TrackBoundGap(Tracked):
    """``(bound - sigma_max) / sigma_max`` of the certified bound, zero padding."""

    params = (list(N_VALUES), list(CHANNELS))
    param_names = ("n", "channels")
    version = "1"
    tracked = tier_cells(n=(32, 64), channels=(4,))

    def skip_reason(self, n: int, c: int) -> str | None:
        return feasible("explicit", c, n, top_k=1, boundary="zero", max_seconds=MAX_SECONDS)

    def predict(self, n: int, c: int) -> tuple[float, float]:
        return 0.0, predicted("explicit", c, n, top_k=1, boundary="zero")

    def setup(self, n: int, c: int) -> None:
        check_tier(self, n, c)
        check(self.skip_reason(n, c))
        self._limiter = limit_threads(FIXED_THREADS)
        w = weights(c)
        self.top = convbench.singular_values(w, n, method="explicit", boundary="zero", top_k=1)
        self.bound = convbench.spectral_norm_bound(w).upper

    def track_bound_gap(self, n: int, c: int) -> float:
        return float((self.bound - self.top[0]) / self.top[0])

