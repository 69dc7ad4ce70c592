"""Which factorization the ``fast`` path gives a block, by the block's shape.

The thresholds and the one decision built on them live here, apart from the kernels, so
that every module that runs the routes (:mod:`convbench.fast`,
:mod:`convbench.fast.halfspace`) and the one that prices them (:mod:`convbench.budget`) read
the same numbers. A block is ``r x k`` with ``r >= k`` (blocks are oriented tall; the
singular values of the transpose are the same).

The routes, returned by :func:`block_route`:

``"norm"``
    ``k = 1``: the 2-norm of the column.
``"closed-form"``
    ``k = 2``: closed-form values from the 2x2 Gram matrix and the minors.
``"gram-soa"``
    ``3 <= k <= GRAM_SOA_MAX`` (double precision): the compiled, certified Gram kernel,
    block index innermost.
``"jacobi"``
    ``3 <= k <= JACOBI_MAX`` in single precision: the compiled Jacobi kernel.
``"gram-coef"``
    ``k > GRAM_SOA_MAX`` and ``r >= GRAM_COEF_ASPECT * k``: Gram matrices from the
    layer's Gram coefficients, never the symbol.
``"svd"``
    LAPACK's SVD: single precision past ``JACOBI_MAX``, and square-ish blocks wider
    than ``GRAM_SQUARE_MAX``.
``"gram"``
    Everything else: one ``zherk`` (or a batched product) and LAPACK's Hermitian
    eigenvalues, certified, the SVD for the blocks refused.
"""

from __future__ import annotations

__all__ = [
    "GRAM_COEF_ASPECT",
    "GRAM_SOA_MAX",
    "GRAM_SQUARE_MAX",
    "JACOBI_MAX",
    "ROUTES",
    "SMALL_JOB_ENTRIES",
    "SMALL_JOB_MIN_K",
    "block_route",
    "compiled_layout",
    "small_job",
]

#: Largest ``min(cout, cin)`` handled by the vectorised Jacobi kernel: in single
#: precision, and for the blocks the compiled Gram kernel cannot certify.
JACOBI_MAX = 8
#: Largest ``min(cout, cin)`` whose Gram eigenvalues are computed by the compiled
#: kernel (Householder tridiagonalisation and QL, vectorised across blocks). Measured on
#: one thread: 10-25% faster than LAPACK at 16 channels, equal at 32, half as fast at
#: 64; on two threads it scales better (LAPACK's small calls through numpy lose 10-30%
#: to contention). Wider blocks use LAPACK through numpy.
GRAM_SOA_MAX = 32
#: Blocks with ``min(cout, cin) > GRAM_SOA_MAX`` and ``max(cout, cin)`` at least this
#: many times ``min(cout, cin)`` (a strided layer's wide polyphase blocks) take their
#: Gram matrices from the layer's Gram coefficients
#: (``convbench.fast.plane.gram_coefficients``) instead of the symbol: their smallest
#: singular values are far enough from zero that the coarser, frequency-independent
#: error bound still certifies them. Square blocks keep the symbol's Gram product: with
#: PyTorch's default weights the coefficients certified 88% of the blocks of a
#: 64-channel 3x3 layer (the product 99.6%) and, on one thread, took as long at 64
#: channels (n = 64) and 1.4x longer at 128 (n = 32); wide blocks took 0.6x as long (64
#: -> 128 channels at n = 64, and two stride-2 layers).
GRAM_COEF_ASPECT = 2
#: Largest ``min(cout, cin)`` of a square-ish block (``max < GRAM_COEF_ASPECT * min``)
#: that takes the Gram route past the compiled kernel. The certificate asks
#: ``kappa u ||B||_F^2 <= CERTIFY_RTOL sigma_min sigma_max`` with ``kappa`` growing like
#: ``k``, while a square block's ``sigma_min / sigma_max`` shrinks like ``1/k``. With
#: PyTorch's default 3x3 weights it certified 99.5% of the half-plane blocks at 64
#: channels (n = 56), 94% at 96 (n = 40), 70% at 128 (n = 28), 2% at 192 (n = 20) and
#: none at 256 or 512; on one thread ``zherk`` and ``heevd`` took 0.86x the SVD's time
#: at 64 and 128, 0.76x at 256 (``scripts/block_costs.py``), so with the refused
#: blocks' SVDs added the Gram route stops paying near 96.
GRAM_SQUARE_MAX = 80
#: Jobs of at most this many half-plane block entries (``n (m/2 + 1) r k``; c = 16,
#: n = 64 is 0.53M) with blocks of at least ``SMALL_JOB_MIN_K`` columns skip the
#: compiled kernels (see :func:`small_job`).
SMALL_JOB_ENTRIES = 1 << 20
#: Narrowest blocks that :data:`SMALL_JOB_ENTRIES` applies to.
SMALL_JOB_MIN_K = 8

#: Every value :func:`block_route` returns.
ROUTES = ("norm", "closed-form", "gram-soa", "jacobi", "gram-coef", "svd", "gram")


def small_job(entries: int, k: int) -> bool:
    """Whether LAPACK through numpy should take the blocks instead of the compiled
    kernels: a job of at most :data:`SMALL_JOB_ENTRIES` half-plane block entries whose
    blocks are at least :data:`SMALL_JOB_MIN_K` wide.

    The compiled kernels cost a process about 0.3 s the first time any of them runs
    (numba loads its typing and lowering registries, then the kernels from its cache);
    on such a job that is several times the job itself, while LAPACK, already loaded,
    takes at most about 1.8x the kernels' own time at these widths (one-off trials on
    one thread at c = 8, 16 and 32, n = 32 to 128, under load; 1.65x at c = 16, n = 64
    in fresh processes on a quiet machine). Narrower blocks keep the kernels: there
    LAPACK's per-call cost made it 4 to 7 times slower in the same trials.

    Parameters
    ----------
    entries : int
        Block entries of the half plane, ``n (m // 2 + 1) r k``.
    k : int
        Columns of a block, ``min(cout, cin)``.
    """
    return k >= SMALL_JOB_MIN_K and entries <= SMALL_JOB_ENTRIES


def compiled_layout(k: int, precision: str = "double", small: bool = False) -> bool:
    """Whether blocks of ``k`` columns go to a compiled kernel (block index innermost).

    Parameters
    ----------
    k : int
        Columns of a block, ``min(cout, cin)``.
    precision : {"double", "single"}
        Working precision.
    small : bool
        The job is small (:func:`small_job`): LAPACK takes it.
    """
    limit = GRAM_SOA_MAX if precision == "double" else JACOBI_MAX
    return 3 <= k <= limit and not small


def block_route(r: int, k: int, precision: str = "double", small: bool = False) -> str:
    """The factorization the ``fast`` path gives an ``r x k`` block (``r >= k``).

    Parameters
    ----------
    r, k : int
        Rows and columns of the tall block.
    precision : {"double", "single"}
        Working precision.
    small : bool
        The job is small (:func:`small_job`).

    Returns
    -------
    str
        One of :data:`ROUTES` (see the module docstring).
    """
    if r < k:
        raise ValueError(f"blocks are oriented tall: r = {r} < k = {k}")
    if k == 1:
        return "norm"
    if k == 2:
        return "closed-form"
    if compiled_layout(k, precision, small):
        return "gram-soa" if precision == "double" else "jacobi"
    if precision != "double":
        return "svd"
    if k > GRAM_SOA_MAX and r >= GRAM_COEF_ASPECT * k:
        return "gram-coef"
    if k > GRAM_SQUARE_MAX:
        return "svd"
    return "gram"
