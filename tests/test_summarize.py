"""summarize against the full spectrum: exact statistics, error bounds, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench import stream, tally

Q = np.array([0.0, 0.001, 0.1, 0.25, 0.5, 0.5, 0.77, 0.9, 0.999, 1.0])


def full_spectrum(w, shape):
    """The same values summarize streams (the fast path), held whole."""
    return cb.singular_values(w, shape, method="fast")


@pytest.mark.parametrize(
    ("cout", "cin", "k", "shape"),
    [(1, 1, 3, (64, 48)), (2, 3, 2, (21, 20)), (4, 4, 3, (32, 32)), (12, 9, 3, (9, 10))],
)
def test_exact_summary_matches_numpy_on_the_full_spectrum(cout, cin, k, shape):
    w = cb.pytorch_default(cout, cin, k, seed=cout + cin)
    ref = full_spectrum(w, shape)
    got = cb.summarize(w, shape, quantiles=Q, bins=17, progress=False)
    assert got.exact and got.quantile_error == 0.0
    assert got.count == ref.size
    assert got.sigma_max == ref[0] and got.sigma_min == ref[-1]
    np.testing.assert_allclose(got.frobenius, np.sqrt(np.sum(ref**2)), rtol=1e-12)
    np.testing.assert_array_equal(got.quantile_values, np.quantile(ref, Q))
    counts, edges = np.histogram(ref, bins=17, range=(ref[-1], ref[0]))
    np.testing.assert_array_equal(got.bin_edges, edges)
    np.testing.assert_array_equal(got.histogram, counts)
    assert got.histogram.sum() == ref.size
    assert got.upper_bound >= ref[0]
    assert got.quantile(0.77) == np.quantile(ref, 0.77)
    lfa = cb.singular_values(w, shape, method="lfa")
    assert abs(got.sigma_min - lfa[-1]) <= 1e-12 * lfa[0]


def test_refinement_passes_with_small_bins_and_cap(monkeypatch):
    """Force the split-again branch: few fine bins and a tiny collection cap."""
    for module in (stream, tally):  # summarize reads FINE_BINS, its tallies all three
        monkeypatch.setattr(module, "FINE_BINS", 8)
    monkeypatch.setattr(tally, "COLLECT_CAP", 50)
    monkeypatch.setattr(tally, "SPLIT_BINS", 4)
    w = cb.pytorch_default(3, 3, 3, seed=2)
    ref = full_spectrum(w, 24)
    got = cb.summarize(w, 24, quantiles=Q, progress=False)
    assert got.passes > 2
    np.testing.assert_array_equal(got.quantile_values, np.quantile(ref, Q))


def test_constant_spectrum_terminates():
    """Identity-like layer: all singular values equal; intervals shrink to 4 ulp."""
    w = np.zeros((2, 2, 1, 1))
    w[:, :, 0, 0] = np.eye(2)
    got = cb.summarize(w, 16, quantiles=[0.3, 0.5], progress=False)
    np.testing.assert_allclose(got.quantile_values, 1.0, rtol=1e-15)
    assert got.histogram.sum() == 2 * 256


def test_one_pass_quantiles_within_the_stated_bound():
    w = cb.pytorch_default(4, 4, 3, seed=3)
    ref = full_spectrum(w, 40)
    got = cb.summarize(w, 40, quantiles=Q, exact=False, bins=10, progress=False)
    assert got.passes == 1 and not got.exact
    assert got.quantile_error > 0
    assert np.max(np.abs(got.quantile_values - np.quantile(ref, Q))) <= got.quantile_error
    counts, _ = np.histogram(ref, bins=10, range=(0, got.upper_bound))
    np.testing.assert_array_equal(got.histogram, counts)


def test_given_edges_and_range():
    w = cb.pytorch_default(2, 2, 3, seed=4)
    ref = full_spectrum(w, 20)
    edges = np.array([0.0, 0.1, 0.5, 0.7, 3.0])
    got = cb.summarize(w, 20, bins=edges, quantiles=[], progress=False)
    assert got.passes == 1
    np.testing.assert_array_equal(got.histogram, np.histogram(ref, edges)[0])
    got = cb.summarize(w, 20, bins=5, hist_range=(0.2, 0.6), progress=False)
    np.testing.assert_array_equal(got.histogram, np.histogram(ref, 5, range=(0.2, 0.6))[0])


def test_progress_bar_goes_to_stderr(capsys):
    w = cb.pytorch_default(2, 2, 3, seed=4)
    cb.summarize(w, 64, progress=True, threads=1)
    captured = capsys.readouterr()
    assert "summarize" in captured.err and captured.out == ""
    cb.summarize(w, 64, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"quantiles": [0.5, 1.5]}, ValueError, "quantiles"),
        ({"quantiles": [[0.5]]}, ValueError, "quantiles"),
        ({"quantiles": ["a"]}, TypeError, "quantiles"),
        ({"bins": 0}, ValueError, "bins"),
        ({"bins": [1.0, 0.5]}, ValueError, "edges"),
        ({"bins": "many"}, TypeError, "bins"),
        ({"hist_range": (1.0, 0.0)}, ValueError, "hist_range"),
        ({"hist_range": 3}, TypeError, "hist_range"),
        ({"bins": [0.0, 1.0], "hist_range": (0.0, 1.0)}, ValueError, "not both"),
        ({"exact": "yes"}, TypeError, "exact"),
        ({"progress": 1}, TypeError, "progress"),
        ({"threads": 0}, ValueError, "threads"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        cb.summarize(np.ones((1, 1, 3, 3)), 8, **kwargs)


def test_bad_weight_and_shape():
    with pytest.raises(ValueError, match="weight"):
        cb.summarize(np.ones((3, 3)), 8)
    with pytest.raises(ValueError, match="larger than the input"):
        cb.summarize(np.ones((1, 1, 5, 5)), 4)
    with pytest.raises(TypeError, match="shape"):
        cb.summarize(np.ones((1, 1, 3, 3)), 8.0)


def test_upper_bound_bounds_sigma_max():
    for seed in range(5):
        w = cb.he_normal(3, 5, 3, seed=seed)
        assert stream.upper_bound(w) >= full_spectrum(w, 12)[0]


def test_interpolated_quantiles_round_as_numpy_does():
    """numpy.quantile interpolates from the upper neighbour when the fraction is >= 1/2;
    a + t*(b - a) differs from it in the last bit for one of these 201 quantiles."""
    q = np.linspace(0, 1, 201)
    w = cb.pytorch_default(2, 3, 3, seed=3)
    ref = full_spectrum(w, 10)
    got = cb.summarize(w, 10, quantiles=q, progress=False)
    np.testing.assert_array_equal(got.quantile_values, np.quantile(ref, q))
