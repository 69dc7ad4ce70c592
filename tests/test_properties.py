"""Property-based shapes: every path agrees with the dense SVD of the unrolled matrix."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import convbench as cb


@st.composite
def layers(draw):
    n = draw(st.integers(1, 7))
    m = draw(st.integers(1, 7))
    kh = draw(st.integers(1, n))
    kw = draw(st.integers(1, m))
    cout = draw(st.integers(1, 3))
    cin = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    w = np.random.default_rng(seed).standard_normal((cout, cin, kh, kw))
    return w, (n, m)


@settings(max_examples=60, deadline=None)
@given(layers())
def test_all_paths_match_dense(layer):
    w, shape = layer
    cout, cin = w.shape[:2]
    ref = np.sort(np.linalg.svd(cb.unrolled(w, shape).toarray(), compute_uv=False))[::-1]
    assert ref.size == shape[0] * shape[1] * min(cout, cin)
    for method in ("lfa", "fft", "fftw", "explicit"):
        got = cb.singular_values(w, shape, method=method)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * max(ref[0], 1e-300))


@settings(max_examples=40, deadline=None)
@given(layers())
def test_zero_boundary_is_a_submatrix_pattern(layer):
    """Zero padding keeps exactly the periodic entries that do not wrap around."""
    w, shape = layer
    per = cb.unrolled(w, shape, boundary="periodic").toarray()
    zero = cb.unrolled(w, shape, boundary="zero").toarray()
    mask = zero != 0
    np.testing.assert_array_equal(zero[mask], per[mask])
    assert np.linalg.norm(zero) <= np.linalg.norm(per) + 1e-12
