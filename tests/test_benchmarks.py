"""Smoke runs of the asv suite: every benchmark's setup and methods at the smallest sizes.

The grid is shrunk through the suite's own environment variables before the suite is
imported. Each class runs every value of its non-size parameters (path, layout,
threads, boundary, ...) at the smallest ``n`` and channel count; a cell the skip rule
rules out counts as a pytest skip, but every class must run at least one cell.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

os.environ.update(
    {
        "CONVBENCH_BENCH_N": "32",
        "CONVBENCH_BENCH_CHANNELS": "1,2",
        "CONVBENCH_BENCH_BOUNDARY_N": "4,8",
        "CONVBENCH_BENCH_NETWORK_INPUT": "32",
        "CONVBENCH_BENCH_NETWORK_WIDTH": "32",
        "CONVBENCH_BENCH_WIDE_CHANNELS": "8",
        "CONVBENCH_BENCH_WIDE_N": "7",
        "CONVBENCH_BENCH_LOAD_SIZES": "16,32,32",
    }
)

from benchmarks import common, plan

CLASSES = plan.benchmark_classes()
SIZE_PARAMS = ("n", "channels", "points")


def smallest_cells(cls: type) -> list[tuple]:
    """Every combination of the non-size parameters at the smallest n and channels."""
    names, _ = plan.param_grid(cls)
    params = getattr(cls, "params", [])
    if not names:
        return [()]
    if not isinstance(params[0], (list, tuple)):
        params = [params]
    choices = [
        [min(v)] if name in SIZE_PARAMS else list(v)
        for name, v in zip(names, params, strict=True)
    ]
    return list(itertools.product(*choices))


def run_cell(cls: type, params: tuple, cache: object) -> None:
    inst = cls()
    args = (cache, *params) if hasattr(cls, "setup_cache") else params
    if hasattr(inst, "setup"):
        try:
            inst.setup(*args)
        except NotImplementedError:
            # asv runs teardown after a skipped setup too: it must not fail there
            if hasattr(inst, "teardown"):
                inst.teardown(*args)
            raise
    try:
        for method in plan.methods(cls):
            result = getattr(inst, method)(*args)
            if method.startswith("track_"):
                assert isinstance(result, (int, float)), f"{method} returned {result!r}"
    finally:
        if hasattr(inst, "teardown"):
            inst.teardown(*args)


def test_the_suite_is_discovered():
    names = {name for name, _ in CLASSES}
    for expected in (
        "transform.TimeTransform",
        "svd_layout.TimeBatchedSVD",
        "end_to_end.TimeSingularValues",
        "explicit.TimeTopK",
        "memory.PeakMemSingularValues",
        "accuracy.TrackDeviation",
    ):
        assert expected in names
    assert set(common.PATHS) >= {"lfa", "fft", "fftw", "explicit"}


@pytest.mark.parametrize(("qualname", "cls"), CLASSES, ids=[name for name, _ in CLASSES])
def test_benchmark_runs_at_the_smallest_parameters(qualname, cls, monkeypatch):
    if qualname == "end_to_end.TimeSingularValuesLarge":
        # it takes only the cells the regular benchmark skips: make that every cell
        monkeypatch.setattr(common, "MAX_SECONDS", 0.0)
    cache = cls().setup_cache() if hasattr(cls, "setup_cache") else None
    ran, skipped = 0, []
    for params in smallest_cells(cls):
        try:
            run_cell(cls, params, cache)
        except NotImplementedError as exc:  # asv's skip: the reason must say why
            assert str(exc), f"{qualname}{params} skipped without a reason"
            skipped.append(f"{params}: {exc}")
            continue
        ran += 1
    assert ran > 0, f"{qualname}: every smallest cell skipped: {skipped}"
    if skipped:
        pytest.skip(f"{qualname}: {len(skipped)} cell(s) skipped, e.g. {skipped[0]}")


@pytest.mark.parametrize("sort", ["numpy", "radix"])
def test_ordering_benchmark_sorts_what_it_times(sort):
    from benchmarks.ordering import TimeOrdering

    bench = TimeOrdering()
    bench.setup(sort, "1", 32)
    try:
        before = np.sort(bench.values)
        bench.time_sort(sort, "1", 32)
        assert bench.values.size == 32 * 17
        np.testing.assert_array_equal(bench.values, before)
    finally:
        bench.teardown(sort, "1", 32)


def test_fast_stages_time_the_fast_path():
    import convbench as cb
    from benchmarks.svd_layout import TimeBatchedSVD
    from benchmarks.transform import TimeTransform

    c, n = 2, 32
    want = cb.singular_values(common.weights(c), n, method="fast", threads=1)
    transform = TimeTransform()
    transform.setup("fast", n, c)
    try:
        blocks = transform.plan(transform.w)
        assert sum(int(weight.sum()) for _, weight in blocks.chunks) == n * n
    finally:
        transform.teardown("fast", n, c)
    svd = TimeBatchedSVD()
    svd.setup("fast", n, c)
    try:
        np.testing.assert_array_equal(svd.values_of(svd.blocks), want)
    finally:
        svd.teardown("fast", n, c)


def test_sort_choice_is_what_the_library_picks(monkeypatch):
    from benchmarks.ordering import TrackSortChoice
    from convbench import ordering

    for method, flag in (("numpy", 1), ("radix", 0)):
        monkeypatch.setenv(ordering.SORT_ENV, method)
        assert TrackSortChoice().track_numpy_sort() == flag
