"""More than one machine: the library's work as tasks on a dask.distributed cluster.

This is the only module that imports dask, and only when a client is used (dask is
the optional extra ``convbench[distributed]``). The library keeps no scheduler of its
own: the caller's :class:`dask.distributed.Client` places the tasks, reruns those of a
worker that died, and moves the data.

What travels, and why it stays small
------------------------------------
:func:`convbench.summarize` sends the validated layer to every worker once
(:meth:`Cluster.share`: ``client.scatter(..., broadcast=True)``), then one task per
range of frequency-plane chunks per pass. A pass-1 task returns its tally: extremes,
count, its terms of the sum of squares (two floats a chunk) and the fine histogram's
nonzero span in the narrowest unsigned integer type that holds it; a later pass
returns the values that fall in the few bins holding the requested order statistics.
The spectrum itself never travels. :func:`convbench.model_spectra` and
:func:`convbench.sweep` send each layer's weight with its task, once, and get its
record back.

Faults
------
A task is a pure function of its arguments, so when a worker dies dask reruns the
tasks it held elsewhere and the result does not change. A task that fails for a
reason in its input (a :class:`convbench.BudgetError`, a ``ValueError``) fails the
call with that exception, its type and message unchanged and without the remote
traceback (:meth:`Cluster.map`).

Worker processes
----------------
dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_`` set, which freezes
glibc's mmap threshold at 128 KiB: every chunk's arrays (a few MiB) then become fresh
mmaps, page-faulted anew each time, and ``summarize`` ran 1.8x slower (n = 1024, 4
channels, one thread: 3.2 s against 1.8 s). Before its first task, a worker process
of such a cluster raises the threshold to 32 MiB (glibc's own dynamic ceiling, what a
process without the variable reaches by itself), unless ``MALLOC_MMAP_THRESHOLD_`` is
set (:func:`_heap_for_chunks`). The trim threshold is left as dask set it.
"""

from __future__ import annotations

import ctypes
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["Cluster", "connect"]

#: Seconds :func:`connect` waits for the scheduler.
CONNECT_TIMEOUT = 10
#: glibc's mmap threshold in worker processes whose nanny froze it (see above).
MMAP_THRESHOLD = 32 << 20
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
_TUNED = False


def _heap_for_chunks() -> None:
    """Once per process: raise glibc's frozen mmap threshold (module docstring)."""
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    if (not sys.platform.startswith("linux") or "MALLOC_TRIM_THRESHOLD_" not in os.environ
            or "MALLOC_MMAP_THRESHOLD_" in os.environ):
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):  # pragma: no cover - another C library
        pass


def _run(task: Callable[[Any, Any], Any], shared: Any, job: Any) -> Any:
    """What a worker runs: ``task(shared, job)``, in a tuned process."""
    _heap_for_chunks()
    return task(shared, job)


def connect(address: str, *, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A :class:`dask.distributed.Client` of the scheduler at ``address``.

    Raises
    ------
    ImportError
        dask.distributed is not installed.
    OSError
        No scheduler answered at ``address`` within ``timeout`` seconds.
    """
    if not isinstance(address, str) or not address:
        raise TypeError(f"scheduler address must be a non-empty string; got {address!r}")
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "a scheduler address needs dask.distributed: pip install 'convbench[distributed]'"
        ) from exc
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise OSError(f"no dask scheduler at {address!r}: {exc}") from None


class Cluster:
    """The caller's client, as the library uses it: share data, map tasks.

    Parameters
    ----------
    client : dask.distributed.Client
        A connected client.
    """

    def __init__(self, client: Any) -> None:
        try:
            from dask.distributed import Client
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "client needs dask.distributed: pip install 'convbench[distributed]'"
            ) from exc
        if not isinstance(client, Client):
            raise TypeError(f"client must be a dask.distributed.Client; got {client!r}")
        self.client = client

    @property
    def threads(self) -> int:
        """Worker threads of the cluster now (at least 1, so that work can be split
        before the first worker arrives)."""
        return max(1, sum(self.client.nthreads().values()))

    def share(self, obj: Any) -> Any:
        """Send ``obj`` to every worker once; the future to pass to :meth:`map`."""
        return self.client.scatter([obj], broadcast=True, hash=False)[0]

    def map(
        self,
        task: Callable[[Any, Any], Any],
        jobs: Sequence[Any],
        *,
        shared: Any = None,
        name: str = "task",
    ) -> Iterator[tuple[int, Any]]:
        """Run ``task(shared, job)`` for every job; yield ``(index, result)`` as each
        finishes.

        Task keys are ``convbench-{name}-{token}-{index}``. When tasks fail, the
        exception of the first failing job in ``jobs`` order (the one a run in order
        meets) is raised here as itself, same type and message, the remote traceback
        dropped; the jobs after it are cancelled.
        """
        import dask

        token = uuid.uuid4().hex[:12]
        # a layer's weight travels inside its task, once; that is the design, not the
        # accident the large-graph warning is about
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "4GiB"}):
            futures = [
                self.client.submit(_run, task, shared, job,
                                   key=f"convbench-{name}-{token}-{i}", pure=False)
                for i, job in enumerate(jobs)
            ]
        index = {f.key: i for i, f in enumerate(futures)}
        return self._results(futures, index)

    @staticmethod
    def _results(futures: list[Any], index: dict[Any, int]) -> Iterator[tuple[int, Any]]:
        from dask.distributed import as_completed

        failed: tuple[int, BaseException] | None = None
        try:
            for future in as_completed(futures):
                i = index[future.key]
                if future.status == "error" and (failed is None or i < failed[0]):
                    # the error a run in order would meet first: later jobs are dropped,
                    # earlier ones finished, in case one of them fails too
                    failed = (i, future.exception())
                    for later in futures[i + 1 :]:
                        later.cancel()
                elif future.status == "finished" and failed is None:
                    result = future.result()
                    future.release()
                    yield i, result
            if failed is not None:
                raise failed[1].with_traceback(None) from None
        finally:
            for future in futures:
                if not future.done():
                    future.cancel()
