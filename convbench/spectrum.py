"""``singular_values``: one entry point over every path."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .budget import check_memory, estimate_bytes, matrix_free
from .explicit import BOUNDARIES, _assemble, dense_singular_values, sparse_top_k
from .fast import check_threads, fast_singular_values
from .svd import block_singular_values
from .symbols import SYMBOL_METHODS, fft_symbol, fftw_symbol, lfa_symbol
from .weights import as_oihw, as_shape, check_fits

__all__ = ["METHODS", "singular_values"]

#: Every method accepted by :func:`singular_values`.
METHODS = (*SYMBOL_METHODS, "explicit", "fast")


def singular_values(
    weight: Any,
    shape: int | tuple[int, int],
    method: str = "lfa",
    boundary: str = "periodic",
    layout: str = "oihw",
    *,
    top_k: int | None = None,
    threads: int | None = None,
    planner_effort: str = "FFTW_ESTIMATE",
    memory_budget: int | float | str | None = None,
    precision: str = "double",
) -> np.ndarray:
    """All (or the ``top_k`` largest) singular values of a 2-D multi-channel convolution.

    The operator is PyTorch's ``Conv2d(cin, cout, (kh, kw), padding='same', bias=False)``
    on an ``n x m`` input, with periodic (``padding_mode='circular'``) or zero boundary.

    Parameters
    ----------
    weight : array_like
        Real 4-D weights in ``layout``.
    shape : int or tuple of int
        Input size ``n`` (square) or ``(n, m)``.
    method : {"lfa", "fft", "fftw", "explicit", "fast"}
        ``lfa``: the symbol by summation over the stencil, then batched SVD.
        ``fft``: numpy FFT of the zero-padded kernel, then batched SVD.
        ``fftw``: the same transform through pyFFTW, then batched SVD.
        ``explicit``: the sparse unrolled matrix; dense LAPACK SVD, or ARPACK
        (``scipy.sparse.linalg.svds``) when ``top_k`` is given; above
        ``budget.MATRIX_FREE_NNZ`` nonzeros ``top_k`` runs Lanczos on the matrix-free
        operator of :mod:`convbench.operators` (e.g. 256 x 256 with 64 channels).
        ``fast``: the same periodic spectrum built for speed (half the frequency plane,
        closed forms and batched Jacobi for small blocks, certified Gram eigenvalues
        for larger ones, a thread pool over frequency chunks); see :mod:`convbench.fast`.
    boundary : {"periodic", "zero"}
        Boundary condition; the Fourier methods are periodic by construction.
    layout : {"oihw", "hwio"}
        Weight layout: PyTorch ``(cout, cin, kh, kw)`` or TensorFlow ``(kh, kw, cin, cout)``.
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
        1-D float64 array sorted descending, of length ``n*m*min(cout, cin)``
        (or ``top_k``).

    Raises
    ------
    ValueError, TypeError
        For bad input, naming the argument.
    convbench.BudgetError
        If the estimated memory exceeds the budget (raised before allocating).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}; got {boundary!r}")
    if method != "explicit" and boundary != "periodic":
        raise ValueError(
            f"method={method!r} is periodic by construction; use method='explicit' "
            f"for boundary={boundary!r}"
        )
    if precision not in ("double", "single"):
        raise ValueError(f"precision must be 'double' or 'single'; got {precision!r}")
    if precision != "double" and method != "fast":
        raise ValueError(f"precision={precision!r} is offered by method='fast' only")
    w = as_oihw(weight, layout)
    n, m = as_shape(shape)
    check_fits(w, n, m)
    cout, cin, kh, kw = w.shape
    total = n * m * min(cout, cin)
    top_k = _check_top_k(top_k, total)

    needed = estimate_bytes(
        method, cout, cin, n, m, kh, kw, top_k=top_k, boundary=boundary, precision=precision
    )
    advice = (
        "Use a smaller input size or convbench.summarize for streamed statistics."
        if method != "explicit"
        else "Ask for top_k=k largest values (sparse Lanczos), use a smaller input size, "
        "or a Fourier method for the periodic spectrum."
    )
    check_memory(
        needed,
        memory_budget,
        f"method={method!r} at {n}x{m} with {cout}x{cin} channels"
        + ("" if top_k is None else f" and top_k={top_k}"),
        advice,
    )

    if method == "fast":
        threads = check_threads(threads)
        return fast_singular_values(
            w, n, m, threads=threads, top_k=top_k, precision=precision
        )

    if method == "explicit":
        if top_k is not None and matrix_free(cout, cin, n, m, kh, kw):
            # the sparse matrix would be large: Lanczos on the matrix-free operator
            from .operators import top_singular_values

            return top_singular_values(w, (n, m), top_k, boundary)
        operator = _assemble(w, n, m, boundary)
        if top_k is None:
            return dense_singular_values(operator, memory_budget=memory_budget)
        return sparse_top_k(operator, top_k)

    if method == "lfa":
        blocks = lfa_symbol(w, n, m)
    elif method == "fft":
        blocks = fft_symbol(w, n, m)
    else:
        blocks = fftw_symbol(w, n, m, threads=threads, planner_effort=planner_effort)
    values = block_singular_values(blocks)
    return values if top_k is None else values[:top_k].copy()


def _check_top_k(top_k: Any, total: int) -> int | None:
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, (numbers.Integral, np.integer)):
        raise TypeError(f"top_k must be a positive integer or None; got {top_k!r}")
    if not 1 <= top_k <= total:
        raise ValueError(f"top_k must be between 1 and the number of singular values {total}")
    return int(top_k)
