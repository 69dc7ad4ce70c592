"""The ``fast`` path: the periodic spectrum built for speed, with the same result.

What makes it fast, each part measured against the reference paths
(``scripts/fast_targets.py`` prints the comparison):

* **Half the frequency plane.** Real weights give ``B(-t) = conj(B(t))``, so the block at
  ``(-j mod n, -l mod m)`` has the same singular values as the block at ``(j, l)``. Only
  the columns ``l = 0 .. m//2`` are computed; in the self-conjugate columns ``l = 0`` and
  ``l = m/2`` (``m`` even) only the rows ``j = 0 .. n//2`` are kept, and the blocks that are
  their own conjugate (``j`` in ``{0, n/2}`` there, real matrices) count once, every other
  kept block twice.
* **The symbol written where the SVD reads it**, row chunk by row chunk, so a chunk stays
  in cache and chunks can go to a thread pool (``threads``); the stencil contraction over
  the columns is done once for the half plane.
* **A factorization chosen by block size** ``k = min(cout, cin)``:

  - ``k = 1``: the singular value is the 2-norm of the block (for ``cin = cout = 1`` the
    modulus of the symbol);
  - ``k = 2``: a closed form. With the Gram entries ``a, b, g`` the larger value is
    ``sqrt((a+b)/2 + hypot((a-b)/2, |g|))`` (no cancellation) and the smaller one is
    ``D / sigma_1`` where ``D`` is ``|det|`` from the 2x2 minors (Cauchy-Binet), so both
    have absolute error ``O(eps * sigma_1)``;
  - ``k >= 3``: eigenvalues of the Gram matrix ``B^H B``, *certified* block by block.
    For ``k <= GRAM_SOA_MAX`` a compiled kernel forms the Gram matrix, scales it to unit
    trace, reduces it to real tridiagonal form by Householder reflections and runs
    implicit QL, all vectorised across blocks (structure of arrays: the block index is
    the innermost axis); wider blocks (up to ``GRAM_SQUARE_MAX`` when square-ish) take
    their Gram matrix from one ``zherk`` each and LAPACK's ``heevd`` through numpy, and
    wider square blocks, which the certificate below refuses, go straight to the SVD
    (measured per block and per width: see ``GRAM_SQUARE_MAX``). Eigenvalues of the Gram
    matrix have absolute error at most ``delta = kappa * u * ||B||_F**2``
    (``kappa = sqrt(2) * (r + 2) + 4 k``, ``r`` the larger block dimension: the Gram
    product's rounding plus the eigensolver's backward error), so
    ``|sigma~ - sigma| <= delta / sigma~``. A block is accepted only if this is at most
    ``CERTIFY_RTOL = 1e-9`` times its own largest singular value for its smallest one
    (hence for all), and only if its trace is far from under- and overflow. The other
    blocks get one-sided (Hestenes) Jacobi if ``k <= JACOBI_MAX`` (compiled, vectorised
    across blocks, backward stable column by column, each block first scaled by a power
    of two so that no square under- or overflows), else LAPACK's SVD. The ``sqrt(eps)``
    loss of the Gram approach therefore never reaches a returned value. On one thread the
    compiled Gram kernel is 1.4x faster than Jacobi at 4 channels and 3.6x at 8.
  - wide blocks past the compiled kernel (``k > GRAM_SOA_MAX``, ``r >= GRAM_COEF_ASPECT
    * k``: a strided layer's polyphase blocks, ``cout x 4 cin``) never form the symbol:
    ``G(t) = A(t)^H A(t)`` is a trigonometric polynomial whose ``(2 kh - 1)(2 kw - 1)``
    real ``k x k`` coefficients are computed once (:func:`_gram_coefficients`), so a
    Gram matrix costs ``(2 kh - 1) k^2`` per block instead of ``r k^2`` plus the symbol.
    Its rounding error is bounded by one number for the whole layer; blocks that bound
    does not certify are recomputed from their symbol blocks as above. On one thread a
    ``(128, 64, 3, 3)`` stride-2 layer at ``n = 56`` took 0.42 s instead of 0.74 s
    (medians of 4 interleaved runs), nine tenths of it LAPACK's eigenvalues; its ratio
    to lfa is tracked by ``scripts/layer_targets.py``.

* **Linear-time ordering.** Each worker writes its chunk's values straight into their
  slot of one array; the same pool radix-sorts it (each thread one part of a pass) and
  writes the descending output with every doubled value twice
  (:mod:`convbench.ordering`). Where numpy's sort is vectorised (AVX2, AVX-512) and
  measures faster, it sorts instead (:func:`convbench.ordering.sort_method`).

Single precision (``precision="single"``) is an opt-in: complex64 symbol and float32
factorizations (Jacobi up to ``JACOBI_MAX``, else LAPACK SVD; no Gram shortcut), about
``1e-6 * sigma_max``.

The package, one module per concern:

- :mod:`convbench.fast.plane`: the half plane and the :class:`~convbench.fast.plane.Plan`
  that writes its blocks;
- :mod:`convbench.fast.kernels`: the compiled (numba) kernels;
- :mod:`convbench.fast.factor`: the block factorizations and their certificates;
- :mod:`convbench.fast.driver`: the thread pool, the ordering, and the transform and
  factorization on their own (:func:`half_plane_symbol`, :func:`half_plane_values`);
- :mod:`convbench.fast.halfspace`: every other layer kind (groups, 3-D) on half the
  frequency space, and the polyphase reduction that hands 1-D and 2-D layers to the rest.
"""

from __future__ import annotations

from ..blas import check_threads
from ..routes import GRAM_COEF_ASPECT, GRAM_SOA_MAX, GRAM_SQUARE_MAX, JACOBI_MAX
from .driver import (
    HalfPlaneSymbol,
    fast_singular_values,
    half_plane_symbol,
    half_plane_values,
    iter_half_plane,
    self_conjugate_blocks,
)
from .factor import CERTIFY_RTOL, PRECISIONS, block_values
from .plane import half_plane

__all__ = [
    "CERTIFY_RTOL",
    "GRAM_COEF_ASPECT",
    "GRAM_SOA_MAX",
    "GRAM_SQUARE_MAX",
    "JACOBI_MAX",
    "PRECISIONS",
    "HalfPlaneSymbol",
    "block_values",
    "check_threads",
    "fast_singular_values",
    "half_plane",
    "half_plane_symbol",
    "half_plane_values",
    "iter_half_plane",
    "self_conjugate_blocks",
]
