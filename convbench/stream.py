"""``summarize``: statistics of spectra too large to hold, streamed over the frequency space.

The fast path's chunks are produced one after another and folded into running
statistics, so the memory in use does not depend on how many singular values there
are: a few chunks in flight, a fixed histogram of :data:`FINE_BINS` counts and the
values collected near each requested quantile (at most :data:`COLLECT_CAP` per
quantile). Every periodic layer streams: the plain layer and the ungrouped 1-D and 2-D
ones go through the compiled 2-D path's row chunks of the half frequency plane
(:func:`convbench.fast.iter_half_plane`, on the layer's polyphase kernel, as
:func:`convbench.halfspace.layer_fast_values` does); grouped and 3-D layers through
the half-space chunks of :func:`convbench.halfspace.iter_half_space`. Both give each
chunk's values as ``(doubles, singles)``: those of the frequencies that stand for their
conjugate too, and those of the self-conjugate ones.

Exactness
---------
``sigma_max``, ``sigma_min``, ``count`` and the Frobenius norm are exact (to rounding).
With ``exact=True`` (default) the histogram counts are exact and the quantiles are the
same numbers ``numpy.quantile`` (``method="linear"``) gives on the full spectrum (the
one ``singular_values(..., method="fast")`` returns for the plain, 1-D and 2-D layers;
the other paths agree with it to rounding): pass 1 counts the values in
:data:`FINE_BINS` equal bins on ``[0, U]``, where ``U`` (:func:`upper_bound`: the sum
over the polyphase taps of the tap matrices' norms) bounds every singular value; later
passes keep only
the values in the bins that hold the needed order statistics, or split such a bin again
if it holds more than :data:`COLLECT_CAP` values. An interval narrower than 4 ulp is
resolved by its lower end (so "exact" means within 4 ulp). Each pass recomputes the
spectrum; typically two passes are needed.

With ``exact=False`` only pass 1 runs: quantiles are read from the fine histogram as
the midpoints of the bins that hold the needed order statistics, with absolute error
at most the bin width ``U / FINE_BINS`` (reported as ``quantile_error``), and the
default histogram range is ``[0, U]`` (the extremes are not known before the pass).
"""

from __future__ import annotations

import copy
import itertools
import math
import numbers
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from .blas import single_blas_thread
from .budget import estimate_seconds
from .fast import _chunk, _Plan, check_threads, iter_half_plane
from .halfspace import iter_half_space, space_jobs
from .layer import Conv, takes_layer

__all__ = ["COLLECT_CAP", "FINE_BINS", "Summary", "summarize", "upper_bound"]

#: Bins of the internal histogram that locates the quantiles.
FINE_BINS = 1 << 20
#: Largest number of values kept for one interval before it is split again.
COLLECT_CAP = 1 << 22
#: Bins of a refinement pass.
_SPLIT_BINS = 1 << 12
#: Default quantiles.
DEFAULT_QUANTILES = (0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0)


@dataclass(frozen=True)
class Summary:
    """Streamed statistics of a periodic convolution's singular values.

    Attributes
    ----------
    count : int
        Number of singular values, the layer's ``min(rows, cols)``
        (``n * m * min(cout, cin)`` for the plain layer).
    sigma_max, sigma_min : float
        Largest and smallest singular value.
    frobenius : float
        ``sqrt(sum sigma**2)``, the operator's Frobenius norm.
    histogram : numpy.ndarray
        Counts per bin (int64); they sum to ``count`` when the range covers the spectrum.
    bin_edges : numpy.ndarray
        ``len(histogram) + 1`` increasing edges; the last bin is closed.
    quantiles : numpy.ndarray
        The requested probabilities.
    quantile_values : numpy.ndarray
        The quantiles (``numpy.quantile``'s ``"linear"`` definition).
    exact : bool
        Whether quantiles and histogram are exact (see the module docstring).
    quantile_error : float
        Bound on the absolute error of each quantile (``0.0`` when exact).
    upper_bound : float
        The a priori bound ``U`` used for the fine histogram.
    passes : int
        Passes over the frequency plane.
    seconds : float
        Wall time.
    shape : tuple of int
        The layer's input size.
    """

    count: int
    sigma_max: float
    sigma_min: float
    frobenius: float
    histogram: np.ndarray
    bin_edges: np.ndarray
    quantiles: np.ndarray
    quantile_values: np.ndarray
    exact: bool
    quantile_error: float
    upper_bound: float
    passes: int
    seconds: float
    shape: tuple[int, ...] = field(default=(0, 0))

    def quantile(self, q: float) -> float:
        """The stored quantile for probability ``q`` (must be one that was requested)."""
        hit = np.flatnonzero(self.quantiles == q)
        if hit.size == 0:
            raise KeyError(f"quantile {q} was not requested; have {self.quantiles.tolist()}")
        return float(self.quantile_values[hit[0]])


def upper_bound(weight: np.ndarray | Conv) -> float:
    """A bound ``U`` on every singular value of the periodic layer, from its taps.

    ``U = max_g sum_b ||K[g, :, :, b]||_2`` over the polyphase kernel ``K``
    (:meth:`convbench.layer.Conv.polyphase`): the symbol ``B_g(t)`` is a sum of these
    matrices times unimodular factors. For an array of stride-1 ungrouped weights
    ``(cout, cin, *kernel)`` (no layer given) this is ``sum_a ||W[:, :, a]||_2``.
    """
    if isinstance(weight, Conv):
        kernel = weight.polyphase().kernel
    else:
        kernel = np.asarray(weight, dtype=np.float64)[None]
    g, r, c = kernel.shape[:3]
    taps = kernel.reshape(g, r, c, -1).transpose(0, 3, 1, 2)
    norms = np.linalg.norm(taps, ord=2, axis=(2, 3))  # (groups, taps)
    return max(float(row.sum()) for row in norms)


@numba.njit(cache=True, nogil=True)
def _accumulate(values, weight, lo, scale, counts):  # pragma: no cover - compiled
    """Add ``weight`` to bin ``clamp(int((v - lo) * scale), 0, len(counts) - 1)``."""
    nb = counts.size
    for v in values:
        i = int((v - lo) * scale)
        i = min(max(i, 0), nb - 1)
        counts[i] += weight


def _bin_index(values: np.ndarray, lo: float, scale: float, nb: int) -> np.ndarray:
    """The bin :func:`_accumulate` puts each value in (same floating-point operations)."""
    return np.clip(((values - lo) * scale).astype(np.int64), 0, nb - 1)


class _Interval:
    """The values in bin ``b`` of every level of ``levels``, holding order stats ``ranks``.

    Each level is ``(lo, scale, nbins, b)``; membership is decided by the same binning
    arithmetic that counted the values, so counts and collected values always agree.
    ``lo`` and ``hi`` are the bin's nominal edges (used only to stop when it is narrow).
    """

    def __init__(
        self, levels: list[tuple[float, float, int, int]], lo: float, hi: float,
        before: int, count: int, ranks: list[int],
    ) -> None:
        self.levels, self.lo, self.hi = levels, lo, hi
        self.before, self.count, self.ranks = before, count, ranks
        self.narrow = hi - lo <= 4 * np.spacing(max(abs(hi), abs(lo)))
        self.collect = count <= COLLECT_CAP
        self.counts = None if self.collect else np.zeros(_SPLIT_BINS, dtype=np.int64)
        self.scale = _SPLIT_BINS / (hi - lo) if hi > lo else 0.0
        self.values: list[np.ndarray] = []

    def members(self, vals: np.ndarray) -> np.ndarray:
        for lo, scale, nb, b in self.levels:
            if not vals.size:
                break
            vals = vals[_bin_index(vals, lo, scale, nb) == b]
        return vals

    def feed(self, d: np.ndarray, s: np.ndarray) -> None:
        for vals, rep in ((d, 2), (s, 1)):
            got = self.members(vals)
            if not got.size:
                continue
            if self.collect:
                self.values.append(np.repeat(got, rep))
            else:
                _accumulate(got, rep, self.lo, self.scale, self.counts)

    def split(self) -> list[_Interval]:
        assert self.counts is not None
        return _locate(self.counts, self.lo, self.hi, self.scale, self.before, self.ranks,
                       self.levels)


def _locate(
    counts: np.ndarray, lo: float, hi: float, scale: float, before: int, ranks: list[int],
    levels: list[tuple[float, float, int, int]],
) -> list[_Interval]:
    """Split ``ranks`` over the bins of ``counts`` (binned on ``lo, scale``)."""
    nb = counts.size
    edges = np.linspace(lo, hi, nb + 1)
    cum = before + np.concatenate([[0], np.cumsum(counts)])
    groups: dict[int, list[int]] = {}
    for r in ranks:
        b = min(int(np.searchsorted(cum, r, side="right")) - 1, nb - 1)
        groups.setdefault(b, []).append(r)
    return [
        _Interval([*levels, (lo, scale, nb, b)], float(edges[b]), float(edges[b + 1]),
                  int(cum[b]), int(counts[b]), rs)
        for b, rs in groups.items()
    ]


def _check_quantiles(quantiles: Any) -> np.ndarray:
    try:
        q = np.asarray(quantiles, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"quantiles must be a sequence of numbers in [0, 1]: {exc}") from None
    if q.ndim > 1:
        raise ValueError(f"quantiles must be a 1-D sequence; got shape {q.shape}")
    q = np.atleast_1d(q)
    if not np.all(np.isfinite(q)) or np.any((q < 0) | (q > 1)):
        raise ValueError(f"quantiles must lie in [0, 1]; got {q.tolist()}")
    return q


def _check_bins(bins: Any) -> np.ndarray | int:
    if isinstance(bins, (numbers.Integral, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"bins must be a positive integer or increasing edges; got {bins}")
        return int(bins)
    try:
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"bins must be an int or a 1-D array of edges; got {bins!r}") from None
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError("bins given as edges must be a 1-D array of at least 2 values")
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError("bin edges must be finite and strictly increasing")
    return edges


def _check_range(hist_range: Any) -> tuple[float, float] | None:
    if hist_range is None:
        return None
    try:
        lo, hi = (float(x) for x in hist_range)
    except (TypeError, ValueError):
        raise TypeError(
            f"hist_range must be a pair (lo, hi) of numbers; got {hist_range!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ValueError(f"hist_range must be finite with lo < hi; got {hist_range!r}")
    return lo, hi


def _lerp(a: float, b: float, t: float) -> float:
    """``a + t*(b - a)`` exactly as ``numpy.quantile`` rounds it (from ``b`` when
    ``t >= 1/2``), so that exact order statistics give numpy's quantiles bit for bit."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _histogram(d: np.ndarray, s: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return 2 * np.histogram(d, edges)[0] + np.histogram(s, edges)[0]


def _pack(counts: np.ndarray) -> tuple[int, np.ndarray]:
    """Counts as ``(offset, the nonzero span in the narrowest unsigned dtype)``: what
    a partial result sends of its fine histogram."""
    nz = np.flatnonzero(counts)
    if not nz.size:
        return 0, np.zeros(0, dtype=np.uint8)
    span = counts[nz[0] : nz[-1] + 1]
    top = int(span.max())
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return int(nz[0]), span.astype(dtype)
    return int(nz[0]), span.astype(np.uint64)


def _unpack(packed: tuple[int, np.ndarray], size: int) -> np.ndarray:
    offset, span = packed
    counts = np.zeros(size, dtype=np.int64)
    counts[offset : offset + span.size] = span
    return counts


class _Tally:
    """Pass 1 over some chunks: extremes, count, squares, fine and user histograms.

    ``add`` folds one chunk in. Tallies of disjoint chunk ranges ``merge`` in any order
    into the tally of their union; the sum of squares is the one order-dependent
    number, so each tally keeps its terms (two floats a chunk) and :meth:`replay` sums
    them in chunk order, exactly as one tally over every chunk does.
    """

    def __init__(self, fine_scale: float, edges: np.ndarray | None) -> None:
        self.fine_scale, self.edges = fine_scale, edges
        self.smax, self.smin, self.count, self.sq = -np.inf, np.inf, 0, 0.0
        self.terms: list[float] = []
        self.fine = np.zeros(FINE_BINS, dtype=np.int64)
        self.hist = None if edges is None else np.zeros(edges.size - 1, dtype=np.int64)

    def add(self, d: np.ndarray, s: np.ndarray) -> None:
        for vals, rep in ((d, 2), (s, 1)):
            if vals.size:
                self.smax = max(self.smax, float(vals.max()))
                self.smin = min(self.smin, float(vals.min()))
                self.count += rep * vals.size
                term = rep * float(np.dot(vals, vals))
                self.sq += term
                self.terms.append(term)
                _accumulate(vals, rep, 0.0, self.fine_scale, self.fine)
        if self.hist is not None:
            self.hist += _histogram(d, s, self.edges)

    def merge(self, other: _Tally) -> None:
        """Fold in the tally of other chunks (the sum of squares: see :meth:`replay`)."""
        self.smax, self.smin = max(self.smax, other.smax), min(self.smin, other.smin)
        self.count += other.count
        self.fine += other.fine
        if self.hist is not None:
            self.hist += other.hist

    def replay(self, terms: list[list[float]]) -> None:
        """The sum of squares from every range's terms, ranges in chunk order."""
        self.sq = 0.0
        for part in terms:
            for term in part:
                self.sq += term

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["fine"] = _pack(self.fine)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["fine"] = _unpack(state["fine"], FINE_BINS)
        self.__dict__.update(state)


class _Refine:
    """A later pass over some chunks: the values (or the counts) of each interval
    still open, and the user histogram when pass 1 could not count it. Mergeable in
    any order (the collected values are sorted before use)."""

    def __init__(self, todo: list[_Interval], edges: np.ndarray | None) -> None:
        self.todo, self.edges = todo, edges
        self.hist = None if edges is None else np.zeros(edges.size - 1, dtype=np.int64)

    def feed(self, d: np.ndarray, s: np.ndarray) -> None:
        for iv in self.todo:
            iv.feed(d, s)
        if self.hist is not None:
            self.hist += _histogram(d, s, self.edges)

    def merge(self, other: _Refine) -> None:
        for mine, theirs in zip(self.todo, other.todo, strict=True):
            if mine.collect:
                mine.values += theirs.values
            else:
                mine.counts += theirs.counts
        if self.hist is not None:
            self.hist += other.hist

    def __getstate__(self) -> dict[str, Any]:
        for iv in self.todo:  # one array per interval on the wire
            if len(iv.values) > 1:
                iv.values = [np.concatenate(iv.values)]
        return self.__dict__.copy()


@takes_layer(boundaries=("periodic",))
@single_blas_thread()
def summarize(
    layer: Conv,
    *,
    bins: int | Sequence[float] | np.ndarray = 64,
    hist_range: tuple[float, float] | None = None,
    quantiles: Sequence[float] | np.ndarray = DEFAULT_QUANTILES,
    exact: bool = True,
    threads: int | None = None,
    progress: bool | None = None,
    client: Any = None,
) -> Summary:
    """Statistics of all singular values of a periodic layer, in bounded memory.

    The spectrum is computed chunk by chunk with the ``fast`` path and never held whole,
    so sizes whose values would not fit (``n = 2**14`` with 4 channels: ``2**30``
    values, 8 GiB) run in a few tens of MiB. Every layer kind streams (see the module
    docstring).

    Parameters
    ----------
    bins : int or array_like
        Number of equal-width histogram bins, or the bin edges.
    hist_range : tuple of float, optional
        ``(lo, hi)`` of the equal-width bins; default ``(sigma_min, sigma_max)`` when
        ``exact`` (found in pass 1), else ``(0, U)``.
    quantiles : sequence of float
        Probabilities in ``[0, 1]``.
    exact : bool
        Exact quantiles and histogram (two or more passes), or one pass with the
        documented quantile error bound (see the module docstring).
    threads : int, optional
        Thread pool size (default: all cores). Leave it unset with ``client``.
    progress : bool, optional
        Show a progress bar on stderr (chunks done; tasks done with ``client``);
        default: only when the run is predicted to take more than 10 seconds.
    client : dask.distributed.Client, optional
        Run the passes on this cluster's workers (see :mod:`convbench.distributed`):
        the layer is sent to every worker once, each task covers a range of chunks
        and returns a small partial result, and the partials are merged here. The
        result is the same, bit for bit, as without a client (on workers with the same
        CPU and libraries as this machine).

    Returns
    -------
    Summary
        See :class:`Summary`.
    """
    if not isinstance(exact, (bool, np.bool_)):
        raise TypeError(f"exact must be True or False; got {exact!r}")
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or None; got {progress!r}")
    q = _check_quantiles(quantiles)
    bins = _check_bins(bins)
    hist_range = _check_range(hist_range)
    if not isinstance(bins, int) and hist_range is not None:
        raise ValueError("give either bin edges in bins or hist_range, not both")
    if client is not None and threads is not None:
        raise ValueError(
            "threads applies to a run on this machine; on a cluster every task runs on "
            "one of its worker's threads (pass threads=None with client)"
        )
    threads = check_threads(threads)
    start = time.perf_counter()

    total = layer.n_values
    bound = upper_bound(layer)
    top = bound * (1 + 1e-9) + 1e-300  # rounding may put a value a hair above U
    if progress is None:
        progress = estimate_seconds("fast", layer) > 10
    run = _Local(layer, threads, progress) if client is None else _Cluster(client, layer, progress)

    # histogram edges known before pass 1?
    edges: np.ndarray | None
    if not isinstance(bins, int):
        edges = bins
    elif hist_range is not None:
        edges = np.linspace(hist_range[0], hist_range[1], bins + 1)
    elif not exact:
        edges = np.linspace(0.0, bound, bins + 1)
    else:
        edges = None

    # pass 1: extremes, count, Frobenius norm, fine histogram (and user histogram if possible)
    fine_scale = FINE_BINS / top
    tally = run.tally(fine_scale, edges)
    smax, smin, count, sq = tally.smax, tally.smin, tally.count, tally.sq
    fine, hist = tally.fine, tally.hist
    if count != total:  # pragma: no cover - a bookkeeping error, never expected
        raise RuntimeError(f"streamed {count} values, expected {total}")

    pos = q * (total - 1)
    lo_rank, hi_rank = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    ranks = sorted(set(lo_rank.tolist()) | set(hi_rank.tolist()))
    order: dict[int, float] = {}

    if exact:
        if edges is None:
            edges = np.linspace(smin, smax, bins + 1) if smax > smin else np.array(
                [smin, smin + max(abs(smin), 1.0) * 1e-12]
            )
            need_hist = True
        else:
            need_hist = False
        todo = _locate(fine, 0.0, top, fine_scale, 0, ranks, []) if ranks else []
        # the extremes are known exactly
        for iv in todo:
            for r in list(iv.ranks):
                if r == 0 or r == total - 1:
                    order[r] = smin if r == 0 else smax
                    iv.ranks.remove(r)
        todo = [iv for iv in todo if iv.ranks]
        while todo or need_hist:
            for iv in todo:
                if iv.narrow:
                    for r in iv.ranks:
                        order[r] = iv.lo
            todo = [iv for iv in todo if not iv.narrow]
            if not todo and not need_hist:
                break
            refined = run.refine(todo, edges if need_hist else None)
            if need_hist:
                hist = refined.hist
            need_hist = False
            nxt = []
            for iv in refined.todo:
                if iv.collect:
                    vals = np.sort(np.concatenate(iv.values)) if iv.values else np.empty(0)
                    for r in iv.ranks:
                        order[r] = float(vals[r - iv.before])
                else:
                    nxt += iv.split()
            todo = nxt
        values = np.array([_lerp(order[a], order[b], p - a)
                           for a, b, p in zip(lo_rank, hi_rank, pos, strict=True)])
        error = 0.0
    else:
        # each needed order statistic lies in a known fine bin: take its midpoint
        width = top / FINE_BINS
        cum = np.concatenate([[0], np.cumsum(fine)])
        for r in ranks:
            b = min(int(np.searchsorted(cum, r, side="right")) - 1, FINE_BINS - 1)
            order[r] = min(max((b + 0.5) * width, smin), smax)
        order[0], order[total - 1] = smin, smax
        values = np.array([_lerp(order[a], order[b], p - a)
                           for a, b, p in zip(lo_rank, hi_rank, pos, strict=True)])
        error = width

    assert hist is not None and edges is not None
    return Summary(
        count=int(count),
        sigma_max=float(smax),
        sigma_min=float(smin),
        frobenius=math.sqrt(sq),
        histogram=hist,
        bin_edges=np.asarray(edges, dtype=np.float64),
        quantiles=q,
        quantile_values=values,
        exact=bool(exact),
        quantile_error=float(error),
        upper_bound=bound,
        passes=run.passes,
        seconds=time.perf_counter() - start,
        shape=layer.shape,
    )


class _Local:
    """The passes on this machine: every chunk in order, from a pool of threads."""

    def __init__(self, layer: Conv, threads: int, progress: bool) -> None:
        self.chunks, self.nchunks = _source(layer, threads)
        self.progress, self.passes = progress, 0

    def _sweep(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self.passes += 1
        if not self.progress:
            return self.chunks()
        from tqdm import tqdm

        return tqdm(self.chunks(), total=self.nchunks, desc=f"summarize pass {self.passes}",
                    unit="chunk", file=sys.stderr, leave=False)

    def tally(self, fine_scale: float, edges: np.ndarray | None) -> _Tally:
        tally = _Tally(fine_scale, edges)
        for d, s in self._sweep():
            tally.add(d, s)
        return tally

    def refine(self, todo: list[_Interval], edges: np.ndarray | None) -> _Refine:
        refine = _Refine(todo, edges)
        for d, s in self._sweep():
            refine.feed(d, s)
        return refine


#: Predicted seconds of work below which a cluster run makes one task per worker
#: thread; above, tasks of at least this much work, up to four per worker thread (so a
#: slow worker delays the end by a fraction of its share).
TASK_SECONDS = 0.5


class _Cluster:
    """The same passes on a dask cluster: each task a contiguous range of chunks,
    returning its :class:`_Tally` or :class:`_Refine`, merged here as they arrive."""

    def __init__(self, client: Any, layer: Conv, progress: bool) -> None:
        from .distributed import Cluster

        self.cluster = Cluster(client)
        self.layer = self.cluster.share(layer)  # once, to every worker
        nchunks = _chunk_count(layer)
        threads = self.cluster.threads
        work = estimate_seconds("fast", layer)
        want = max(threads, min(4 * threads, int(work / TASK_SECONDS)))
        cuts = np.linspace(0, nchunks, min(nchunks, want) + 1).round().astype(int)
        self.parts = [(int(a), int(b)) for a, b in itertools.pairwise(cuts)]
        self.progress, self.passes = progress, 0

    def _map(self, task: Callable[[Conv, tuple], Any], *args: Any) -> Iterator[tuple[int, Any]]:
        self.passes += 1
        jobs = [(a, b, *args) for a, b in self.parts]
        done = self.cluster.map(task, jobs, shared=self.layer,
                                name=f"summarize-pass{self.passes}")
        if not self.progress:
            return done
        from tqdm import tqdm

        return tqdm(done, total=len(jobs), desc=f"summarize pass {self.passes}",
                    unit="task", file=sys.stderr, leave=False)

    def tally(self, fine_scale: float, edges: np.ndarray | None) -> _Tally:
        merged: _Tally | None = None
        terms: list[list[float]] = [[] for _ in self.parts]
        for i, part in self._map(_tally_task, fine_scale, edges):
            terms[i] = part.terms
            if merged is None:
                merged = part
            else:
                merged.merge(part)
        assert merged is not None
        merged.replay(terms)
        return merged

    def refine(self, todo: list[_Interval], edges: np.ndarray | None) -> _Refine:
        merged: _Refine | None = None
        for _i, part in self._map(_refine_task, todo, edges):
            if merged is None:
                merged = part
            else:
                merged.merge(part)
        assert merged is not None
        return merged


def _part_chunks(layer: Conv, start: int, stop: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks ``start .. stop-1`` of a pass (in :func:`_source`'s order), on one thread."""
    plan = _plane_plan(layer)
    if plan is not None:
        for bounds in _row_count(plan)[start:stop]:
            yield _chunk(plan, *bounds)
        return
    poly = layer.polyphase()
    yield from iter_half_space(poly, 1, jobs=space_jobs(poly)[start:stop])


def _chunk_count(layer: Conv) -> int:
    plan = _plane_plan(layer)
    return len(_row_count(plan)) if plan is not None else len(space_jobs(layer.polyphase()))


@single_blas_thread()
def _tally_task(layer: Conv, job: tuple) -> _Tally:
    """Pass 1 over chunks ``start .. stop-1``: a task of :class:`_Cluster`."""
    start, stop, fine_scale, edges = job
    tally = _Tally(fine_scale, edges)
    for d, s in _part_chunks(layer, start, stop):
        tally.add(d, s)
    return tally


@single_blas_thread()
def _refine_task(layer: Conv, job: tuple) -> _Refine:
    """A later pass over chunks ``start .. stop-1``: a task of :class:`_Cluster`."""
    start, stop, todo, edges = job
    refine = _Refine(copy.deepcopy(todo), edges)  # never the caller's intervals
    for d, s in _part_chunks(layer, start, stop):
        refine.feed(d, s)
    return refine


def _plane_plan(layer: Conv) -> _Plan | None:
    """The compiled 2-D path's plan for the layers
    :func:`convbench.halfspace.layer_fast_values` sends there (plain; ungrouped 1-D or
    2-D with blocks wider than one column), else ``None``."""
    if layer.is_plain:
        n, m = layer.shape
        return _Plan(layer.weight, n, m)
    poly = layer.polyphase()
    if poly.groups == 1 and layer.d <= 2 and min(poly.block) > 1:
        kernel, grid = poly.kernel[0], poly.grid
        if layer.d == 1:
            kernel, grid = kernel[..., None], (*grid, 1)
        return _Plan(kernel, *grid)
    return None


def _source(
    layer: Conv, threads: int
) -> tuple[Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]], int]:
    """A fresh chunk iterator per pass over the spectrum, and the number of chunks."""
    plan = _plane_plan(layer)
    if plan is not None:
        return (lambda: iter_half_plane(plan, threads)), len(_row_count(plan))
    poly = layer.polyphase()
    return (lambda: iter_half_space(poly, threads)), len(space_jobs(poly))


def _row_count(plan: _Plan) -> list[tuple[int, int]]:
    from .fast import _CHUNK_ENTRIES, _row_chunks

    return _row_chunks(plan.n, plan.m, plan.r * plan.k, _CHUNK_ENTRIES)
