import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from convbench.errors import ERROR_MEASURES, spectrum_errors


def test_measures_against_definitions():
    rng = np.random.default_rng(0)
    exact = rng.uniform(0, 2, 50)
    approx = exact + rng.normal(0, 0.1, 50)
    got = spectrum_errors(approx, exact)
    assert tuple(got) == ERROR_MEASURES
    smax = exact.max()
    np.testing.assert_allclose(got["mean_abs"], wasserstein_distance(approx, exact) / smax)
    diff = np.sort(approx) - np.sort(exact)
    np.testing.assert_allclose(got["rms"], np.sqrt(np.mean(diff**2)) / smax)
    np.testing.assert_allclose(got["max_abs"], np.abs(diff).max() / smax)
    np.testing.assert_allclose(got["rel_sigma_max"], (approx.max() - smax) / smax)
    np.testing.assert_allclose(
        got["rel_frobenius"], np.linalg.norm(approx) / np.linalg.norm(exact) - 1
    )


def test_identical_spectra_have_zero_error_in_any_order():
    e = np.array([3.0, 1.0, 2.0])
    assert all(v == 0 for v in spectrum_errors(e[::-1], e).values())


@pytest.mark.parametrize(
    ("approx", "exact", "match"),
    [
        (np.ones(3), np.ones(4), "equal length"),
        (np.ones(0), np.ones(0), "empty"),
        (np.array([np.nan]), np.ones(1), "finite"),
        (np.ones(2), np.zeros(2), "identically zero"),
    ],
)
def test_bad_input(approx, exact, match):
    with pytest.raises(ValueError, match=match):
        spectrum_errors(approx, exact)
