"""The fast path's half-space route (groups, 3-D) with each of its factorizers, in both
precisions and on any number of threads, against dense matrices built by PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench.fast import halfspace

pytest.importorskip("torch")
from test_layers import reference_values

CASES = [
    # (weight shape, input shape, layer options): blocks of 1 x 1 (moduli), 3 x 1 (norms),
    # 4 x 4 and 3 x 24 (compiled Gram kernel; Jacobi in single precision) and 36 x 36
    # (LAPACK Gram; SVD in single precision), on odd and even grids
    ((6, 1, 5, 5), (7, 6), {"groups": 6}),
    ((6, 1, 3), (9,), {"groups": 2, "dilation": 2}),
    ((8, 4, 3, 3), (6, 5), {"groups": 2}),
    ((6, 3, 3, 3, 3), (4, 4, 4), {"groups": 2, "stride": 2}),
    ((72, 36, 3, 3), (4, 3), {"groups": 2}),
]


@pytest.mark.parametrize(("wshape", "shape", "opts"), CASES)
def test_half_space_route_matches_pytorch(wshape, shape, opts, monkeypatch):
    monkeypatch.setattr(halfspace, "_CHUNK_ENTRIES", 64)  # many chunks for the threads
    w = np.random.default_rng(sum(wshape)).uniform(-1, 1, wshape)
    exact = reference_values(w, shape, boundary="periodic", **opts)
    got = cb.singular_values(w, shape, method="fast", threads=1, **opts)
    assert got.shape == exact.shape and got.dtype == np.float64
    assert np.all(np.diff(got) <= 0)
    assert np.max(np.abs(got - exact)) <= 1e-12 * exact[0]
    np.testing.assert_array_equal(
        cb.singular_values(w, shape, method="fast", threads=3, **opts), got
    )
    single = cb.singular_values(w, shape, method="fast", threads=2, precision="single", **opts)
    assert single.dtype == np.float32 and np.all(np.diff(single) <= 0)
    assert np.max(np.abs(single - exact)) <= 1e-5 * exact[0]
