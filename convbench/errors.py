"""Error measures between two spectra (e.g. periodic vs zero padding, model vs exact)."""

from __future__ import annotations

import numpy as np

__all__ = ["ERROR_MEASURES", "spectrum_errors"]

#: Names of the measures returned by :func:`spectrum_errors`.
ERROR_MEASURES = ("mean_abs", "rms", "max_abs", "rel_sigma_max", "rel_frobenius")


def spectrum_errors(approx: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """Compare an approximate spectrum with an exact one of the same length.

    Both are sorted descending first, so the i-th largest values are compared. For
    equal lengths the Wasserstein-p distance between the two empirical distributions
    is the p-mean of these sorted differences, so ``mean_abs``, ``rms`` and ``max_abs``
    are the W1, W2 and W-infinity distances. Everything is relative to the exact
    ``sigma_max``, except ``rel_frobenius``.

    Parameters
    ----------
    approx, exact : numpy.ndarray
        1-D arrays of singular values of equal length.

    Returns
    -------
    dict
        ``mean_abs``: mean of ``|approx_i - exact_i|`` over ``sigma_max`` (W1);
        ``rms``: root mean square of the differences over ``sigma_max`` (W2);
        ``max_abs``: largest difference over ``sigma_max`` (W-infinity);
        ``rel_sigma_max``: signed ``(approx_max - exact_max) / exact_max``;
        ``rel_frobenius``: signed relative error of the Frobenius norm
        ``sqrt(sum sigma_i^2)``.
    """
    a = np.sort(np.asarray(approx, dtype=np.float64).ravel())[::-1]
    e = np.sort(np.asarray(exact, dtype=np.float64).ravel())[::-1]
    if a.shape != e.shape:
        raise ValueError(f"spectra must have equal length; got {a.size} and {e.size}")
    if a.size == 0:
        raise ValueError("spectra must not be empty")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))):
        raise ValueError("spectra must be finite")
    scale = e[0]
    if scale <= 0:
        raise ValueError("the exact spectrum is identically zero; relative errors undefined")
    diff = np.abs(a - e)
    fro_a, fro_e = np.linalg.norm(a), np.linalg.norm(e)
    return {
        "mean_abs": float(diff.mean() / scale),
        "rms": float(np.sqrt(np.mean(diff**2)) / scale),
        "max_abs": float(diff.max() / scale),
        "rel_sigma_max": float((a[0] - e[0]) / scale),
        "rel_frobenius": float((fro_a - fro_e) / fro_e),
    }
