"""The field's sigma_max bounds and estimates on real layers: their time and their gap.

:func:`convbench.sigma_max_estimates` gives, for one layer, the exact zero-padded
``sigma_max`` and the published bounds and estimates (Gram iteration, Araujo et al.,
Singla & Feizi, Grishina et al., power iteration, the reshaped-matrix norm, and the
library's own certified bounds). This module times each method on real layers
(:class:`TimeEstimate`) and tracks how far each one lies from the exact value
(:class:`TrackEstimateGap`: ``value / exact - 1``, positive above it):

=========================== ==========================================================
layer                       what it is (seeded PyTorch-style weights, 224 x 224 input)
=========================== ==========================================================
``resnet18-stem``           ResNet-18's 7x7 stride-2 stem, 3 -> 64 channels at 224
``resnet18-3x3``            a 64-channel 3x3 at 56 (ResNet-18's first stage)
``resnet18-3x3-s2``         the strided 3x3, 64 -> 128 at 56
``resnet18-1x1-s2``         the strided 1x1 shortcut, 64 -> 128 at 56
``resnet18-wide-14``        a wide cell: 256 channels, 3x3 at 14
``resnet18-wide-7``         a wide cell: 512 channels, 3x3 at 7
``mobilenet_v2-dw``         a depthwise 3x3, 144 channels at 56
``mobilenet_v2-dw-s2``      a depthwise stride-2 3x3, 96 channels at 112
``mobilenet_v2-1x1``        an expansion 1x1, 24 -> 144 at 56
=========================== ==========================================================

The layers are those of :mod:`benchmarks.networks`' tables, with the same seeds (``SEED``
plus the layer's index), so these cells are the networks' own layers. The whole
networks, every layer and every method, are ``scripts/estimates_table.py``'s job (the
leaderboard figure and the whole-model table of ``notebooks/estimates.py``). Full tier;
one cell of each class in the tracking tier. One BLAS thread.

``CONVBENCH_BENCH_ESTIMATE_LAYERS`` (comma-separated names; default every layer but the
two wide ones) lists the layers the full run measures. The wide layers are opt-in: at
ba996cf on the reference machine the 512-channel one alone took 94 s of
:class:`TimeEstimate`'s 196 s of samples (its exact ``sigma_max`` 33.5 s, the Gram
iteration 10.6 s), and ``make bench`` ran 37.7 minutes, past its half hour. Set it to
every name above for the whole grid.
"""

from __future__ import annotations

import os

import numpy as np

import convbench

from .common import (
    SEED,
    Case,
    Tracked,
    check,
    check_tier,
    limit_threads,
    predicted_layer,
    tier_cells,
    tier_reason,
)
from .networks import table

#: name -> (architecture, index in its table)
LAYERS = {
    "resnet18-stem": ("resnet18", 0),
    "resnet18-3x3": ("resnet18", 1),
    "resnet18-3x3-s2": ("resnet18", 5),
    "resnet18-1x1-s2": ("resnet18", 7),
    "resnet18-wide-14": ("resnet18", 11),
    "resnet18-wide-7": ("resnet18", 16),
    "mobilenet_v2-dw": ("mobilenet_v2", 7),
    "mobilenet_v2-dw-s2": ("mobilenet_v2", 4),
    "mobilenet_v2-1x1": ("mobilenet_v2", 6),
}
#: Every method but the exact value (the reference the gaps are taken against).
METHODS = tuple(m for m in convbench.ESTIMATE_METHODS if m != "exact")
#: The tracking tier's cell: the tightest certified bound on a real 3x3 layer.
TRACKED = tier_cells(method=("gram_embedded",), layer=("resnet18-3x3",))


def real_layer(name: str) -> convbench.Conv:
    """The zero-padded layer ``name`` of :data:`LAYERS`, with its network's seed."""
    architecture, index = LAYERS[name]
    spec = table(architecture)[index]
    return convbench.as_layer(spec.weight(SEED + index), spec.size, boundary="zero",
                              **spec.options())


#: The layers the full run measures (``CONVBENCH_BENCH_ESTIMATE_LAYERS``).
ESTIMATE_LAYERS = tuple(
    name.strip() for name in os.environ.get(
        "CONVBENCH_BENCH_ESTIMATE_LAYERS",
        ",".join(n for n in LAYERS if not n.startswith("resnet18-wide")),
    ).split(",") if name.strip()
)
if not ESTIMATE_LAYERS or set(ESTIMATE_LAYERS) - set(LAYERS):
    raise ValueError(f"CONVBENCH_BENCH_ESTIMATE_LAYERS must list layers of "
                     f"{', '.join(LAYERS)}; got {ESTIMATE_LAYERS!r}")


def estimate_reason(method: str, layer: str) -> str | None:
    """Why a cell is not run, or None (a row that does not apply is a NaN, not a skip)."""
    if layer not in ESTIMATE_LAYERS:
        return (f"estimate layers run: {', '.join(ESTIMATE_LAYERS)} "
                f"(CONVBENCH_BENCH_ESTIMATE_LAYERS); {layer} is opt-in")
    if method == "spectral_norm_bound" and layer.startswith("resnet18-wide"):
        return ("spectral_norm_bound's branch and bound took 415 s on the 512-channel layer "
                "(size_bound certifies it at its size in seconds)")
    return None


def _value(frame, method: str) -> float:
    return float(frame.loc[frame["method"] == method, "value"].iloc[0])


class TimeEstimate(Case):
    """Seconds of one method's sigma_max (a bound or an estimate) on one real layer."""

    params = (list(convbench.ESTIMATE_METHODS), list(LAYERS))
    param_names = ("method", "layer")
    version = "1"
    tracked = TRACKED
    repeat = (1, 3, 1.0)

    def skip_reason(self, method: str, layer: str) -> str | None:
        return estimate_reason(method, layer)

    def predict(self, method: str, layer: str) -> tuple[float, float]:
        if method in ("exact", "power"):  # Lanczos or power steps on the operator
            return 0.0, predicted_layer("explicit", real_layer(layer), top_k=1)
        return 0.0, 0.5  # closed forms, small SVDs and Gram steps on the symbol

    def prepare(self, method: str, layer: str) -> None:
        self.layer = real_layer(layer)
        convbench.sigma_max_estimates(convbench.as_layer(np.ones((1, 1, 3, 3)), 4,
                                                         boundary="zero"), methods=[method])

    def time_estimate(self, method: str, layer: str) -> None:
        convbench.sigma_max_estimates(self.layer, methods=[method])


class TrackEstimateGap(Tracked):
    """``value / exact - 1`` of one method on one real layer (exact: zero padding)."""

    params = (list(METHODS), list(LAYERS))
    param_names = ("method", "layer")
    version = "1"
    tracked = TRACKED
    unit = "relative to the exact zero-padded sigma_max"

    def setup_cache(self) -> dict[str, float]:
        limiter = limit_threads(1)
        try:
            return {name: float(convbench.singular_values(
                real_layer(name), method="explicit", top_k=1)[0]) for name in LAYERS
                if name in ESTIMATE_LAYERS and tier_reason(type(self), layer=name) is None}
        finally:
            limiter.restore_original_limits()

    def skip_reason(self, method: str, layer: str) -> str | None:
        return estimate_reason(method, layer)

    def setup(self, exact: dict[str, float], method: str, layer: str) -> None:
        check_tier(self, method, layer)
        check(self.skip_reason(method, layer))
        self._limiter = limit_threads(1)

    def track_gap(self, exact: dict[str, float], method: str, layer: str) -> float:
        frame = convbench.sigma_max_estimates(real_layer(layer), methods=[method])
        return _value(frame, method) / exact[layer] - 1
