"""The linear-time ordering of half-plane spectra against numpy's sort."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from convbench import choice_cache, ordering


def _samples(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "uniform":
        return rng.random(n)
    if kind == "one binade":
        return 1.0 + rng.random(n)
    if kind == "constant":
        return np.full(n, 0.75)
    if kind == "few values":
        return rng.integers(0, 5, n) / 3.0
    # many binades, exact zeros and a negative zero
    x = np.exp(rng.uniform(-700, 700, n))
    x[: n // 7] = 0.0
    if n:
        x[-1] = -0.0
    return x


KINDS = ["uniform", "one binade", "constant", "few values", "wide"]
SIZES = [0, 1, 2, 63, 64, 65, 1000, (1 << 16) + 3, 300_000]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", SIZES)
def test_radix_sort_equals_numpy_sort(n, kind):
    x = _samples(n, kind, np.random.default_rng(n))
    got = x.copy()
    ordering.radix_sort(got, np.empty(n))
    np.testing.assert_array_equal(got, np.sort(np.abs(x)))
    assert not np.signbit(got).any()  # -0.0 came out as +0.0


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
@pytest.mark.parametrize("kind", KINDS)
def test_parallel_sort_and_expand(threads, kind):
    rng = np.random.default_rng(threads)
    d = _samples(300_000, kind, rng)
    singles = np.concatenate([rng.choice(d, 5), rng.random(3)])  # ties with doubles too
    with ThreadPoolExecutor(threads) as pool:
        submit = pool.submit if threads > 1 else None
        got = d.copy()
        ordering.radix_sort(got, np.empty(d.size), threads, submit)
        np.testing.assert_array_equal(got, np.sort(np.abs(d)))
        out = np.full(2 * d.size + singles.size, np.nan)
        ordering.expand_descending(got, singles, out, threads, submit)
    np.testing.assert_array_equal(out, np.sort(np.concatenate([got, got, singles]))[::-1])


def test_expand_puts_ties_in_every_slot():
    d = np.array([0.0, 1.0, 1.0, 2.0])
    singles = np.array([1.0, 2.0, 0.0, 3.0])
    out = np.full(12, np.nan)
    ordering.expand_descending(d, singles, out, 1)
    np.testing.assert_array_equal(out, [3, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0])


def test_radix_sort_rejects_negative_values_and_bad_arrays():
    with pytest.raises(ValueError, match="negative"):
        ordering.radix_sort(np.array([1.0, -2.0, 3.0]), np.empty(3))
    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="1 negative"):
        big = np.random.default_rng(0).random(1 << 18)
        big[-5] = -1e-300
        ordering.radix_sort(big, np.empty(big.size), 2, pool.submit)
    with pytest.raises(ValueError, match="float64"):
        ordering.radix_sort(np.arange(4, dtype=np.float32), np.empty(4))
    with pytest.raises(ValueError, match="scratch"):
        ordering.radix_sort(np.ones(4), np.empty(3))


@pytest.mark.parametrize("method", ["radix", "numpy"])
def test_sort_by_either_method_matches_numpy(method, monkeypatch):
    monkeypatch.setenv(ordering.SORT_ENV, method)
    values = np.random.default_rng(5).random(5000) * 3.0
    values[::7] = values[3]  # ties
    want = np.sort(values)
    assert ordering.sort(values, np.empty_like(values), 2) == method
    np.testing.assert_array_equal(values, want)
    with pytest.raises(ValueError, match="negative"):
        ordering.sort(np.array([1.0, -2.0, 3.0]), np.empty(3))
    with pytest.raises(ValueError, match="float64"):
        ordering.sort(np.ones(4, dtype=np.float32), np.empty(4))


@pytest.mark.parametrize("kind", ["uniform", "one binade", "few values", "constant", "wide"])
@pytest.mark.parametrize(("threads", "size"), [(1, 1000), (2, 2 * 65536 - 1), (2, 196625)])
def test_numpy_sort_splits_and_sorts(kind, threads, size, monkeypatch):
    monkeypatch.setenv(ordering.SORT_ENV, "numpy")
    rng = np.random.default_rng(11)
    values = _samples(size, kind, rng)
    want = np.sort(values)
    with ThreadPoolExecutor(threads) as pool:
        assert ordering.sort(values, np.empty_like(values), threads, pool.submit) == "numpy"
    np.testing.assert_array_equal(values, want)
    assert not np.signbit(values).any()  # -0.0 comes back as +0.0 on every path
    with pytest.raises(ValueError, match="negative"), ThreadPoolExecutor(2) as pool:
        bad = np.abs(rng.random(3 * ordering._MIN_PART))
        bad[-5] = -1.0
        ordering.sort(bad, np.empty_like(bad), 2, pool.submit)


def test_sort_method_auto_measures_once_and_only_for_large_sorts(monkeypatch):
    monkeypatch.delenv(ordering.SORT_ENV, raising=False)
    calls = []

    def measured():
        calls.append(1)
        return True

    monkeypatch.setattr(ordering, "_numpy_sort_is_faster", measured)
    assert ordering.sort_method(ordering._AUTO_MIN - 1) == "radix"
    assert calls == []
    assert ordering.sort_method(ordering._AUTO_MIN) == "numpy"
    assert calls == [1]


@pytest.fixture
def sort_cache(tmp_path, monkeypatch):
    """An empty cache folder for the sort choice; the per-process memo cleared around."""
    monkeypatch.setenv(ordering.CACHE_DIR_ENV, str(tmp_path))
    ordering._numpy_sort_is_faster.cache_clear()
    yield tmp_path / ordering._CHOICE_FILE
    ordering._numpy_sort_is_faster.cache_clear()


def _count_measurements(monkeypatch, numpy_s=1.0, radix_s=2.0):
    calls = []

    def measured():
        calls.append(1)
        return numpy_s, radix_s

    monkeypatch.setattr(ordering, "_measure_sorts", measured)
    return calls


def test_sort_measurement_runs_once_per_process(monkeypatch, sort_cache):
    runs = []
    radix = ordering.radix_sort

    def counted(*args, **kwargs):
        runs.append(1)
        return radix(*args, **kwargs)

    monkeypatch.setattr(ordering, "radix_sort", counted)
    decision = ordering._numpy_sort_is_faster()
    assert isinstance(decision, bool)
    assert len(runs) == 4  # one untimed warm-up and three timed radix sorts
    ordering._numpy_sort_is_faster()
    assert len(runs) == 4  # the second call measures nothing
    assert ordering.cache_dir() == sort_cache.parent


def test_sort_choice_is_stored_once_per_machine(monkeypatch, sort_cache):
    calls = _count_measurements(monkeypatch, numpy_s=1.0, radix_s=2.0)
    assert ordering._numpy_sort_is_faster()
    stored = json.loads(sort_cache.read_text())["record"]
    assert stored["choice"] == "numpy" and stored["key"] == choice_cache.machine_key()
    assert (stored["numpy_s"], stored["radix_s"]) == (1.0, 2.0)
    ordering._numpy_sort_is_faster.cache_clear()  # as a fresh process: the file is read
    assert ordering._numpy_sort_is_faster()
    assert calls == [1]


@pytest.mark.parametrize("content", ["{not json", "[]", '{"format": 1, "record": 3}',
                                     '{"format": 1, "record": {"choice": "numpy"}}', ""])
def test_a_corrupt_sort_choice_is_measured_again_and_rewritten(monkeypatch, sort_cache,
                                                                content):
    sort_cache.write_text(content)
    calls = _count_measurements(monkeypatch, numpy_s=2.0, radix_s=1.0)
    assert not ordering._numpy_sort_is_faster()
    assert calls == [1]
    assert json.loads(sort_cache.read_text())["record"]["choice"] == "radix"


def test_a_sort_choice_of_another_machine_is_measured_again(monkeypatch, sort_cache):
    calls = _count_measurements(monkeypatch, numpy_s=1.0, radix_s=2.0)
    ordering._numpy_sort_is_faster()
    record = json.loads(sort_cache.read_text())["record"]
    for field, other in (("numpy", "0.0.1"), ("cpu", "another CPU"), ("simd", "")):
        key = {**record["key"], field: other}
        sort_cache.write_text(json.dumps({"format": 1, "record": {**record, "key": key,
                                                                   "choice": "radix"}}))
        ordering._numpy_sort_is_faster.cache_clear()
        assert ordering._numpy_sort_is_faster()  # measured (numpy), not the stored radix
    assert len(calls) == 4
    assert json.loads(sort_cache.read_text())["record"]["key"] == choice_cache.machine_key()


def test_an_unwritable_cache_still_decides(monkeypatch, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv(ordering.CACHE_DIR_ENV, str(blocker / "below"))
    ordering._numpy_sort_is_faster.cache_clear()
    calls = _count_measurements(monkeypatch)
    try:
        assert ordering._numpy_sort_is_faster()
        assert calls == [1]
    finally:
        ordering._numpy_sort_is_faster.cache_clear()


def test_the_environment_choice_needs_no_cache(monkeypatch, sort_cache):
    calls = _count_measurements(monkeypatch)
    for method in ("radix", "numpy"):
        monkeypatch.setenv(ordering.SORT_ENV, method)
        assert ordering.sort_method(ordering._AUTO_MIN) == method
    assert calls == [] and not sort_cache.exists()


def test_sort_env_is_validated(monkeypatch):
    monkeypatch.setenv(ordering.SORT_ENV, "quick")
    with pytest.raises(ValueError, match="CONVBENCH_SORT"):
        ordering.sort_method(10)


def test_fast_path_is_the_same_with_either_sort(monkeypatch):
    import convbench as cb

    # n = 600: 180,600 kept values, enough for the two-thread split of either sort
    w = cb.pytorch_default(1, 1, 3, seed=4)
    got = {}
    for method in ("radix", "numpy"):
        monkeypatch.setenv(ordering.SORT_ENV, method)
        got[method] = cb.singular_values(w, 600, method="fast", threads=2)
    np.testing.assert_array_equal(got["radix"], got["numpy"])
    exact = cb.singular_values(w, 600, method="lfa")
    assert np.max(np.abs(got["numpy"] - exact)) <= 1e-12 * exact[0]


@pytest.mark.parametrize("singles", [0, 1, 7])
def test_small_expansion_by_numpy_matches_the_compiled_one(monkeypatch, singles):
    rng = np.random.default_rng(5)
    d_asc = np.sort(np.round(rng.random(500), 2))  # ties between doubles and singles
    s = np.round(rng.random(singles), 2)
    got = {}
    for below in (ordering._NUMPY_BELOW, 0):
        monkeypatch.setattr(ordering, "_NUMPY_BELOW", below)
        out = np.full(2 * d_asc.size + singles, np.nan)
        ordering.expand_descending(d_asc, s, out, 1)
        got[below] = out
    np.testing.assert_array_equal(got[0], got[ordering._NUMPY_BELOW])
    np.testing.assert_array_equal(got[0], np.sort(np.concatenate([d_asc, d_asc, s]))[::-1])


def test_small_sorts_are_decided_without_a_measurement(monkeypatch, sort_cache):
    monkeypatch.delenv(ordering.SORT_ENV, raising=False)
    calls = _count_measurements(monkeypatch)
    assert ordering.sort_method(ordering._NUMPY_BELOW - 1) == "numpy"
    assert ordering.sort_method(ordering._NUMPY_BELOW) == "radix"
    assert calls == [] and not sort_cache.exists()
