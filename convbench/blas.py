"""One BLAS thread inside the library's own thread pools.

The ``fast`` path and :func:`convbench.summarize` run their own pool of ``threads``
workers, each calling LAPACK on small blocks. If BLAS also starts its threads in every
worker, the cores are oversubscribed: on a 2-core machine the ``fast`` path took 1.13 s
instead of 0.30 s for a 64-channel 1-D layer at n = 4096 with OpenBLAS left at its
default of 2 threads. :func:`single_blas_thread` limits BLAS to one thread for the
duration of such a call and restores the previous limit afterwards. The library's
controller is created once per process (it inspects the loaded libraries).
"""

from __future__ import annotations

import contextlib
import numbers
import os
from collections.abc import Iterator
from typing import Any

__all__ = ["blas_threads", "check_threads", "default_threads", "single_blas_thread"]


def default_threads() -> int:
    """Number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_threads(threads: Any) -> int:
    """Validate ``threads`` (``None``: all cores) and return a positive int.

    Every entry point that takes ``threads`` refuses a bad value through this function,
    with the same message.
    """
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
    return int(threads)

_CONTROLLER = None


def _controller():  # pragma: no cover - trivial
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """Limit BLAS to ``count`` threads inside the block, restoring the limit after.

    A caller's ``threads`` is the total it may use: code that calls LAPACK or GEMMs
    directly, outside a pool of its own, holds BLAS to that count, so a BLAS left at
    its default (every core) does not start more threads than asked. OpenBLAS's
    threads wait for work by spinning, which costs little on an idle machine and a
    great deal beside other busy processes (see the threads guide).
    """
    with _controller().limit(limits=max(1, int(count)), user_api="blas"):
        yield


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread inside the block (the pool supplies the parallelism)."""
    with blas_threads(1):
        yield
