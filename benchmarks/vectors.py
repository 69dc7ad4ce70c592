"""Singular vectors against values: what asking for the directions costs.

The paper's code times its ``--uv`` flag (every block's U and V) beside the values; this
benchmark does the same for the library, on the plain periodic 2-D layer at
``n`` = 64 and 256 with 4 and 16 channels:

=========== ===========================================================================
what        the call
=========== ===========================================================================
values      ``convbench.singular_values(w, n)`` (``lfa``), the reference row
factors     ``convbench.block_factors(w, n)``: ``U, s, V^H`` of every frequency block
top1        ``convbench.singular_triplets(w, n, top_k=1)``: the top real triplet
top16       ``convbench.singular_triplets(w, n, top_k=16)``
=========== ===========================================================================

``singular_triplets`` takes the values of every block first and factors with vectors
only the frequencies it needs, so ``top1`` and ``top16`` should stay close to
``values``; ``factors`` pays LAPACK's vectors at every frequency (about 1.4 to 2.1 times
the values at these sizes, measured with one BLAS thread when the benchmark was
written). The skip rule is the suite's with the large cells' limit
(``LARGE_MAX_SECONDS`` over the call's cost), so every cell of the grid runs by default.
One thread (``CONVBENCH_BENCH_THREADS``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import convbench

from .common import (
    LARGE_MAX_SECONDS,
    SEED,
    Case,
    feasible_layer,
    predicted_layer,
    tier_cells,
)

#: The calls timed, by name.
WHATS = ("values", "factors", "top1", "top16")
VECTOR_N = (64, 256)
VECTOR_CHANNELS = (4, 16)
#: Rough cost of each call against the values (for the plan and the skip rule): the
#: ratios above, rounded up.
COST = {"values": 1.0, "factors": 2.5, "top1": 2.0, "top16": 2.0}


def vector_weights(c: int) -> np.ndarray:
    return convbench.he_normal(c, c, 3, seed=SEED)


class TimeSingularVectors(Case):
    """Seconds for values, block factors or the top triplets of one periodic layer."""

    params = (list(WHATS), list(VECTOR_N), list(VECTOR_CHANNELS))
    param_names = ("what", "n", "channels")
    version = "1"
    tracked = tier_cells(n=(64,), channels=(4, 16))

    def skip_reason(self, what: str, n: int, c: int) -> str | None:
        # the tracking tier runs this suite on commits from before the vectors existed
        needed = {"factors": "block_factors", "top1": "singular_triplets",
                  "top16": "singular_triplets"}.get(what)
        if needed is not None and not hasattr(convbench, needed):
            return f"convbench.{needed} is not in this version of the library"
        layer = convbench.as_layer(vector_weights(c), (n, n))
        seconds = LARGE_MAX_SECONDS / COST[what]
        return feasible_layer("lfa", layer, max_seconds=seconds)

    def predict(self, what: str, n: int, c: int) -> tuple[float, float]:
        layer = convbench.as_layer(vector_weights(c), (n, n))
        return 0.0, COST[what] * predicted_layer("lfa", layer)

    def prepare(self, what: str, n: int, c: int) -> None:
        self.layer = convbench.as_layer(vector_weights(c), (n, n))
        self._run(what, convbench.as_layer(vector_weights(c), (8, 8)))  # imports, LAPACK

    def _run(self, what: str, layer: Any) -> None:
        if what == "values":  # weight and size: the call every version takes
            convbench.singular_values(layer.weight, layer.shape)
        elif what == "factors":
            convbench.block_factors(layer)
        else:
            convbench.singular_triplets(layer, top_k=int(what.removeprefix("top")))

    def time_singular_vectors(self, what: str, n: int, c: int) -> None:
        self._run(what, self.layer)
