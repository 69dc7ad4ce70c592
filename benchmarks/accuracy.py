"""Accuracy (``track_``): deviations from the dense reference, and boundary effects.

:class:`TrackDeviation`
    each path's largest deviation from the dense LAPACK spectrum of the explicit periodic
    operator, ``max_i |sigma_i - sigma_i_ref| / sigma_max``, where that reference is
    feasible (the explicit path is the reference itself and is not tracked);
:class:`TrackBoundaryError`
    how far the periodic spectrum (LFA) is from the zero-padding spectrum (dense SVD of
    the explicit zero-boundary operator, i.e. PyTorch's ``padding='same'`` layer) at
    small ``n``: the W1 (mean), W-infinity (max) and ``sigma_max`` differences of the
    sorted spectra, relative to the zero-padding ``sigma_max``
    (:func:`convbench.errors.spectrum_errors`).

The dense references are computed once per run in ``setup_cache`` (one thread), for the
cells whose predicted dense SVD takes at most ``REFERENCE_MAX_SECONDS``.
"""

from __future__ import annotations

import numpy as np

import convbench
from convbench.errors import spectrum_errors

from .common import (
    BOUNDARY_N,
    CHANNELS,
    FIXED_THREADS,
    N_VALUES,
    PATHS,
    REFERENCE_MAX_SECONDS,
    Tracked,
    check,
    check_tier,
    feasible,
    in_tier,
    limit_threads,
    predicted,
    tier_cells,
    weights,
)

DEVIATION_PATHS = tuple(p for p in PATHS if p != "explicit")


def _reference_reason(n: int, c: int, boundary: str) -> str | None:
    return feasible("explicit", c, n, boundary=boundary, max_seconds=REFERENCE_MAX_SECONDS)


def _dense(n: int, c: int, boundary: str) -> np.ndarray:
    return convbench.singular_values(weights(c), n, method="explicit", boundary=boundary)


class TrackDeviation(Tracked):
    """Largest deviation of each path from the dense reference spectrum."""

    params = (list(DEVIATION_PATHS), list(N_VALUES), list(CHANNELS))
    param_names = ("path", "n", "channels")
    version = "1"
    tracked = tier_cells(n=(32, 64), channels=(1,))

    @staticmethod
    def cells() -> list[tuple[int, int]]:
        return [
            (n, c)
            for n in N_VALUES
            for c in CHANNELS
            if in_tier(TrackDeviation, n=n, channels=c)
            and _reference_reason(n, c, "periodic") is None
        ]

    @staticmethod
    def predict_cache() -> float:
        return sum(predicted("explicit", c, n) for n, c in TrackDeviation.cells())

    def setup_cache(self) -> dict[tuple[int, int], np.ndarray]:
        with limit_threads(FIXED_THREADS):
            return {(n, c): _dense(n, c, "periodic") for n, c in self.cells()}

    def skip_reason(self, path: str, n: int, c: int) -> str | None:
        reference = _reference_reason(n, c, "periodic")
        if reference is not None:
            return f"no dense reference: {reference}"
        return feasible(path, c, n)

    def predict(self, path: str, n: int, c: int) -> tuple[float, float]:
        return predicted(path, c, n), 0.0

    def setup(self, refs: dict, path: str, n: int, c: int) -> None:
        check_tier(self, path, n, c)
        check(self.skip_reason(path, n, c))
        self._limiter = limit_threads(FIXED_THREADS)
        self.values = convbench.singular_values(weights(c), n, method=path, threads=FIXED_THREADS)

    def track_max_deviation(self, refs: dict, path: str, n: int, c: int) -> float:
        return spectrum_errors(self.values, refs[(n, c)])["max_abs"]


class TrackBoundaryError(Tracked):
    """Periodic (LFA) vs zero-padding (dense explicit) spectra at small ``n``."""

    params = (list(BOUNDARY_N), list(CHANNELS))
    param_names = ("n", "channels")
    version = "1"
    tracked = tier_cells(n=(8, 16), channels=(4,))

    @staticmethod
    def cells() -> list[tuple[int, int]]:
        return [
            (n, c)
            for n in BOUNDARY_N
            for c in CHANNELS
            if in_tier(TrackBoundaryError, n=n, channels=c)
            and _reference_reason(n, c, "zero") is None
        ]

    @staticmethod
    def predict_cache() -> float:
        return sum(
            predicted("explicit", c, n, boundary="zero") + predicted("lfa", c, n)
            for n, c in TrackBoundaryError.cells()
        )

    def setup_cache(self) -> dict[tuple[int, int], dict[str, float]]:
        out = {}
        with limit_threads(FIXED_THREADS):
            for n, c in self.cells():
                periodic = convbench.singular_values(weights(c), n, method="lfa")
                out[(n, c)] = spectrum_errors(periodic, _dense(n, c, "zero"))
        return out

    def skip_reason(self, n: int, c: int) -> str | None:
        reference = _reference_reason(n, c, "zero")
        return None if reference is None else f"no dense zero-padding spectrum: {reference}"

    def predict(self, n: int, c: int) -> tuple[float, float]:
        return 0.0, 0.0

    def setup(self, errors: dict, n: int, c: int) -> None:
        check_tier(self, n, c)
        check(self.skip_reason(n, c))

    def track_mean_abs(self, errors: dict, n: int, c: int) -> float:
        """W1 distance of the sorted spectra over the zero-padding ``sigma_max``."""
        return errors[(n, c)]["mean_abs"]

    def track_max_abs(self, errors: dict, n: int, c: int) -> float:
        """W-infinity distance (largest difference) over the zero-padding ``sigma_max``."""
        return errors[(n, c)]["max_abs"]

    def track_rel_sigma_max(self, errors: dict, n: int, c: int) -> float:
        """Signed relative difference of the largest singular value."""
        return errors[(n, c)]["rel_sigma_max"]
