"""The block Lanczos top values: every copy of a repeated value, and honest certificates.

The references share no code with the library: the layer's matrix is PyTorch's
``conv2d`` applied to the identity's columns (:func:`test_layers.reference_matrix`),
its singular values one dense LAPACK SVD.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
from test_layers import reference_matrix

import convbench as cb
from convbench import costs, explicit, extremes, krylov, operators

RTOL = 1e-9  # every value within RTOL * sigma_max of the dense reference

# (name, weight, input shape, layer options, multiplicity of the top value)
_rng = np.random.default_rng(11)
_one = _rng.standard_normal((1, 1, 3, 3))
_pair = _rng.standard_normal((2, 2, 3, 3))
REPEATS = [
    # dilation d divides the padded grid n + d (k - 1): d independent sub-lattices
    ("dilation-2x1", _rng.standard_normal((3, 3, 3, 3)), (10, 9), {"dilation": (2, 1)}, 2),
    ("dilation-3x1", _rng.standard_normal((2, 2, 3, 3)), (9, 8), {"dilation": (3, 1)}, 3),
    ("dilation-2x2", _rng.standard_normal((3, 3, 3, 3)), (10, 10), {"dilation": 2}, 4),
    # depthwise with equal channels: three copies of one operator
    ("depthwise-3", np.repeat(_one, 3, axis=0), (12, 11), {"groups": 3}, 3),
    # channels repeated in blocks: two groups with the same 2x2 weights
    ("blocks-2", np.concatenate([_pair, _pair]), (10, 10), {"groups": 2}, 2),
]


def _dense(w, shape, **opts):
    return np.linalg.svd(reference_matrix(w, shape, boundary="zero", **opts), compute_uv=False)


def _multiplicity(values, tol=1e-12):
    return int(np.sum(values >= values[0] * (1 - tol)))


@pytest.mark.parametrize("case", REPEATS, ids=[c[0] for c in REPEATS])
@pytest.mark.parametrize("route", ["sparse", "matrix-free"])
def test_every_copy_of_a_repeated_top_value(case, route, monkeypatch):
    _name, w, shape, opts, copies = case
    exact = _dense(w, shape, **opts)
    assert _multiplicity(exact) == copies
    assert exact[copies] < exact[0] * (1 - 1e-6)  # the next value is another one
    if route == "matrix-free":
        monkeypatch.setattr(costs, "MATRIX_FREE_NNZ", 1)
    for k in (copies - 1, copies, copies + 1):  # below, at and above the multiplicity
        if k < 1:
            continue
        got = cb.singular_values(w, shape, method="explicit", boundary="zero", top_k=k, **opts)
        assert got.shape == (k,)
        np.testing.assert_allclose(got, exact[:k], rtol=0, atol=RTOL * exact[0])
        assert _multiplicity(got, 2 * RTOL) == min(k, copies)


def test_the_reported_dilated_layer():
    """The layer of the report: ARPACK returned a second value below the first."""
    w = np.random.default_rng(0).standard_normal((4, 4, 3, 3))
    exact = _dense(w, (12, 12), dilation=2)
    assert _multiplicity(exact) == 4
    for k in (2, 4, 5):
        got = cb.singular_values(
            w, (12, 12), method="explicit", boundary="zero", top_k=k, dilation=2
        )
        np.testing.assert_allclose(got, exact[:k], rtol=0, atol=RTOL * exact[0])


def test_a_cluster_split_by_1e_7_is_resolved():
    """Three depthwise channels scaled by 1, 1 + 1e-7 and 1 + 2e-7: three top values
    1e-7 apart (relative), not a repeat, each within RTOL of its own exact value."""
    w = np.concatenate([_one * (1 + 1e-7 * c) for c in range(3)])
    exact = _dense(w, (12, 11), groups=3)
    gaps = -np.diff(exact[:3]) / exact[0]
    assert np.all((gaps > 0.5e-7) & (gaps < 2e-7))
    op = operators.conv_operator(w, (12, 11), boundary="zero", groups=3)
    for k in (2, 3, 4):
        top = krylov.block_top_values(op, k, rtol=RTOL)
        assert np.all(top.certified)
        np.testing.assert_allclose(top.values, exact[:k], rtol=0, atol=RTOL * exact[0])
        got = extremes.top_singular_values(w, (12, 11), k, boundary="zero", groups=3)
        np.testing.assert_allclose(got, exact[:k], rtol=0, atol=RTOL * exact[0])


@pytest.mark.parametrize("case", REPEATS[2:4], ids=[c[0] for c in REPEATS[2:4]])
def test_bounds_are_honest(case):
    """Each returned bound covers the distance to the dense value of the same rank."""
    _name, w, shape, opts, copies = case
    exact = _dense(w, shape, **opts)
    op = operators.conv_operator(w, shape, boundary="zero", **opts)
    for rtol in (1e-6, 1e-9, 1e-12):
        top = krylov.block_top_values(op, copies + 1, rtol=rtol)
        assert np.all(top.certified)
        assert np.all(top.bounds <= rtol * top.values[0])
        err = np.abs(top.values - exact[: copies + 1])
        assert np.all(err <= top.bounds + 4 * np.finfo(float).eps * exact[0])


def test_uncertified_values_always_warn():
    """Stopped early at any maxiter, the result either warns, naming the values left
    uncertified, or is within rtol: never an unmarked uncertified value."""
    _name, w, shape, opts, copies = REPEATS[2]
    exact = _dense(w, shape, **opts)
    op = operators.conv_operator(w, shape, boundary="zero", **opts)
    warned = quiet = 0
    for maxiter in (1, 2, 3, 5, 8, 13, 21, 34, 55):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = krylov.certified_top_values(op, copies + 1, rtol=RTOL, maxiter=maxiter)
        if any(issubclass(c.category, cb.ConvergenceWarning) for c in caught):
            warned += 1
            assert any("#" in str(c.message) for c in caught)
        else:
            quiet += 1
            np.testing.assert_allclose(got, exact[: copies + 1], rtol=0, atol=RTOL * exact[0])
    assert warned and quiet
    with pytest.warns(cb.ConvergenceWarning, match=r"maxiter=2 block steps.*#1 = "):
        extremes.top_singular_values(w, shape, 3, boundary="zero", maxiter=2, **opts)
    top = krylov.block_top_values(op, 3, rtol=RTOL, maxiter=2)
    assert not np.all(top.certified)
    assert np.all(top.bounds[~top.certified] > RTOL * top.values[0])


def test_sparse_matrix_and_linear_operator_agree():
    _name, w, shape, opts, copies = REPEATS[0]
    exact = _dense(w, shape, **opts)
    a = cb.unrolled(w, shape, boundary="zero", **opts)
    for op in (a, scipy.sparse.linalg.aslinearoperator(a), a.T.tocsr()):
        got = explicit.sparse_top_k(op, copies + 2)
        np.testing.assert_allclose(got, exact[: copies + 2], rtol=0, atol=RTOL * exact[0])


def test_top_k_at_the_size_goes_dense_or_is_refused():
    a = scipy.sparse.random(30, 20, density=0.3, random_state=1, format="csr")
    exact = np.linalg.svd(a.toarray(), compute_uv=False)
    np.testing.assert_allclose(explicit.sparse_top_k(a, 20), exact, rtol=1e-12)
    with pytest.raises(ValueError, match="smaller than min"):
        explicit.sparse_top_k(scipy.sparse.linalg.aslinearoperator(a), 20)
    with pytest.raises(ValueError, match="k must be between"):
        krylov.block_top_values(a, 0)


def test_small_spaces_and_zero_operators():
    a = scipy.sparse.random(40, 12, density=0.5, random_state=2, format="csr")
    exact = np.linalg.svd(a.toarray(), compute_uv=False)
    top = krylov.block_top_values(a, 3)  # the basis would cover the space: dense
    assert np.all(top.certified)
    np.testing.assert_allclose(top.values, exact[:3], rtol=1e-13)
    zero = scipy.sparse.csr_matrix((400, 300))
    top = krylov.block_top_values(zero, 2)
    assert np.all(top.values == 0) and np.all(top.certified)


def test_rank_deficient_values_are_certified_on_a_itself():
    """Exact zeros among the top k: A^T A alone cannot certify them below sqrt(eps);
    the check on A does."""
    rng = np.random.default_rng(4)
    left, right = rng.standard_normal((300, 3)), rng.standard_normal((3, 200))
    a = scipy.sparse.csr_matrix(left @ right)  # rank 3
    exact = np.linalg.svd(a.toarray(), compute_uv=False)
    top = krylov.block_top_values(a, 5, rtol=1e-12)
    assert np.all(top.certified)
    np.testing.assert_allclose(top.values, exact[:5], rtol=0, atol=1e-12 * exact[0])


@pytest.mark.parametrize("case", REPEATS, ids=[c[0] for c in REPEATS])
def test_top_one_is_the_largest_value(case):
    """top_k=1: one Golub-Kahan vector on the matrix-free operator, no copy to miss."""
    _name, w, shape, opts, _copies = case
    exact = _dense(w, shape, **opts)
    got = cb.singular_values(w, shape, method="explicit", boundary="zero", top_k=1, **opts)
    np.testing.assert_allclose(got, exact[:1], rtol=1e-12)


def test_top_one_warns_when_it_stops_short():
    w = np.random.default_rng(3).standard_normal((4, 4, 3, 3))
    layer = cb.as_layer(w, (16, 16), boundary="zero")
    with pytest.warns(krylov.ConvergenceWarning, match="maxiter=12"):
        extremes.layer_top_values(layer, 1, rtol=1e-12, maxiter=12)
