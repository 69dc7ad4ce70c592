"""The memory budget refuses clearly, before allocating, and the skip rule agrees with it."""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench import budget

W = cb.pytorch_default(64, 64, 3, seed=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1024", 1024),
        ("8G", 8 * 2**30),
        ("512M", 512 * 2**20),
        ("1.5GiB", int(1.5 * 2**30)),
        ("2 kb", 2048),
        (1e9, 10**9),
        (4096, 4096),
    ],
)
def test_parse_bytes(text, expected):
    assert budget.parse_bytes(text) == expected


@pytest.mark.parametrize("bad", ["", "8X", "G8", "-1G", "0"])
def test_parse_bytes_rejects(bad):
    with pytest.raises(ValueError, match="memory budget"):
        budget.parse_bytes(bad)


def test_budget_precedence(monkeypatch):
    monkeypatch.setenv(budget.ENV_VAR, "3G")
    assert budget.memory_budget() == 3 * 2**30
    assert budget.memory_budget("1G") == 2**30
    monkeypatch.setenv(budget.ENV_VAR, "nonsense")
    with pytest.raises(ValueError, match=budget.ENV_VAR):
        budget.memory_budget()
    monkeypatch.delenv(budget.ENV_VAR)
    default = budget.memory_budget()
    assert 0 < default <= budget.available_memory()


@pytest.mark.parametrize("method", ["lfa", "fft", "fftw", "explicit"])
def test_refuses_before_allocating(method, monkeypatch):
    # an allocation of this size would fail loudly; the budget check must come first
    monkeypatch.setenv(budget.ENV_VAR, "64M")
    with pytest.raises(cb.BudgetError) as info:
        cb.singular_values(W, 2**14, method=method)
    text = str(info.value)
    assert "needs about" in text
    assert "64.0 MiB" in text
    assert "smaller input size" in text
    assert budget.ENV_VAR in text


def test_explicit_message_points_to_top_k():
    w = cb.pytorch_default(4, 4, 3)
    with pytest.raises(cb.BudgetError, match="top_k"):
        cb.singular_values(w, 128, method="explicit", memory_budget="100M")


def test_argument_overrides_environment(monkeypatch):
    monkeypatch.setenv(budget.ENV_VAR, "1K")
    w = cb.pytorch_default(2, 2, 3)
    assert cb.singular_values(w, 8, memory_budget="1G").shape == (128,)
    with pytest.raises(cb.BudgetError):
        cb.singular_values(w, 8)


def test_estimates_grow_and_cover_the_symbol():
    small = budget.estimate(np.zeros((4, 4, 3, 3)), (64, 64), "lfa")
    big = budget.estimate(np.zeros((4, 4, 3, 3)), (128, 128), "lfa")
    assert big.nbytes > 3 * small.nbytes
    assert big.seconds > small.seconds
    # the symbol alone is n*m*cout*cin complex128 values
    assert small.nbytes >= 64 * 64 * 16 * 16
    dense = budget.estimate(np.zeros((4, 4, 3, 3)), (32, 32), "explicit")
    assert dense.nbytes >= 8 * (4 * 32 * 32) ** 2
    lanczos = budget.estimate(np.zeros((4, 4, 3, 3)), (32, 32), "explicit", top_k=1)
    assert lanczos.nbytes < dense.nbytes / 10


def test_feasibility_reasons():
    assert cb.feasibility(np.zeros((4, 4, 3, 3)), (64, 64), "lfa", memory_budget="1G") is None
    reason = cb.feasibility(np.zeros((64, 64, 3, 3)), (2**14, 2**14), "lfa", memory_budget="1G")
    assert reason is not None and "needs" in reason and "budget" in reason
    slow = cb.feasibility(np.zeros((16, 16, 3, 3)), (64, 64), "explicit", memory_budget="1T",
                          max_seconds=1)
    assert slow is not None and "predicted" in slow
    with pytest.raises(ValueError, match="method must be one of"):
        budget.estimate(np.zeros((1, 1, 3, 3)), (8, 8), "magic")


def test_format_bytes():
    assert budget.format_bytes(512) == "512 B"
    assert budget.format_bytes(3 * 2**30) == "3.0 GiB"
    assert np.isfinite(budget.available_memory())


@pytest.mark.parametrize(
    ("method", "c", "n"),
    [("lfa", 4, 128), ("fft", 4, 128), ("fftw", 4, 128), ("lfa", 1, 256), ("explicit", 2, 20)],
)
def test_estimate_bounds_the_traced_peak(method, c, n):
    """The estimate is an upper bound of what numpy actually allocates."""
    import tracemalloc

    w = cb.pytorch_default(c, c, 3, seed=0)
    # a first call fills the process's caches (FFTW plans and their aligned arrays),
    # which stay for later calls; the estimate is of one call's working memory
    cb.singular_values(w, n, method=method, threads=1)
    tracemalloc.start()
    try:
        cb.singular_values(w, n, method=method, threads=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    est = budget.estimate(np.zeros((c, c, 3, 3)), (n, n), method).nbytes
    assert peak <= est
    assert est < 3 * peak + 2**20  # and not absurdly loose
