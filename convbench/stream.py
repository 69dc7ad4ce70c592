"""``summarize``: statistics of spectra too large to hold, streamed over the frequency space.

The fast path's chunks are produced one after another and folded into running
statistics, so the memory in use does not depend on how many singular values there
are: a few chunks in flight, a fixed histogram of :data:`FINE_BINS` counts and the
values collected near each requested quantile (at most :data:`COLLECT_CAP` per
quantile). Every periodic layer streams: the plain layer and the ungrouped 1-D and 2-D
ones go through the compiled 2-D path's row chunks of the half frequency plane
(:func:`convbench.fast.iter_half_plane`, on the layer's polyphase kernel, as
:func:`convbench.fast.halfspace.layer_fast_values` does); grouped and 3-D layers through
the half-space chunks of :func:`convbench.fast.halfspace.iter_half_space`. Both give each
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

import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import registry
from .blas import check_threads, single_blas_thread
from .layer import Conv, takes_layer
from .passes import Cluster, Local
from .tally import COLLECT_CAP, FINE_BINS, locate

__all__ = ["COLLECT_CAP", "FINE_BINS", "Summary", "summarize", "upper_bound"]

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
        progress = registry.get("fast").estimate(layer).seconds > 10
    run = Local(layer, threads, progress) if client is None else Cluster(client, layer, progress)

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
        todo = locate(fine, 0.0, top, fine_scale, 0, ranks, []) if ranks else []
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
