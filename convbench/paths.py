"""The five built-in methods of :func:`convbench.singular_values`, registered.

Each is one :func:`convbench.registry.register` call: how it runs (the functions below,
which import their implementation when first called), its cost model
(:mod:`convbench.costs`), and how help texts and figures name and draw it. The colours
are Okabe-Ito's colour-blind safe ones, plus wine for ``fast``; each path also has its
own marker, so figures stay readable in grey scale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .costs import explicit_cost, fast_cost, fft_cost, lfa_cost
from .layer import Conv
from .registry import Method, register

__all__ = ["EXPLICIT_RTOL"]


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
    from .costs import matrix_free
    from .explicit import assemble, dense_singular_values
    from .extremes import layer_top_values
    from .lattice import merge, repeated_groups, sublattices

    parts = sublattices(layer)
    if parts is None:
        parts = repeated_groups(layer)
    if parts is not None:  # dilated, or equal groups: independent layers, each solved once
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


# the three symbol paths: name, help line, cost model, legend label, reference paragraph,
# colour and marker
for name, summary, cost, label, doc, color, marker in (
    ("lfa", "the symbol by summation over the stencil (LFA), then batched SVD", lfa_cost,
     "LFA (local summation)", "the symbol by summation over the stencil, then batched SVD.",
     "#0072B2", "o"),
    ("fft", "numpy FFT of the zero-padded kernel (Sedghi et al. 2019), then batched SVD",
     fft_cost, "FFT (numpy)",
     "numpy FFT of the zero-padded kernel, one axis at a time, then batched SVD.",
     "#E69F00", "s"),
    ("fftw", "the same transform through pyFFTW, planned apart, then batched SVD", fft_cost,
     "FFTW (pyFFTW)", "the same transform through pyFFTW, then batched SVD.", "#D55E00", "^"),
):
    register(Method(name, summary, _fourier(name), cost, kind="symbol", label=label, doc=doc,
                    color=color, marker=marker))
register(
    Method(
        "explicit",
        "the unrolled matrix: dense LAPACK SVD, or Lanczos on the matrix-free operator for top_k",
        _run_explicit,
        explicit_cost,
        kind="matrix",
        label="explicit (unrolled matrix)",
        color="#444444",
        marker="D",
        boundaries=("periodic", "zero"),
        advice="Ask for top_k=k largest values (sparse Lanczos), use a smaller input size, "
        "or a Fourier method for the periodic spectrum.",
        doc="the unrolled matrix; dense LAPACK SVD of the sparse matrix, or, when "
        "``top_k`` is given, Lanczos on the matrix-free operator of "
        ":mod:`convbench.operators` (per-tap GEMMs, nothing assembled): certified block "
        "Lanczos (:mod:`convbench.krylov`, every copy of a repeated value), and for "
        "``top_k=1`` single-vector Golub-Kahan-Lanczos stopped by its residual (one value "
        "has no copy to miss); ``rtol`` 1e-12, or 1e-9 above ``budget.MATRIX_FREE_NNZ`` "
        "nonzeros. Dilated stride-1 layers are solved once per distinct sub-lattice "
        "(:mod:`convbench.lattice`).",
    )
)
register(
    Method(
        "fast",
        "the periodic spectrum built for speed (half plane, compiled kernels, threads)",
        _run_fast,
        fast_cost,
        precisions=("double", "single"),
        kind="compiled",
        doc="the same periodic spectrum built for speed (half the frequency plane, closed "
        "forms and compiled kernels, a thread pool); see :mod:`convbench.fast`.",
        label="fast", color="#882255", marker="P",
    )
)
