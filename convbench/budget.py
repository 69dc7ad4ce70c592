"""The feasibility rule shared by the API and the benchmark suite: predicted memory and
time of a method on a layer, against the memory budget and a time limit.

Every path estimates the bytes it will need *before* it allocates anything large:
each registered method carries a cost model (:mod:`convbench.costs`), and
:func:`estimate` asks the method's registry entry. :func:`check_memory` (from
:mod:`convbench.memory`, where the budget is resolved) compares the bytes with the
budget and raises :class:`BudgetError` with what was needed, what was allowed and what
to do instead. The benchmark suite calls :func:`feasibility` with the same estimates
(plus the predicted run time) to skip parameter combinations with a stated reason.
"""

from __future__ import annotations

from . import registry
from .costs import MATRIX_FREE_NNZ, Estimate, matrix_free
from .layer import Conv, takes_layer
from .memory import (
    DEFAULT_FRACTION,
    ENV_VAR,
    BudgetError,
    available_memory,
    check_memory,
    format_bytes,
    memory_budget,
    parse_bytes,
)

__all__ = [
    "DEFAULT_FRACTION",
    "ENV_VAR",
    "MATRIX_FREE_NNZ",
    "STAGES",
    "BudgetError",
    "Estimate",
    "available_memory",
    "check_memory",
    "estimate",
    "feasibility",
    "format_bytes",
    "matrix_free",
    "memory_budget",
    "parse_bytes",
]

# alias for functions whose ``memory_budget`` argument shadows the function's name
_memory_budget = memory_budget

#: Steps of a path that :func:`estimate` can predict on their own.
STAGES = registry.STAGES


@takes_layer()
def estimate(
    layer: Conv,
    method: str = "lfa",
    *,
    top_k: int | None = None,
    stage: str = "all",
    precision: str = "double",
) -> Estimate:
    """Predict peak memory and run time of ``singular_values`` for one layer.

    The prediction is the cost model that the method's registry entry carries
    (:mod:`convbench.costs` for the built-in paths), plus 10% for the interpreter,
    LAPACK's workspace and the allocator. No weight is read: a layer of zeros of the
    right shape predicts the same.

    Parameters
    ----------
    method : str
        A registered method (:data:`convbench.METHODS`).
    top_k : int or None
        Number of largest singular values requested (``None``: all).
    stage : {"all", "transform", "svd"}
        The whole computation, or one of its two steps: ``"transform"`` builds the
        symbol (``lfa``, ``fft``, ``fftw``; ``fast``: its half plane) or the sparse
        operator (``explicit``), ``"svd"`` is the singular-value step on that
        representation. The memory estimate of ``"svd"`` and of the Fourier
        transforms is that of the whole path; for ``fast`` both stages hold the
        half-plane symbol (:func:`convbench.fast.half_plane_symbol`), which the whole
        path never does.
    precision : {"double", "single"}
        Working precision (``"single"``: ``fast`` only, half the bytes per value and
        per symbol entry; the time model is that of ``"double"``).

    Returns
    -------
    Estimate
        Bytes and seconds; both are upper-bound style guesses, not measurements.
    """
    return registry.get(method).estimate(layer, top_k=top_k, precision=precision, stage=stage)


@takes_layer()
def feasibility(
    layer: Conv,
    method: str = "lfa",
    *,
    top_k: int | None = None,
    memory_budget: int | float | str | None = None,
    max_seconds: float | None = None,
    stage: str = "all",
    precision: str = "double",
) -> str | None:
    """The shared skip rule: ``None`` if the configuration may run, else the reason why not.

    Parameters
    ----------
    method, top_k : str, int or None
        As for :func:`estimate`.
    memory_budget : int, float, str or None
        Budget as accepted by :func:`memory_budget` (module function).
    max_seconds : float or None
        Largest acceptable predicted run time (``None``: no time limit).
    stage, precision : str
        As for :func:`estimate`.

    Returns
    -------
    str or None
        A one-line reason naming the estimate and the limit, or ``None``.
    """
    est = registry.get(method).estimate(layer, top_k=top_k, precision=precision, stage=stage)
    what = method if stage == "all" else f"{method} ({stage})"
    if layer.is_plain:
        where = f"n={'x'.join(map(str, layer.shape))}, c={layer.cout}x{layer.cin}"
    else:
        where = layer.describe()
    allowed = _memory_budget(memory_budget)
    if est.nbytes > allowed:
        return (
            f"{what} at {where} needs ~{format_bytes(est.nbytes)} "
            f"> budget {format_bytes(allowed)}"
        )
    if max_seconds is not None and est.seconds > max_seconds:
        return f"{what} at {where} predicted ~{est.seconds:.0f} s > limit {max_seconds:.0f} s"
    return None
