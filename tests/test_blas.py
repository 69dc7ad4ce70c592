"""The fast path's pool runs BLAS on one thread per worker, and restores the limit."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import convbench as cb
from convbench.fast import halfspace


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.parametrize("call", ["fast", "summarize"])
def test_one_blas_thread_inside_and_the_limit_restored(monkeypatch, call):
    if not _blas_threads():  # pragma: no cover - numpy always loads a BLAS
        pytest.fail("no BLAS library found by threadpoolctl")
    seen = []
    original = halfspace.fast_singular_values

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(halfspace, "fast_singular_values", spy)
    w = cb.pytorch_default(4, 4, 3, seed=0)
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        if call == "fast":
            cb.singular_values(w, 8, stride=2, method="fast", threads=2)
            assert seen and all(n == 1 for n in seen[0])
        else:
            seen.append(_inside_summarize(monkeypatch, w))
            assert all(n == 1 for n in seen[0])
        assert _blas_threads() == before


def _inside_summarize(monkeypatch, w: np.ndarray) -> list[int]:
    from convbench import stream

    inside: list[int] = []
    original = stream.upper_bound

    def spy(*args, **kwargs):
        inside.extend(_blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(stream, "upper_bound", spy)
    cb.summarize(w, 8, threads=2, progress=False)
    assert inside, "summarize did not reach its bound"
    return inside
