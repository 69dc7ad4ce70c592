"""Where the passes of :func:`convbench.summarize` run: this machine or a dask cluster.

- :class:`Local`: every chunk of the spectrum in order, from a pool of threads, with a
  progress bar per pass;
- :class:`Cluster`: the same passes on a dask cluster (:mod:`convbench.distributed`), each
  task a contiguous range of chunks (:func:`tally_task`, :func:`refine_task`) whose
  :class:`~convbench.tally.Tally` or :class:`~convbench.tally.Refine` is merged here.

:func:`source` gives the chunks: the compiled 2-D path's row chunks of the half plane for
the plain layer and the ungrouped 1-D and 2-D ones, else the half-space chunks.
"""

from __future__ import annotations

import copy
import itertools
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import registry
from .blas import single_blas_thread
from .fast.driver import CHUNK_ENTRIES, chunk_values, iter_half_plane
from .fast.halfspace import iter_half_space, space_jobs
from .fast.plane import Plan, row_chunks
from .layer import Conv
from .tally import Interval, Refine, Tally

__all__ = ["TASK_SECONDS", "Cluster", "Local", "chunk_count", "refine_task", "source",
           "tally_task"]


class Local:
    """The passes on this machine: every chunk in order, from a pool of threads."""

    def __init__(self, layer: Conv, threads: int, progress: bool) -> None:
        self.chunks, self.nchunks = source(layer, threads)
        self.progress, self.passes = progress, 0

    def _sweep(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self.passes += 1
        if not self.progress:
            return self.chunks()
        from tqdm import tqdm

        return tqdm(self.chunks(), total=self.nchunks, desc=f"summarize pass {self.passes}",
                    unit="chunk", file=sys.stderr, leave=False)

    def tally(self, fine_scale: float, edges: np.ndarray | None) -> Tally:
        tally = Tally(fine_scale, edges)
        for d, s in self._sweep():
            tally.add(d, s)
        return tally

    def refine(self, todo: list[Interval], edges: np.ndarray | None) -> Refine:
        refine = Refine(todo, edges)
        for d, s in self._sweep():
            refine.feed(d, s)
        return refine


#: Predicted seconds of work below which a cluster run makes one task per worker
#: thread; above, tasks of at least this much work, up to four per worker thread (so a
#: slow worker delays the end by a fraction of its share).
TASK_SECONDS = 0.5


class Cluster:
    """The same passes on a dask cluster: each task a contiguous range of chunks,
    returning its :class:`Tally` or :class:`Refine`, merged here as they arrive."""

    def __init__(self, client: Any, layer: Conv, progress: bool) -> None:
        from .distributed import Cluster

        self.cluster = Cluster(client)
        self.layer = self.cluster.share(layer)  # once, to every worker
        nchunks = chunk_count(layer)
        threads = self.cluster.threads
        work = registry.get("fast").estimate(layer).seconds
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

    def tally(self, fine_scale: float, edges: np.ndarray | None) -> Tally:
        merged: Tally | None = None
        terms: list[list[float]] = [[] for _ in self.parts]
        for i, part in self._map(tally_task, fine_scale, edges):
            terms[i] = part.terms
            if merged is None:
                merged = part
            else:
                merged.merge(part)
        assert merged is not None
        merged.replay(terms)
        return merged

    def refine(self, todo: list[Interval], edges: np.ndarray | None) -> Refine:
        merged: Refine | None = None
        for _i, part in self._map(refine_task, todo, edges):
            if merged is None:
                merged = part
            else:
                merged.merge(part)
        assert merged is not None
        return merged


def _part_chunks(layer: Conv, start: int, stop: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks ``start .. stop-1`` of a pass (in :func:`source`'s order), on one thread."""
    plan = _plane_plan(layer)
    if plan is not None:
        for bounds in _row_count(plan)[start:stop]:
            yield chunk_values(plan, *bounds)
        return
    poly = layer.polyphase()
    yield from iter_half_space(poly, 1, jobs=space_jobs(poly)[start:stop])


def chunk_count(layer: Conv) -> int:
    plan = _plane_plan(layer)
    return len(_row_count(plan)) if plan is not None else len(space_jobs(layer.polyphase()))


@single_blas_thread()
def tally_task(layer: Conv, job: tuple) -> Tally:
    """Pass 1 over chunks ``start .. stop-1``: a task of :class:`Cluster`."""
    start, stop, fine_scale, edges = job
    tally = Tally(fine_scale, edges)
    for d, s in _part_chunks(layer, start, stop):
        tally.add(d, s)
    return tally


@single_blas_thread()
def refine_task(layer: Conv, job: tuple) -> Refine:
    """A later pass over chunks ``start .. stop-1``: a task of :class:`Cluster`."""
    start, stop, todo, edges = job
    refine = Refine(copy.deepcopy(todo), edges)  # never the caller's intervals
    for d, s in _part_chunks(layer, start, stop):
        refine.feed(d, s)
    return refine


def _plane_plan(layer: Conv) -> Plan | None:
    """The compiled 2-D path's plan for the layers
    :func:`convbench.fast.halfspace.layer_fast_values` sends there (plain; ungrouped 1-D or
    2-D with blocks wider than one column), else ``None``."""
    if layer.is_plain:
        n, m = layer.shape
        return Plan(layer.weight, n, m)
    poly = layer.polyphase()
    if poly.groups == 1 and layer.d <= 2 and min(poly.block) > 1:
        kernel, grid = poly.kernel[0], poly.grid
        if layer.d == 1:
            kernel, grid = kernel[..., None], (*grid, 1)
        return Plan(kernel, *grid)
    return None


def source(
    layer: Conv, threads: int
) -> tuple[Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]], int]:
    """A fresh chunk iterator per pass over the spectrum, and the number of chunks."""
    plan = _plane_plan(layer)
    if plan is not None:
        return (lambda: iter_half_plane(plan, threads)), len(_row_count(plan))
    poly = layer.polyphase()
    return (lambda: iter_half_space(poly, threads)), len(space_jobs(poly))


def _row_count(plan: Plan) -> list[tuple[int, int]]:
    return row_chunks(plan.n, plan.m, plan.r * plan.k, CHUNK_ENTRIES)
