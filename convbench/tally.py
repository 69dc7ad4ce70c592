"""The bookkeeping of :func:`convbench.summarize`: what one pass over the spectrum keeps.

- :class:`Tally` (pass 1): the extremes, the count, the Frobenius norm, a histogram of
  :data:`FINE_BINS` equal bins on ``[0, U]`` and the counts of the requested histogram;
- :class:`Interval` and :class:`Refine` (later passes): the values of the bins that hold
  the needed order statistics, or a finer histogram of :data:`SPLIT_BINS` bins where a
  bin holds more than :data:`COLLECT_CAP` values; :func:`locate` finds an order
  statistic in them.

Both merge (:meth:`Tally.merge`, :meth:`Refine.merge`), so the passes can run in parts
on a cluster (:mod:`convbench.passes`), and pickle small.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

__all__ = ["COLLECT_CAP", "FINE_BINS", "SPLIT_BINS", "Interval", "Refine", "Tally", "locate"]

#: Bins of the internal histogram that locates the quantiles.
FINE_BINS = 1 << 20
#: Largest number of values kept for one interval before it is split again.
COLLECT_CAP = 1 << 22
#: Bins of a refinement pass.
SPLIT_BINS = 1 << 12


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


class Interval:
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
        self.counts = None if self.collect else np.zeros(SPLIT_BINS, dtype=np.int64)
        self.scale = SPLIT_BINS / (hi - lo) if hi > lo else 0.0
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

    def split(self) -> list[Interval]:
        assert self.counts is not None
        return locate(self.counts, self.lo, self.hi, self.scale, self.before, self.ranks,
                       self.levels)


def locate(
    counts: np.ndarray, lo: float, hi: float, scale: float, before: int, ranks: list[int],
    levels: list[tuple[float, float, int, int]],
) -> list[Interval]:
    """Split ``ranks`` over the bins of ``counts`` (binned on ``lo, scale``)."""
    nb = counts.size
    edges = np.linspace(lo, hi, nb + 1)
    cum = before + np.concatenate([[0], np.cumsum(counts)])
    groups: dict[int, list[int]] = {}
    for r in ranks:
        b = min(int(np.searchsorted(cum, r, side="right")) - 1, nb - 1)
        groups.setdefault(b, []).append(r)
    return [
        Interval([*levels, (lo, scale, nb, b)], float(edges[b]), float(edges[b + 1]),
                  int(cum[b]), int(counts[b]), rs)
        for b, rs in groups.items()
    ]


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


class Tally:
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

    def merge(self, other: Tally) -> None:
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


class Refine:
    """A later pass over some chunks: the values (or the counts) of each interval
    still open, and the user histogram when pass 1 could not count it. Mergeable in
    any order (the collected values are sorted before use)."""

    def __init__(self, todo: list[Interval], edges: np.ndarray | None) -> None:
        self.todo, self.edges = todo, edges
        self.hist = None if edges is None else np.zeros(edges.size - 1, dtype=np.int64)

    def feed(self, d: np.ndarray, s: np.ndarray) -> None:
        for iv in self.todo:
            iv.feed(d, s)
        if self.hist is not None:
            self.hist += _histogram(d, s, self.edges)

    def merge(self, other: Refine) -> None:
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
