"""Singular vectors against dense SVDs of PyTorch-built operators, every layer kind.

The reference matrix is PyTorch's functional convolution applied to the identity
(``test_layers.reference_matrix``); it shares no code with the library.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_layers import CASES, _id, _periodic_ok, reference_matrix, weights

import convbench as cb

FOURIER = ("lfa", "fft", "fftw", "fast")
PERIODIC = [case for case in CASES if _periodic_ok(case[1], case[2])]


def check_triplets(matrix: np.ndarray, trip: cb.Triplets, rtol: float = 1e-10) -> None:
    """``A v = s u`` and ``A^T u = s v`` for every triplet, both sides orthonormal."""
    k = len(trip)
    left = trip.left.reshape(k, -1).T
    right = trip.right.reshape(k, -1).T
    assert left.shape[0] == matrix.shape[0] and right.shape[0] == matrix.shape[1]
    scale = max(np.linalg.norm(matrix, 2), 1.0)
    assert np.abs(matrix @ right - left * trip.values).max() <= rtol * scale
    assert np.abs(matrix.T @ left - right * trip.values).max() <= rtol * scale
    assert np.allclose(left.T @ left, np.eye(k), atol=1e-10)
    assert np.allclose(right.T @ right, np.eye(k), atol=1e-10)


def subspace_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Largest principal-angle sine between the column spaces of ``a`` and ``b``."""
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    return float(np.linalg.norm(qb - qa @ (qa.T @ qb), 2))


@pytest.mark.parametrize("case", PERIODIC, ids=_id)
def test_every_periodic_triplet_of_every_layer_kind(case):
    wshape, shape, opts = case
    w = weights(wshape, 11)
    matrix = reference_matrix(w, shape, boundary="periodic", **opts)
    trip = cb.singular_triplets(w, shape, boundary="periodic", **opts)
    assert len(trip) == min(matrix.shape)
    reference = np.linalg.svd(matrix, compute_uv=False)
    assert np.allclose(trip.values, reference, atol=1e-10 * reference[0])
    check_triplets(matrix, trip)
    assert trip.right.shape[1:] == (trip.layer.cin, *shape)
    assert trip.left.shape[1:] == (trip.layer.cout, *trip.layer.out_shape)


@pytest.mark.parametrize("method", FOURIER)
def test_top_k_and_threshold_on_every_method(method):
    w = weights((3, 2, 3, 3), 3)
    matrix = reference_matrix(w, (6, 8), boundary="periodic", stride=2)
    reference = np.linalg.svd(matrix, compute_uv=False)
    trip = cb.singular_triplets(w, (6, 8), method, top_k=5, stride=2)
    assert np.allclose(trip.values, reference[:5], atol=1e-12 * reference[0])
    check_triplets(matrix, trip)
    cut = (reference[7] + reference[8]) / 2  # between two distinct values
    assert reference[8] < cut < reference[7]
    above = cb.singular_triplets(w, (6, 8), method, threshold=cut, stride=2)
    assert len(above) == 8
    check_triplets(matrix, above)


def test_repeated_values_span_the_reference_subspace():
    """A depthwise layer of equal channels repeats every value: compare subspaces."""
    one = weights((1, 1, 3, 3), 5)
    w = np.concatenate([one] * 3)  # three equal channels: every value three times
    matrix = reference_matrix(w, (8, 8), boundary="periodic", groups=3)
    u, s, vt = np.linalg.svd(matrix)
    top = int(np.sum(s >= s[0] * (1 - 1e-9)))
    assert top >= 3  # copies of the top value (and the conjugate partner's)
    trip = cb.singular_triplets(w, (8, 8), top_k=top, groups=3)
    check_triplets(matrix, trip)
    right = trip.right.reshape(top, -1).T
    assert subspace_gap(vt[:top].T, right) < 1e-8
    left = trip.left.reshape(top, -1).T
    assert subspace_gap(u[:, :top], left) < 1e-8


def test_block_factors_rebuild_the_symbol():
    w = weights((4, 2, 3, 3), 7)
    f = cb.block_factors(w, (8, 6), stride=(2, 1))
    blocks = cb.symbol(w, (8, 6), stride=(2, 1))
    assert f.u.shape == (4, 6, 1, 4, 4) and f.vh.shape == (4, 6, 1, 4, 4)
    rebuilt = (f.u * f.s[..., None, :]) @ f.vh
    assert np.allclose(rebuilt[..., 0, :, :], blocks, atol=1e-13)
    values = np.sort(f.s, axis=None)[::-1]
    assert np.allclose(values, cb.singular_values(w, (8, 6), stride=(2, 1)), atol=1e-13)


def test_zero_padding_top_k_triplets_from_block_lanczos():
    w = weights((3, 2, 3, 3), 13)
    matrix = reference_matrix(w, (9, 9), stride=2, boundary="zero")
    trip = cb.singular_triplets(w, (9, 9), top_k=3, stride=2, boundary="zero")
    reference = np.linalg.svd(matrix, compute_uv=False)
    assert np.allclose(trip.values, reference[:3], atol=1e-9 * reference[0])
    assert trip.bounds is not None and np.all(trip.bounds <= 1e-9 * reference[0])
    check_triplets(matrix, trip)


def test_zero_padding_triplets_on_the_iterative_path():
    """Large enough that block Lanczos iterates (not the small-space dense SVD)."""
    w = weights((4, 4, 3, 3), 2)
    matrix = reference_matrix(w, (16, 16), boundary="zero")
    trip = cb.singular_triplets(w, (16, 16), top_k=2, boundary="zero")
    reference = np.linalg.svd(matrix, compute_uv=False)
    assert np.allclose(trip.values, reference[:2], atol=1e-9 * reference[0])
    check_triplets(matrix, trip)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"boundary": "zero"}, ValueError, "need top_k"),
        ({"boundary": "zero", "top_k": 2, "method": "lfa"}, ValueError, "block Lanczos"),
        ({"top_k": 2, "threshold": 1.0}, ValueError, "not both"),
        ({"threshold": float("nan")}, ValueError, "finite"),
        ({"threshold": "1"}, TypeError, "number"),
        ({"method": "explicit"}, ValueError, "methods"),
        ({"top_k": 0}, ValueError, "top_k"),
    ],
)
def test_bad_requests_are_refused(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cb.singular_triplets(weights((2, 2, 3, 3), 0), (6, 6), **kwargs)


def test_memory_refusal_before_allocation():
    w = np.zeros((64, 64, 3, 3))
    with pytest.raises(cb.BudgetError, match="top_k"):
        cb.singular_triplets(w, (1024, 1024), memory_budget="1G")
    with pytest.raises(cb.BudgetError, match="block factors"):
        cb.block_factors(w, (1024, 1024), memory_budget="1G")
    # the top vectors alone fit where every vector does not
    small = cb.singular_triplets(np.ones((2, 2, 3, 3)), (64, 64), top_k=1, memory_budget="64M")
    assert len(small) == 1
    with pytest.raises(cb.BudgetError):
        cb.singular_triplets(np.ones((2, 2, 3, 3)), (64, 64), memory_budget="1M")


# ---------------------------------------------------------------------------------------
# clip: the projection that uses the vectors


CLIP_CASES = [
    ((4, 4, 3, 3), (8, 8), {}),
    ((6, 3, 3, 3), (8, 8), {"stride": 2}),
    ((4, 1, 3, 3), (6, 6), {"groups": 4}),
    ((3, 2, 3, 3), (4, 4), {"transposed": True, "stride": 2}),
    ((3, 2, 5), (12,), {"dilation": 2}),
    ((2, 2, 3, 3, 3), (4, 4, 4), {}),
]


@pytest.mark.parametrize("schedule", ["adaptive", "alternating"])
@pytest.mark.parametrize("case", CLIP_CASES, ids=_id)
def test_clip_reaches_the_bound_and_keeps_the_support(case, schedule):
    wshape, shape, opts = case
    w = weights(wshape, 17)
    before = np.linalg.norm(reference_matrix(w, shape, boundary="periodic", **opts), 2)
    report = cb.clip(w, shape, 1.0, schedule=schedule, rounds=400, **opts)
    after = np.linalg.norm(reference_matrix(report.weight, shape, boundary="periodic", **opts), 2)
    assert before > 1.5
    assert report.reached and report.iterations >= 1
    assert after <= 1.0 * (1 + report.tol) + 1e-12
    assert report.sigma_before == pytest.approx(before, rel=1e-12)
    assert report.sigma_after == pytest.approx(after, rel=1e-12)
    assert report.weight.shape == w.shape
    assert report.distance == pytest.approx(np.linalg.norm(report.weight - w), rel=1e-12)
    assert report.relative_distance == pytest.approx(report.distance / np.linalg.norm(w))
    assert "reached" in str(report)


def test_clip_bound_holds_on_the_tori_that_divide_its_size():
    """The frequencies of an 8 x 8 torus are among those of 16 x 16: a kernel clipped
    at 16 is bounded at 8 too (a larger torus is not covered, see the docs)."""
    w = cb.he_normal(4, 4, 3, seed=0)
    report = cb.clip(w, (16, 16), max_sigma=1.0, tol=1e-3)
    assert report.reached
    for n in (16, 8, 4):
        top = cb.singular_values(report.weight, (n, n))[0]
        assert top <= 1.0 * (1 + 1e-3) + 1e-12


def test_clip_never_raises_sigma_max():
    w = weights((4, 4, 3, 3), 1)
    sigma = cb.singular_values(w, (8, 8))[0]
    # already below the bound: the layer comes back unchanged, with no round
    report = cb.clip(w, (8, 8), 2 * sigma)
    assert report.iterations == 0 and report.distance == 0.0 and report.reached
    np.testing.assert_array_equal(report.weight, w)
    # one round only, far from the bound: the best iterate is no worse than the input
    report = cb.clip(w, (8, 8), sigma / 50, rounds=1, schedule="alternating")
    assert report.iterations == 1 and not report.reached
    assert report.sigma_after <= report.sigma_before
    # rescaled: the bound holds exactly
    scaled = cb.clip(w, (8, 8), sigma / 50, rounds=1, rescale=True, schedule="alternating")
    assert scaled.reached and scaled.sigma_after <= sigma / 50 * (1 + 1e-12)
    matrix = reference_matrix(scaled.weight, (8, 8), boundary="periodic")
    assert np.linalg.norm(matrix, 2) == pytest.approx(scaled.sigma_after, rel=1e-12)


def test_adaptive_clip_moves_little_more_than_the_alternating_projection():
    """The adaptive schedule's result is near the bound, not far below it."""
    w = weights((4, 4, 3, 3), 3)
    fast = cb.clip(w, (8, 8), 1.0)
    slow = cb.clip(w, (8, 8), 1.0, schedule="alternating", rounds=1000)
    assert fast.reached and slow.reached
    assert fast.iterations < slow.iterations
    assert 1.0 <= fast.sigma_after <= 1.0 + fast.tol
    assert fast.distance <= 1.1 * slow.distance


def test_clip_keeps_the_layout_and_a_layers_settings():
    w = weights((4, 4, 3, 3), 2)
    hwio = np.ascontiguousarray(w.transpose(2, 3, 1, 0))
    a = cb.clip(w, (8, 8), 1.0)
    b = cb.clip(hwio, (8, 8), 1.0, layout="hwio")
    np.testing.assert_allclose(b.weight, a.weight.transpose(2, 3, 1, 0), atol=1e-14)
    layer = cb.as_layer(w, (8, 8), stride=2)
    report = cb.clip(layer, max_sigma=1.0)
    assert report.layer.stride == (2, 2) and report.layer.shape == (8, 8)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"max_sigma": 0.0}, ValueError, "positive"),
        ({"max_sigma": float("inf")}, ValueError, "finite"),
        ({"max_sigma": "1"}, TypeError, "number"),
        ({"rounds": 0}, ValueError, "rounds"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"rescale": 1}, TypeError, "rescale"),
        ({"schedule": "fast"}, ValueError, "schedule"),
        ({"boundary": "zero"}, ValueError, "periodic"),
    ],
)
def test_clip_refuses_bad_requests(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cb.clip(weights((2, 2, 3, 3), 0), (6, 6), **kwargs)


def test_clip_refuses_what_cannot_fit():
    with pytest.raises(cb.BudgetError, match="clip"):
        cb.clip(np.ones((64, 64, 3, 3)), (1024, 1024), 1.0, memory_budget="1G")
