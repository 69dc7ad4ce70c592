"""Layer kinds: :func:`convbench.singular_values` for the layers real networks have.

The other benchmarks time the paper's plain layer (2-D, stride 1, 'same' padding). This
one times every path on the other kinds of :class:`convbench.Conv`, each against the
plain layer of the same size and channels:

========== ==========================================================================
kind       the layer (``channels`` in and out, kernel ``k`` per dimension, 'same')
========== ==========================================================================
stride1    Conv2d, the plain layer (the reference row)
stride2    Conv2d, stride 2 (polyphase: ``c x 4c`` blocks on the ``n/2`` grid)
depthwise  Conv2d, ``groups = channels`` (one scalar symbol per channel)
dilation2  Conv2d, dilation 2
1d         Conv1d
3d         Conv3d
========== ==========================================================================

``points`` is the number of input points per channel, a power of 2 that is a square
and a cube: 64, 4096 and 262144, i.e. 64, 4096 and 262144 for 1-D inputs, 8x8, 64x64
and 512x512 for 2-D and 4x4x4, 16x16x16 and 64x64x64 for 3-D, so a row compares
layers with the same number of singular values (a strided layer has a quarter of them).
:class:`TimeLayerKinds` times every method of the library (``path``; periodic boundary,
``explicit`` is the dense SVD). :class:`TimeLayerTopOne` times ``sigma_max`` of the
zero-padded layer (``path="explicit_zero_top1"``: ``method="explicit",
boundary="zero", top_k=1``, block Lanczos on the sparse matrix; ARPACK before
b85fb5d) at the two smaller sizes.
Channels 4 and 16; the kernel is ``CONVBENCH_BENCH_KERNEL`` (default 3) along every
dimension.

The skip rule is the suite's: :func:`convbench.budget.feasibility` for the layer itself,
the memory budget and a third of ``MAX_SECONDS`` (like the approximate models of
:mod:`benchmarks.zero_padding`: this second grid over the paths stays within a few
minutes of the suite's hour), and a layer the library refuses (a kernel larger than
the input) is skipped with the library's message. One thread
(``CONVBENCH_BENCH_THREADS``) for BLAS, FFTW and the ``fast`` pool.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import convbench

from .common import (
    KERNEL,
    MAX_SECONDS,
    PATHS,
    SEED,
    Case,
    feasible_layer,
    predicted_layer,
)

#: The layer kinds, as :func:`convbench.as_layer` options: dimension, stride, dilation,
#: and whether the layer is depthwise.
KINDS: dict[str, dict[str, Any]] = {
    "stride1": {"d": 2},
    "stride2": {"d": 2, "stride": 2},
    "depthwise": {"d": 2, "depthwise": True},
    "dilation2": {"d": 2, "dilation": 2},
    "1d": {"d": 1},
    "3d": {"d": 3},
}
#: Input points per channel: 2**6, 2**12, 2**18 (each a square and a cube).
POINTS = (64, 4096, 262144)
LAYER_CHANNELS = (4, 16)
#: ``sigma_max`` of the zero-padded layer, next to the library's paths.
ZERO_TOP1 = "explicit_zero_top1"


def side(points: int, d: int) -> int:
    """The input side ``n`` with ``n**d == points``."""
    n = round(points ** (1.0 / d))
    if n**d != points:
        raise ValueError(f"{points} input points are not a {d}-th power")
    return n


def layer_weights(kind: str, c: int, kernel: int = KERNEL) -> np.ndarray:
    """PyTorch's default initialisation for the kind's weight, fixed seed.

    ``(c, c/groups, k, ..., k)`` drawn as :func:`convbench.pytorch_default` draws a 2-D
    weight (it is that array for the dense 2-D kinds).
    """
    spec = KINDS[kind]
    per_group = 1 if spec.get("depthwise") else c
    shape = (c, per_group, *(kernel,) * spec["d"])
    bound = 1.0 / math.sqrt(per_group * kernel ** spec["d"])
    return np.random.default_rng(SEED).uniform(-bound, bound, size=shape)


def layer_of(kind: str, path: str, points: int, c: int, kernel: int = KERNEL) -> Any:
    """The validated layer of one cell (:class:`convbench.Conv`, its boundary set)."""
    spec = KINDS[kind]
    d = spec["d"]
    return convbench.as_layer(
        layer_weights(kind, c, kernel),
        (side(points, d),) * d,
        stride=spec.get("stride", 1),
        dilation=spec.get("dilation", 1),
        groups=c if spec.get("depthwise") else 1,
        boundary="zero" if path == ZERO_TOP1 else "periodic",
    )


def _method(path: str) -> tuple[str, int | None]:
    return ("explicit", 1) if path == ZERO_TOP1 else (path, None)


class TimeLayerKinds(Case):
    """Seconds for all singular values of one layer kind on one path (periodic)."""

    params = (list(KINDS), list(PATHS), list(POINTS), list(LAYER_CHANNELS))
    param_names = ("kind", "path", "points", "channels")
    version = "1"

    def skip_reason(self, kind: str, path: str, points: int, c: int) -> str | None:
        try:
            layer = layer_of(kind, path, points, c)
        except ValueError as exc:
            return f"{kind} at {points} points, c={c}: {exc}"
        method, top_k = _method(path)
        return feasible_layer(method, layer, top_k=top_k, max_seconds=MAX_SECONDS / 3)

    def predict(self, kind: str, path: str, points: int, c: int) -> tuple[float, float]:
        method, top_k = _method(path)
        try:
            layer = layer_of(kind, path, points, c)
        except ValueError:
            return 0.0, 0.0
        return 0.0, predicted_layer(method, layer, top_k=top_k)

    def prepare(self, kind: str, path: str, points: int, c: int) -> None:
        self.layer = layer_of(kind, path, points, c)
        self.method, self.top_k = _method(path)
        # imports, JIT compilation (specialised per block size), FFTW's first plan and
        # LAPACK loading happen here, on the same layer at the smallest size that fits
        for size in sorted(POINTS):
            try:
                tiny = layer_of(kind, path, size, c)
            except ValueError:  # the kernel does not fit this size
                continue
            self._run(tiny, 1)
            break

    def _run(self, layer: Any, threads: int) -> None:
        convbench.singular_values(
            layer,
            layer.shape,
            method=self.method,
            boundary=layer.boundary,
            top_k=self.top_k,
            threads=threads,
        )

    def time_singular_values(self, kind: str, path: str, points: int, c: int) -> None:
        self._run(self.layer, self.threads)


class TimeLayerTopOne(TimeLayerKinds):
    """Seconds for ``sigma_max`` of the zero-padded layer (``explicit_zero_top1``).

    Block Lanczos on the sparse matrix (ARPACK before b85fb5d), or Lanczos on the
    matrix-free operator above ``convbench.budget.MATRIX_FREE_NNZ`` nonzeros. The top
    singular values of a zero-padded layer crowd like ``1/n**2``, so the iteration
    counts grow with ``n`` (fastest for 1-D layers: 227,061 ARPACK matvec pairs at 4096
    points with 4 channels); the library's estimate models that, and the shared skip
    rule leaves out the cells it predicts too slow.
    """

    params = (list(KINDS), [ZERO_TOP1], list(POINTS), list(LAYER_CHANNELS))
    version = "1"
