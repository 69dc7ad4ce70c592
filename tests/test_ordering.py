"""The linear-time ordering of half-plane spectra against numpy's sort."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from convbench import ordering


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
