"""The SVD step: singular values of a batch of symbol blocks."""

from __future__ import annotations

import numpy as np

__all__ = ["block_singular_values", "sort_descending"]


def block_singular_values(blocks: np.ndarray, sort: bool = True) -> np.ndarray:
    """Singular values of every ``cout x cin`` block of a ``(..., cout, cin)`` array.

    This is the paper's SVD step: one call to numpy's batched LAPACK SVD with
    ``compute_uv=False``, whatever the memory layout of ``blocks``.

    Parameters
    ----------
    blocks : numpy.ndarray
        Array of shape ``(..., cout, cin)``, e.g. a symbol ``(n, m, cout, cin)``.
    sort : bool
        Return the values flattened and sorted descending (default) or with the
        batch shape ``(..., min(cout, cin))`` as LAPACK returns them.

    Returns
    -------
    numpy.ndarray
        float64 singular values.
    """
    if blocks.ndim < 2:
        raise ValueError(f"blocks must have at least 2 dimensions; got {blocks.ndim}")
    values = np.linalg.svd(blocks, compute_uv=False)
    return sort_descending(values) if sort else values


def sort_descending(values: np.ndarray) -> np.ndarray:
    """Flatten and sort descending; returns a new C-contiguous float64 array."""
    return np.sort(np.asarray(values, dtype=np.float64), axis=None)[::-1].copy()
