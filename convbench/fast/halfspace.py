"""The ``fast`` path for every layer: reduce it, then use half of the frequency space.

A periodic layer of any kind is a union of stride-1 dense convolutions on a coarse grid
(:meth:`convbench.layer.Conv.polyphase`: one per group, the stride's phases as extra
input channels). So:

* an ungrouped 1-D or 2-D layer is handed to the compiled 2-D fast path
  (:func:`convbench.fast.fast_singular_values`) with its polyphase kernel (a 1-D layer
  is a 2-D one of width 1); the centring of that kernel multiplies each block by a
  unimodular scalar, which does not change its singular values;
* every other layer (groups, 3-D) takes the half-space route here: real weights give
  ``B(-t) = conj(B(t))``, so only the last axis' frequencies ``0 .. N/2`` are evaluated
  (the two self-conjugate slices ``0`` and ``N/2`` whole, once; every other slice counts
  twice), chunk by chunk through the one symbol evaluator
  (:func:`convbench.symbols.lfa_blocks`' contraction), with all groups in one batch.
  Blocks with one row or column (depthwise layers) need no SVD: their singular value is
  the block's 2-norm (the symbol's modulus for a 1x1 block). Wider blocks use the fast
  path's certified factorizers (:func:`convbench.fast.block_values`), blocks of 3 to
  ``GRAM_SOA_MAX`` columns its compiled kernels (block index innermost). The kept
  values are sorted once and written out descending with every doubled value twice
  (:func:`convbench.ordering.expand_descending`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import ordering
from ..blas import check_threads, single_blas_thread
from ..layer import Conv, Polyphase
from ..routes import compiled_layout
from ..symbols import contract, grid_phases
from .driver import fast_singular_values
from .factor import block_values

__all__ = ["iter_half_space", "layer_fast_values", "space_jobs"]

# complex block entries per chunk of the half space
_CHUNK_ENTRIES = 1 << 18


def layer_fast_values(
    layer: Conv,
    *,
    threads: int | None = None,
    precision: str = "double",
    top_k: int | None = None,
) -> np.ndarray:
    """The periodic spectrum of any validated layer by the fast path, descending.

    BLAS runs one thread per worker for the duration of the call
    (:func:`convbench.blas.single_blas_thread`): the pool of ``threads`` supplies the
    parallelism.
    """
    threads = check_threads(threads)
    with single_blas_thread():
        return _layer_fast_values(layer, threads, precision, top_k)


def _layer_fast_values(
    layer: Conv, threads: int, precision: str, top_k: int | None
) -> np.ndarray:
    if layer.is_plain and math.prod(layer.weight.shape[2:]) > 1:  # one tap: see below
        n, m = layer.shape
        return fast_singular_values(
            layer.weight, n, m, threads=threads, precision=precision, top_k=top_k
        )
    poly = layer.polyphase()
    kernel, grid = poly.kernel, poly.grid
    g, r, c = kernel.shape[:3]
    # input phases no tap reads (a 1x1 stride-2 layer reads one phase of four) are zero
    # columns of every block: each block's values are those of its live columns, then
    # exact zeros up to min(r, c)
    live = np.flatnonzero(np.any(kernel != 0, axis=(0, 1, *range(3, kernel.ndim))))
    if 0 < live.size < c:
        kernel = np.ascontiguousarray(kernel[:, :, live])
    live_cols = kernel.shape[2] if live.size else 0
    zeros = g * math.prod(grid) * (min(r, c) - min(r, live_cols))
    if live.size == 0:  # an all-zero weight
        values = np.zeros(0)
    elif math.prod(kernel.shape[3:]) == 1:
        # one tap: the symbol is the same matrix at every frequency (up to a unimodular
        # factor), so one SVD per group, each value repeated over the grid
        values = np.linalg.svd(kernel.reshape(g, *kernel.shape[1:3]), compute_uv=False)
        values = np.repeat(values.ravel(), math.prod(grid))
    elif g == 1 and layer.d <= 2 and min(kernel.shape[1:3]) > 1:
        k2 = kernel[0] if layer.d == 2 else kernel[0][..., None]
        grid2 = grid if layer.d == 2 else (*grid, 1)
        values = fast_singular_values(k2, *grid2, threads=threads, precision=precision)
    else:
        values = _half_space(kernel, poly.origin, grid, threads, precision)
    if zeros or live.size == 0 or math.prod(kernel.shape[3:]) == 1:
        real = np.float64 if precision == "double" else np.float32
        values = np.concatenate([np.asarray(values, dtype=real), np.zeros(zeros, dtype=real)])
        values = np.sort(values)[::-1].copy()
    return values if top_k is None else values[:top_k].copy()


def _half_space(
    kernel: np.ndarray,
    origin: tuple[int, ...],
    grid: tuple[int, ...],
    threads: int,
    precision: str,
) -> np.ndarray:
    """Singular values of every block ``B(2*pi*j/grid)`` of a polyphase kernel
    ``(groups, r, c, *taps)``, from half of the frequency space, descending."""
    real = np.float64 if precision == "double" else np.float32
    cplx = np.complex128 if precision == "double" else np.complex64
    g, r, c = kernel.shape[:3]
    taps = kernel.shape[3:]
    last = grid[-1]
    # orient every block tall (r >= c): singular values are those of the transpose
    if r < c:
        kernel = kernel.swapaxes(1, 2)
        r, c = c, r
    kernel = np.ascontiguousarray(kernel, dtype=real)
    # the compiled kernels read the block index innermost
    soa = compiled_layout(c, precision)
    head = [grid_phases(np.arange(k) + o, n).astype(cplx) for k, o, n in
            zip(taps[:-1], origin[:-1], grid[:-1], strict=True)]
    offsets_last = np.arange(taps[-1]) + origin[-1]
    edges = [0] if last % 2 or last == 1 else [0, last // 2]
    interior = [j for j in range(1, last // 2 + 1) if j not in edges]
    per_slice = max(1, math.prod(grid[:-1]) * g * r * c)
    step = max(1, _CHUNK_ENTRIES // per_slice)
    jobs: list[tuple[np.ndarray, bool]] = [(np.array(edges), True)]
    jobs += [
        (np.array(interior[i : i + step]), False) for i in range(0, len(interior), step)
    ]
    jobs = [(cols, once) for cols, once in jobs if cols.size]

    def work(job: tuple[np.ndarray, bool]) -> tuple[np.ndarray, bool]:
        cols, once = job
        phases = [*head, grid_phases(offsets_last, last, cols).astype(cplx)]
        blocks = contract(kernel, phases).reshape(-1, r, c)
        if c == 1:  # depthwise and the like: the modulus, or the column's 2-norm
            vals = np.abs(blocks).reshape(-1) if r == 1 else np.linalg.norm(blocks, axis=1)
        elif soa:
            vals = block_values(np.ascontiguousarray(blocks.transpose(1, 2, 0)), True, precision)
        else:
            vals = block_values(blocks, False, precision)
        return np.ascontiguousarray(vals, dtype=real).reshape(-1), once

    pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 and len(jobs) > 1 else None
    try:
        results = list(pool.map(work, jobs)) if pool else [work(job) for job in jobs]
        singles = np.concatenate([v for v, once in results if once])
        doubles = np.concatenate([v for v, once in results if not once] or [singles[:0]])
        del results
        # every non-self-conjugate value stands for two: sort the kept ones (numpy's
        # sort, vectorised where the CPU allows: on an AVX-512 host 3-5x faster than
        # convbench.ordering's radix sort at 4e5 to 2e6 values), then write the
        # descending output with each of them twice
        doubles.sort()
        full = np.empty(2 * doubles.size + singles.size, dtype=real)
        ordering.expand_descending(doubles, singles, full, threads, pool.submit if pool else None)
    finally:
        if pool is not None:
            pool.shutdown()
    return full


# ---------------------------------------------------------------------------------------
# the same spectrum as a stream of chunks (for convbench.stream.summarize)


def space_jobs(
    poly: Polyphase, chunk_entries: int = _CHUNK_ENTRIES
) -> list[tuple[slice, np.ndarray, bool]]:
    """The chunks of :func:`iter_half_space`: ``(first-axis rows, last-axis columns,
    once)``, each of about ``chunk_entries`` block entries (at least one line of the
    middle axes)."""
    grid = poly.grid
    last = grid[-1]
    g, r, c = poly.kernel.shape[:3]
    # entries per (first-axis row, last-axis column); a 1-D layer has no separate rows
    head = grid[0] if len(grid) > 1 else 1
    per_point = math.prod(grid[1:-1]) * g * r * c
    edges = [0] if last % 2 or last == 1 else [0, last // 2]
    interior = [j for j in range(1, last // 2 + 1) if j not in edges]
    if head * per_point <= chunk_entries:
        rows, step = head, max(1, chunk_entries // (head * per_point))
    else:
        rows, step = max(1, chunk_entries // per_point), 1
    jobs = []
    for columns, once in ((edges, True), (interior, False)):
        for j in range(0, len(columns), step):
            for i in range(0, head, rows):
                jobs.append((slice(i, min(head, i + rows)), np.array(columns[j : j + step]), once))
    return jobs


def iter_half_space(
    poly: Polyphase,
    threads: int,
    precision: str = "double",
    chunk_entries: int = _CHUNK_ENTRIES,
    jobs: list[tuple[slice, np.ndarray, bool]] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(doubles, singles)`` chunk by chunk: the singular values of the blocks
    ``B(2*pi*j/grid)`` of a polyphase kernel from half of the frequency space (those
    of the self-conjugate slices, which count once, and the others, which count
    twice), computed by a pool of ``threads``.

    The same values as the half-space route of :func:`layer_fast_values`, but chunked
    along the first and the last axis and streamed: at most ``2 * threads`` chunks are
    in flight, so memory does not grow with the grid. ``jobs`` (default: all of
    :func:`space_jobs`) computes only those chunks, in that order.
    """
    real = np.float64 if precision == "double" else np.float32
    cplx = np.complex128 if precision == "double" else np.complex64
    kernel = poly.kernel
    if kernel.shape[1] < kernel.shape[2]:  # orient every block tall (same values)
        kernel = kernel.swapaxes(1, 2)
    r, c = kernel.shape[1:3]
    kernel = np.ascontiguousarray(kernel, dtype=real)
    soa = compiled_layout(c, precision)  # the compiled kernels: block index innermost
    offsets = [np.arange(k) + o for k, o in zip(poly.taps, poly.origin, strict=True)]
    grid = poly.grid
    middle = [grid_phases(o, n).astype(cplx) for o, n in zip(offsets[1:-1], grid[1:-1],
                                                              strict=True)]
    if jobs is None:
        jobs = space_jobs(poly, chunk_entries)
    empty = np.empty(0, dtype=real)

    def work(job: tuple[slice, np.ndarray, bool]) -> tuple[np.ndarray, np.ndarray]:
        rows, cols, once = job
        last = grid_phases(offsets[-1], grid[-1], cols).astype(cplx)
        if len(grid) == 1:
            phases = [last]
        else:
            first = grid_phases(offsets[0], grid[0], np.arange(rows.start, rows.stop))
            phases = [first.astype(cplx), *middle, last]
        blocks = contract(kernel, phases).reshape(-1, r, c)
        if c == 1:
            vals = np.abs(blocks).reshape(-1) if r == 1 else np.linalg.norm(blocks, axis=1)
        elif soa:
            vals = block_values(np.ascontiguousarray(blocks.transpose(1, 2, 0)), True, precision)
        else:
            vals = block_values(blocks, False, precision)
        vals = np.ascontiguousarray(vals, dtype=real).reshape(-1)
        return (empty, vals) if once else (vals, empty)

    if threads == 1 or len(jobs) == 1:
        for job in jobs:
            yield work(job)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending = []
        for job in jobs:
            pending.append(pool.submit(work, job))
            if len(pending) >= 2 * threads:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()
