"""``singular_values``: validate the layer, look the method up, check memory, run."""

from __future__ import annotations

import numbers
import re
from typing import Any

import numpy as np

from . import (
    paths,  # noqa: F401  (registers the built-in methods)
    registry,
)
from .blas import check_threads
from .layer import Conv, takes_layer
from .memory import check_memory

__all__ = ["METHODS", "singular_values"]

#: Every method accepted by :func:`singular_values` (see :mod:`convbench.registry`).
METHODS = registry.METHODS


@takes_layer()
def singular_values(
    layer: Conv,
    method: str = "lfa",
    *,
    top_k: int | None = None,
    threads: int | None = None,
    planner_effort: str = "FFTW_ESTIMATE",
    memory_budget: int | float | str | None = None,
    precision: str = "double",
) -> np.ndarray:
    """All (or the ``top_k`` largest) singular values of a convolutional layer.

    The operator is exactly PyTorch's ``torch.nn.functional.conv1d/2d/3d`` (or
    ``conv_transpose1d/2d/3d`` with ``transposed=True``) with the bias off, on an input
    of spatial size ``shape``: with its own zero padding (``boundary="zero"``) or on the
    torus (``boundary="periodic"``: circular padding, then the strided convolution).
    Only ``method="explicit"`` computes ``boundary="zero"``.

    Parameters
    ----------
    method : str
        A registered method (:data:`convbench.METHODS`, declared in
        :mod:`convbench.registry`):

        {methods}
    top_k : int, optional
        Return only the ``top_k`` largest singular values.
    threads : int, optional
        FFTW threads (``fftw``) or the size of the thread pool (``fast``); default:
        all cores.
    planner_effort : str
        FFTW planner flag (``fftw`` only).
    memory_budget : int, float, str, optional
        Memory budget in bytes or as ``"8G"``; default from ``CONVBENCH_MEMORY_BUDGET``
        or half the available memory (see :mod:`convbench.budget`).
    precision : {"double", "single"}
        Working precision of the ``fast`` path (``"single"``: complex64 symbol and float32
        factorizations, about ``1e-6 * sigma_max``); the other paths accept only
        ``"double"``.

    Returns
    -------
    numpy.ndarray
        1-D float64 array sorted descending: every singular value of the operator's
        matrix, ``min(cout*prod(out_shape), cin*prod(shape))`` of them with exact zeros
        included (or ``top_k``).

    Raises
    ------
    ValueError, TypeError
        For bad input, naming the argument.
    convbench.BudgetError
        If the estimated memory exceeds the budget (raised before allocating).
    """
    chosen = registry.get(method)
    chosen.check(layer, precision)
    top_k = _check_top_k(top_k, layer.n_values)
    threads = check_threads(threads) if threads is not None else None
    need = chosen.estimate(layer, top_k=top_k, precision=precision).nbytes
    check_memory(
        need,
        memory_budget,
        f"method={method!r} for {layer.describe()}"
        + ("" if top_k is None else f" and top_k={top_k}"),
        chosen.advice,
    )
    options = {
        "threads": threads,
        "planner_effort": planner_effort,
        "memory_budget": memory_budget,
        "precision": precision,
    }
    return chosen.run(layer, top_k, options)


# the methods' paragraphs come from their registry entries, at the placeholder's indent
singular_values.__doc__ = re.sub(
    r"^( *)\{methods\}$",
    lambda m: registry.describe(len(m.group(1))),
    singular_values.__doc__ or "",
    flags=re.MULTILINE,
)


def _check_top_k(top_k: Any, total: int) -> int | None:
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, (numbers.Integral, np.integer)):
        raise TypeError(f"top_k must be a positive integer or None; got {top_k!r}")
    if not 1 <= top_k <= total:
        raise ValueError(f"top_k must be between 1 and the number of singular values {total}")
    return int(top_k)
