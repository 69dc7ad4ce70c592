"""The fast path's driver: row chunks to a thread pool, values into one sorted array.

:func:`fast_singular_values` is the whole path; :func:`half_plane_symbol` and
:func:`half_plane_values` split it into its transform and its factorization (plus
ordering) so each can be timed alone; :func:`iter_half_plane` yields the values chunk
by chunk (:func:`convbench.summarize` streams them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .. import ordering, registry
from ..blas import check_threads
from ..layer import Conv, takes_layer
from ..memory import check_memory
from .factor import block_values, check_precision, values_gram_coef
from .plane import Plan, edge_columns, row_chunks

__all__ = [
    "CHUNK_ENTRIES",
    "HalfPlaneSymbol",
    "chunk_values",
    "fast_singular_values",
    "half_plane_symbol",
    "half_plane_values",
    "iter_half_plane",
    "self_conjugate_blocks",
]

#: Target number of block entries per chunk: a chunk of symbol stays in L2 cache.
CHUNK_ENTRIES = 1 << 17


def chunk_values(plan: Plan, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
    """Values of one row chunk: ``(doubles, singles)``, both flat, unsorted."""
    if plan.coef:
        return _by_weight(*values_gram_coef(plan, j0, j1))
    blocks, weight, _keep = plan.rows(j0, j1)
    return _split(plan, blocks, weight)


def _split(plan: Plan, blocks: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of a chunk's blocks, split into ``(doubles, singles)`` by multiplicity."""
    return _by_weight(block_values(blocks, plan.soa, plan.precision), weight)


def _by_weight(values: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-block values ``(nblocks, k)`` split into ``(doubles, singles)``, both flat."""
    once = weight == 1
    if once.any():
        return values[~once].ravel(), values[once].ravel()
    return values.ravel(), values[:0].ravel()


def iter_half_plane(
    plan: Plan,
    threads: int,
    chunk_entries: int = CHUNK_ENTRIES,
    sort_chunks: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(doubles, singles)`` per row chunk, computed by a pool of ``threads``.

    At most ``2 * threads`` chunks are in flight, so memory does not grow with ``n``.
    """
    chunks = row_chunks(plan.n, plan.m, plan.r * plan.k, chunk_entries)

    def work(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        d, s = chunk_values(plan, *bounds)
        if sort_chunks:
            d = np.sort(d)
        return d, s

    if threads == 1 or len(chunks) == 1:
        for bounds in chunks:
            yield work(bounds)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending = []
        it = iter(chunks)
        for bounds in it:
            pending.append(pool.submit(work, bounds))
            if len(pending) >= 2 * threads:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


def _doubles_per_row(plan: Plan) -> np.ndarray:
    """Values each row of the half plane contributes to the doubled (weight 2) list."""
    n = plan.n
    j = np.arange(n)
    edges = edge_columns(plan.m).size
    self_conj = (j == 0) | ((n % 2 == 0) & (2 * j == n))
    edge_doubles = np.where((j > n // 2) | self_conj, 0, edges)
    return plan.k * (plan.interior.size + edge_doubles)


def fast_singular_values(
    w: np.ndarray,
    n: int,
    m: int,
    *,
    threads: int | None = None,
    precision: str = "double",
    top_k: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """All singular values, descending, by the fast path (validated ``oihw`` input).

    The row chunks of the half plane go to a pool of ``threads`` workers, each writing
    its values straight into their slot of one array; the same pool then sorts that
    array (:func:`convbench.ordering.sort`: a radix sort or numpy's, with passes shared
    by the threads) and writes the descending output, each value of a
    non-self-conjugate frequency twice. Peak memory: the half-plane values, the output
    (twice their size; it doubles as the sort's scratch space) and one chunk per thread.

    Parameters
    ----------
    w : numpy.ndarray
        float64 ``(cout, cin, kh, kw)`` weights, already validated.
    n, m : int
        Input size.
    threads : int, optional
        Size of the thread pool (default: all cores).
    precision : {"double", "single"}
        ``"single"`` trades accuracy (about ``1e-6 * sigma_max``) for speed.
    top_k : int, optional
        Return only the ``top_k`` largest.
    progress : callable, optional
        Called with the number of chunks finished after each chunk.

    Returns
    -------
    numpy.ndarray
        1-D float64 (``"single"``: float32) array, descending.
    """
    threads = check_threads(threads)
    plan = Plan(w, n, m, precision)
    chunks = row_chunks(n, m, plan.r * plan.k, CHUNK_ENTRIES)
    full = _ordered(plan, chunks, lambda i: chunk_values(plan, *chunks[i]), threads, progress)
    return full if top_k is None else full[:top_k].copy()


def _ordered(
    plan: Plan,
    chunks: list[tuple[int, int]],
    values_of: Callable[[int], tuple[np.ndarray, np.ndarray]],
    threads: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """The descending spectrum from the ``(doubles, singles)`` of every row chunk.

    ``values_of(i)`` computes chunk ``i`` (rows ``chunks[i]``); a pool of ``threads``
    calls it, each result written straight into its slot, then the same pool sorts and
    expands (see :func:`fast_singular_values`).
    """
    n, m = plan.n, plan.m
    per_row = np.concatenate([[0], np.cumsum(_doubles_per_row(plan))])
    offsets = [int(per_row[j0]) for j0, _ in chunks] + [int(per_row[-1])]
    n_single = self_conjugate_blocks(n, m) * plan.k
    doubles = np.empty(int(per_row[-1]), dtype=plan.real)
    if 2 * doubles.size + n_single != n * m * plan.k:  # pragma: no cover - bookkeeping
        raise RuntimeError("half plane bookkeeping does not add up")

    def work(i: int) -> np.ndarray:
        d, s = values_of(i)
        if d.size != offsets[i + 1] - offsets[i]:  # pragma: no cover - bookkeeping
            raise RuntimeError(f"chunk {chunks[i]} gave {d.size} values")
        doubles[offsets[i] : offsets[i + 1]] = d
        return s

    pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
    try:
        results = pool.map(work, range(len(chunks))) if pool else map(work, range(len(chunks)))
        singles = []
        for s in results:
            singles.append(s)
            if progress is not None:
                progress(1)
        singles_all = np.concatenate(singles)
        full = np.empty(2 * doubles.size + n_single, dtype=plan.real)
        submit = pool.submit if pool else None
        if plan.real is np.float64:
            ordering.sort(doubles, full, threads, submit)
        else:  # single precision: numpy's sort (the radix kernels are for float64)
            doubles.sort()
        ordering.expand_descending(doubles, singles_all, full, threads, submit)
    finally:
        if pool is not None:
            pool.shutdown()
    return full


@dataclass(frozen=True, eq=False)
class HalfPlaneSymbol:
    """The fast path's symbol, held whole: every kept block of half the frequency plane.

    Made by :func:`half_plane_symbol`, read by :func:`half_plane_values`. The two split
    the ``fast`` path into its transform and its factorization (plus ordering) so that
    each can be timed on its own; :func:`fast_singular_values` never holds the whole
    symbol (each chunk is factorized while it is in cache).

    Attributes
    ----------
    shape : tuple of int
        Input size ``(n, m)``.
    chunks : tuple of (numpy.ndarray, numpy.ndarray)
        Per row chunk: the blocks in the layout the factorization reads (block index
        innermost for ``3 <= min(cout, cin) <= GRAM_SOA_MAX``, ``JACOBI_MAX`` in single
        precision, else outermost) and each block's multiplicity (1 or 2).
    nbytes : int
        Bytes held by the blocks.
    """

    chunks: tuple[tuple[np.ndarray, np.ndarray], ...]
    _plan: Plan = field(repr=False)
    _bounds: tuple[tuple[int, int], ...] = field(repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self._plan.n, self._plan.m

    @property
    def nbytes(self) -> int:
        return sum(blocks.nbytes for blocks, _ in self.chunks)


@takes_layer(boundaries=("periodic",))
def half_plane_symbol(
    layer: Conv,
    *,
    precision: str = "double",
    memory_budget: int | float | str | None = None,
) -> HalfPlaneSymbol:
    """The ``fast`` path's transform on its own: every kept block of the half plane.

    One thread, chunk by chunk as :func:`fast_singular_values` writes them, but all
    kept: about half the memory of :func:`convbench.symbol`.

    The layer is the plain 2-D one (forward, stride 1, undilated, ungrouped, 'same'
    padding); others raise a ``ValueError``.

    Parameters
    ----------
    precision : {"double", "single"}
        complex128 or complex64 blocks.
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`).

    Returns
    -------
    HalfPlaneSymbol
        The blocks; :func:`half_plane_values` turns them into the spectrum.
    """
    if not layer.is_plain:
        raise ValueError(
            "half_plane_symbol takes the plain 2-D layer's weight (cout, cin, kh, kw); "
            f"got {layer.describe()}"
        )
    w = layer.weight
    n, m = layer.shape
    check_precision(precision)
    cout, cin = w.shape[:2]
    needed = registry.get("fast").estimate(layer, precision=precision, stage="transform").nbytes
    check_memory(
        needed,
        memory_budget,
        f"the fast path's half-plane symbol at {n}x{m} with {cout}x{cin} channels",
        "Use a smaller input size, or singular_values(method='fast'), which never holds it.",
    )
    plan = Plan(w, n, m, precision)
    bounds = tuple(row_chunks(n, m, plan.r * plan.k, CHUNK_ENTRIES))
    chunks = tuple(plan.rows(j0, j1)[:2] for j0, j1 in bounds)
    return HalfPlaneSymbol(chunks, plan, bounds)


def half_plane_values(symbol: HalfPlaneSymbol) -> np.ndarray:
    """The ``fast`` path's factorization and ordering on their own, one thread.

    Parameters
    ----------
    symbol : HalfPlaneSymbol
        From :func:`half_plane_symbol`.

    Returns
    -------
    numpy.ndarray
        All singular values, descending: the result of ``fast_singular_values``, bit
        for bit, except for wide blocks past the compiled kernel (``GRAM_COEF_ASPECT``),
        which ``fast_singular_values`` factorizes from the Gram coefficients without the
        symbol, and this function from the symbol it is given (both certified).
    """
    if not isinstance(symbol, HalfPlaneSymbol):
        raise TypeError(f"symbol must come from half_plane_symbol(); got {type(symbol).__name__}")
    plan = symbol._plan
    return _ordered(plan, list(symbol._bounds), lambda i: _split(plan, *symbol.chunks[i]), 1)


def self_conjugate_blocks(n: int, m: int) -> int:
    """Number of frequencies ``t`` with ``-t = t``: ``(j, l)`` in ``{0, n/2} x {0, m/2}``."""
    return (1 + (n % 2 == 0)) * (1 + (m % 2 == 0))
