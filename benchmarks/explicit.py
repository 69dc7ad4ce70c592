"""The explicit path: the sparse unrolled operator and its SVDs, for either boundary.

:class:`TimeAssemble` builds the ``(c*n*n, c*n*n)`` CSR operator;
:class:`TimeDenseSVD` computes all its singular values by dense LAPACK where that is
feasible; :class:`TimeTopK` computes the ``TOP_K`` largest by certified block Lanczos
(:mod:`convbench.krylov`; ARPACK's ``svds`` before b85fb5d), which reaches further than
the dense SVD.
"""

from __future__ import annotations

import convbench
from convbench.explicit import dense_singular_values, sparse_top_k

from .common import CHANNELS, N_VALUES, TOP_K, Case, feasible, predicted, tier_cells, weights

BOUNDARIES = ("periodic", "zero")


class TimeAssemble(Case):
    """Seconds to build the sparse operator (:func:`convbench.unrolled`)."""

    params = (list(BOUNDARIES), list(N_VALUES), list(CHANNELS))
    param_names = ("boundary", "n", "channels")
    version = "1"

    def skip_reason(self, boundary: str, n: int, c: int) -> str | None:
        return feasible("explicit", c, n, stage="transform", boundary=boundary)

    def predict(self, boundary: str, n: int, c: int) -> tuple[float, float]:
        return 0.0, predicted("explicit", c, n, stage="transform", boundary=boundary)

    def prepare(self, boundary: str, n: int, c: int) -> None:
        self.w = weights(c)
        convbench.unrolled(self.w, max(self.w.shape[-1], 4), boundary=boundary)

    def time_assemble(self, boundary: str, n: int, c: int) -> None:
        convbench.unrolled(self.w, n, boundary=boundary)


class _OperatorCase(Case):
    top_k: int | None = None

    def skip_reason(self, boundary: str, n: int, c: int) -> str | None:
        return feasible("explicit", c, n, stage="svd", top_k=self.top_k, boundary=boundary)

    def predict(self, boundary: str, n: int, c: int) -> tuple[float, float]:
        kw = {"top_k": self.top_k, "boundary": boundary}
        return (
            predicted("explicit", c, n, stage="transform", **kw),
            predicted("explicit", c, n, stage="svd", **kw),
        )

    def prepare(self, boundary: str, n: int, c: int) -> None:
        self.operator = convbench.unrolled(weights(c), n, boundary=boundary)


class TimeDenseSVD(_OperatorCase):
    """Seconds for all singular values of the operator by dense LAPACK ``gesdd``."""

    params = (list(BOUNDARIES), list(N_VALUES), list(CHANNELS))
    param_names = ("boundary", "n", "channels")
    version = "1"
    tracked = tier_cells(n=(32,), channels=(1,))

    def prepare(self, boundary: str, n: int, c: int) -> None:
        super().prepare(boundary, n, c)
        dense_singular_values(convbench.unrolled(weights(c), 4))  # LAPACK loaded

    def time_dense_svd(self, boundary: str, n: int, c: int) -> None:
        dense_singular_values(self.operator)


class TimeTopK(_OperatorCase):
    """Seconds for the ``TOP_K`` largest singular values by block Lanczos."""

    params = (list(BOUNDARIES), list(N_VALUES), list(CHANNELS))
    param_names = ("boundary", "n", "channels")
    version = "1"
    tracked = tier_cells(n=(32, 64), channels=(1, 4))
    top_k = TOP_K

    def time_top_k(self, boundary: str, n: int, c: int) -> None:
        sparse_top_k(self.operator, TOP_K)
