"""Every method of :func:`convbench.singular_values`, declared once.

A :class:`Method` says what a path supports (boundaries, precisions), how much memory
and time it needs for a layer (the feasibility rule of
:mod:`convbench.budget`), and how it runs. :func:`convbench.singular_values` is then:
validate the layer, look the method up, check the budget, run. A new path is one module
and one :func:`register` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .budget import Estimate, estimate
from .layer import BOUNDARIES, Conv

__all__ = ["METHODS", "Method", "get", "register"]


@dataclass(frozen=True)
class Method:
    """One way to compute a layer's singular values.

    Attributes
    ----------
    name : str
        The ``method=`` name.
    summary : str
        One line for help texts.
    run : callable
        ``run(layer, top_k, options) -> values``: all (or the ``top_k`` largest)
        singular values, descending, of a validated layer whose boundary it supports.
    boundaries : tuple of str
        Boundaries it computes.
    precisions : tuple of str
        Working precisions it offers.
    advice : str
        What to do instead when the budget refuses a layer.
    """

    name: str
    summary: str
    run: Callable[[Conv, int | None, dict[str, Any]], np.ndarray]
    boundaries: tuple[str, ...] = ("periodic",)
    precisions: tuple[str, ...] = ("double",)
    advice: str = "Use a smaller input size or convbench.summarize for streamed statistics."

    def estimate(
        self, layer: Conv, top_k: int | None = None, precision: str = "double", stage: str = "all"
    ) -> Estimate:
        """Predicted peak memory and time (:func:`convbench.budget.estimate`)."""
        return estimate(self.name, layer, top_k=top_k, precision=precision, stage=stage)

    def check(self, layer: Conv, precision: str) -> None:
        """Refuse, naming the option, what this method does not support."""
        if layer.boundary not in self.boundaries:
            others = [m.name for m in _REGISTRY.values() if layer.boundary in m.boundaries]
            raise ValueError(
                f"method={self.name!r} computes boundary {' or '.join(map(repr, self.boundaries))} "
                f"only; for boundary={layer.boundary!r} use method={' or '.join(map(repr, others))}"
            )
        if precision not in self.precisions:
            offered = [m.name for m in _REGISTRY.values() if precision in m.precisions]
            raise ValueError(
                f"precision={precision!r} is offered by method={' or '.join(map(repr, offered))} "
                "only"
            )


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (its name must be new)."""
    if method.name in _REGISTRY:
        raise ValueError(f"method {method.name!r} is already registered")
    for b in method.boundaries:
        if b not in BOUNDARIES:
            raise ValueError(f"unknown boundary {b!r} in method {method.name!r}")
    _REGISTRY[method.name] = method
    return method


def get(name: Any) -> Method:
    """The registered method called ``name``; a clear error for anything else."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"method must be one of {tuple(_REGISTRY)}; got {name!r}")
    return _REGISTRY[name]


def names() -> tuple[str, ...]:
    """The registered method names, in registration order."""
    return tuple(_REGISTRY)


# ---------------------------------------------------------------------------------------
# the built-in paths


def _top(values: np.ndarray, top_k: int | None) -> np.ndarray:
    return values if top_k is None else values[:top_k].copy()


def _fourier(name: str) -> Callable[[Conv, int | None, dict[str, Any]], np.ndarray]:
    def run(layer: Conv, top_k: int | None, options: dict[str, Any]) -> np.ndarray:
        from .svd import block_singular_values
        from .symbols import grid_blocks

        blocks = grid_blocks(
            layer,
            name,
            threads=options.get("threads"),
            planner_effort=options.get("planner_effort", "FFTW_ESTIMATE"),
        )
        return _top(block_singular_values(blocks), top_k)

    return run


def _run_fast(layer: Conv, top_k: int | None, options: dict[str, Any]) -> np.ndarray:
    from .fast.halfspace import layer_fast_values

    return layer_fast_values(
        layer,
        threads=options.get("threads"),
        precision=options.get("precision", "double"),
        top_k=top_k,
    )


#: ``rtol`` of ``explicit`` with ``top_k``: near machine precision below
#: :data:`convbench.budget.MATRIX_FREE_NNZ` nonzeros (about 1.1 to 1.3 times the steps
#: of ``1e-9``), ``1e-9`` above it, where each step is dearer.
EXPLICIT_RTOL = (1e-12, 1e-9)


def _run_explicit(layer: Conv, top_k: int | None, options: dict[str, Any]) -> np.ndarray:
    from .budget import matrix_free
    from .explicit import assemble, dense_singular_values
    from .extremes import layer_top_values
    from .lattice import merge, sublattices

    parts = sublattices(layer)
    if parts is not None:  # dilated: independent layers on sub-lattices, each solved once
        found = []
        for sub, count in parts:
            k = None if top_k is None or top_k >= sub.n_values else top_k
            found.append((_run_explicit(sub, k, options), count))
        return merge(found, layer.n_values, top_k)
    if top_k is not None and top_k < layer.n_values:
        # Lanczos on the matrix-free operator: its per-tap GEMMs apply the layer 2 to 25
        # times faster than the assembled sparse matrix, and nothing is assembled
        rtol = EXPLICIT_RTOL[matrix_free(layer)]
        return layer_top_values(layer, top_k, rtol=rtol)
    values = dense_singular_values(assemble(layer), memory_budget=options.get("memory_budget"))
    return values if top_k is None else values[:top_k].copy()


register(
    Method(
        "lfa",
        "the symbol by summation over the stencil (LFA), then batched SVD",
        _fourier("lfa"),
    )
)
register(
    Method(
        "fft",
        "numpy FFT of the zero-padded kernel (Sedghi et al. 2019), then batched SVD",
        _fourier("fft"),
    )
)
register(
    Method(
        "fftw",
        "the same transform through pyFFTW, planned apart, then batched SVD",
        _fourier("fftw"),
    )
)
register(
    Method(
        "explicit",
        "the unrolled matrix: dense LAPACK SVD, or Lanczos on the matrix-free operator for top_k",
        _run_explicit,
        boundaries=("periodic", "zero"),
        advice="Ask for top_k=k largest values (sparse Lanczos), use a smaller input size, "
        "or a Fourier method for the periodic spectrum.",
    )
)
register(
    Method(
        "fast",
        "the periodic spectrum built for speed (half plane, compiled kernels, threads)",
        _run_fast,
        precisions=("double", "single"),
    )
)

#: Every method accepted by :func:`convbench.singular_values`, in registration order.
METHODS = names()
