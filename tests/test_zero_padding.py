"""Zero padding: matrix-free operators, extreme singular values, the norm bound, models.

Everything is checked against dense SVDs of the explicitly built matrix at small sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench import boundary as zp
from convbench import costs, extremes, operators

CASES = [
    # (cout, cin, kh, kw, n, m)
    (1, 1, 3, 3, 7, 7),
    (3, 2, 2, 2, 6, 5),
    (2, 4, 3, 3, 6, 7),
    (3, 3, 5, 5, 7, 6),
    (2, 3, 1, 3, 5, 6),
    (4, 4, 4, 3, 6, 6),
]
BOUNDARIES = ("zero", "periodic")


def layer(cout, cin, kh, kw, seed=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((cout, cin, kh, kw)) / np.sqrt(cin * kh * kw)


def dense_values(w, n, m, boundary):
    a = cb.unrolled(w, (n, m), boundary=boundary).toarray()
    return np.linalg.svd(a, compute_uv=False)


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_matrix_free_operator_equals_the_unrolled_matrix(case, boundary):
    cout, cin, kh, kw, n, m = case
    w = layer(cout, cin, kh, kw)
    a = cb.unrolled(w, (n, m), boundary=boundary)
    op = operators.conv_operator(w, (n, m), boundary=boundary)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.shape[1], 3))
    y = rng.standard_normal((a.shape[0], 3))
    np.testing.assert_allclose(op.matvec(x[:, 0]), a @ x[:, 0], atol=1e-13)
    np.testing.assert_allclose(op.rmatvec(y[:, 0]), a.T @ y[:, 0], atol=1e-13)
    np.testing.assert_allclose(op.matmat(x), a @ x, atol=1e-13)
    np.testing.assert_allclose(op.H.matmat(y), a.T @ y, atol=1e-13)


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_top_singular_values_match_dense(case, boundary):
    cout, cin, kh, kw, n, m = case
    w = layer(cout, cin, kh, kw)
    exact = dense_values(w, n, m, boundary)
    for k in (1, 3):
        got = extremes.top_singular_values(w, (n, m), k, boundary=boundary)
        assert got.shape == (k,)
        np.testing.assert_allclose(got, exact[:k], rtol=1e-8, atol=1e-10 * exact[0])


def test_explicit_top_k_goes_matrix_free_above_the_threshold(monkeypatch):
    w = layer(3, 3, 3, 3)
    exact = dense_values(w, 9, 8, "zero")
    sparse = cb.singular_values(w, (9, 8), method="explicit", boundary="zero", top_k=2)
    called = []
    real = extremes.layer_top_values

    def spy(*args, **kwargs):
        called.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(costs, "MATRIX_FREE_NNZ", 10)
    monkeypatch.setattr(extremes, "layer_top_values", spy)
    free = cb.singular_values(w, (9, 8), method="explicit", boundary="zero", top_k=2)
    assert called, "the matrix-free route was not taken"
    np.testing.assert_allclose(free, exact[:2], rtol=1e-8)
    np.testing.assert_allclose(sparse, exact[:2], rtol=1e-8)


@pytest.mark.parametrize("force_shift_invert", [False, True])
@pytest.mark.parametrize(("cout", "cin"), [(2, 2), (3, 2), (2, 3)])
def test_smallest_singular_values_match_dense(cout, cin, force_shift_invert, monkeypatch):
    if force_shift_invert:
        monkeypatch.setattr(extremes, "DENSE_SMALLEST_LIMIT", 0)
    w = layer(cout, cin, 3, 3, seed=5)
    exact = np.sort(dense_values(w, 6, 7, "zero"))[: min(cout, cin) * 42]
    got = cb.smallest_singular_values(w, (6, 7), k=3, boundary="zero")
    assert got.shape == (3,)
    assert np.all(np.diff(got) >= 0), "smallest values come ascending"
    np.testing.assert_allclose(got, exact[:3], rtol=1e-7)


def test_smallest_singular_values_refuse_large_operators():
    w = layer(4, 4, 3, 3)
    with pytest.raises(ValueError, match="shift-invert limit"):
        cb.smallest_singular_values(w, 256, k=1)
    with pytest.raises(ValueError, match="k must be between"):
        cb.smallest_singular_values(w, 4, k=0)


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_norm_bound_is_never_below_the_exact_norm(case, seed):
    cout, cin, kh, kw, n, m = case
    w = layer(cout, cin, kh, kw, seed=seed)
    bound = cb.spectral_norm_bound(w)
    for boundary in BOUNDARIES:
        assert bound.upper >= dense_values(w, n, m, boundary)[0]
    # a valid bound of the torus maximum: at least every sample of the symbol's norm
    samples = np.linalg.svd(cb.symbol(w, (97, 89)), compute_uv=False)[..., 0].max()
    assert bound.upper >= samples
    assert bound.lower <= bound.upper <= bound.lower * (1 + 1e-8)
    assert float(bound) == bound.upper


def test_norm_bound_is_tight_at_large_n():
    w = cb.pytorch_default(8, 8, 3, seed=0)
    bound = cb.spectral_norm_bound(w).upper
    # the zero-padded norm approaches the torus maximum as n grows, from below
    top = [
        cb.singular_values(w, n, method="explicit", boundary="zero", top_k=1)[0] for n in (8, 32)
    ]
    assert top[0] < top[1] <= bound
    assert bound - top[1] < 0.5 * (bound - top[0])


def test_norm_bound_layouts_and_bad_input():
    w = layer(3, 2, 3, 3)
    a = cb.spectral_norm_bound(w).upper
    b = cb.spectral_norm_bound(w.transpose(2, 3, 1, 0), layout="hwio").upper
    assert a == pytest.approx(b, rel=1e-12)
    for bad in (0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="rtol"):
            cb.spectral_norm_bound(w, rtol=bad)
    with pytest.raises(ValueError, match="grid"):
        cb.spectral_norm_bound(w, grid=0)
    with pytest.raises(ValueError, match="non-finite"):
        cb.spectral_norm_bound(np.full((2, 2, 3, 3), np.nan))


@pytest.mark.parametrize("model", ["circular", "mixture", "mixture_top", "best"])
@pytest.mark.parametrize(("cout", "cin", "k", "n", "m"), [(4, 4, 3, 8, 8), (3, 2, 2, 6, 9)])
def test_approximate_has_the_exact_length_and_order(model, cout, cin, k, n, m):
    w = layer(cout, cin, k, k)
    values = cb.approximate(w, (n, m), model=model)
    assert values.shape == (n * m * min(cout, cin),)
    assert values.dtype == np.float64
    assert np.all(np.diff(values) <= 0)
    assert np.all(values >= 0)


def test_circular_model_is_the_periodic_spectrum():
    w = layer(3, 4, 3, 3)
    np.testing.assert_allclose(
        cb.approximate(w, (6, 7), model="circular"), cb.singular_values(w, (6, 7)), atol=1e-13
    )
    np.testing.assert_allclose(
        cb.approximate(w, (6, 7), boundary="periodic", model="mixture"),
        cb.singular_values(w, (6, 7)),
        atol=1e-13,
    )


def test_mixture_has_the_exact_frobenius_norm():
    w = layer(3, 3, 3, 5)
    n, m = 12, 10
    values, weights = zp.mixture_distribution(w, (n, m))
    assert weights.sum() == pytest.approx(1.0, rel=1e-12)
    exact = dense_values(w, n, m, "zero")
    total = np.sum(weights * values**2) * n * m * 3  # mean sigma^2 times the count
    assert total == pytest.approx(np.sum(exact**2), rel=1e-10)


def test_best_model_beats_circular_against_the_dense_spectrum():
    w = cb.pytorch_default(4, 4, 3, seed=0)
    records = {r["model"]: r for r in zp.compare_models(w, 16, ("circular", "best"))}
    assert records["best"]["mean_abs"] < records["circular"]["mean_abs"] / 3
    assert abs(records["best"]["rel_sigma_max"]) < abs(records["circular"]["rel_sigma_max"])


def test_approximate_bad_input():
    w = layer(2, 2, 3, 3)
    with pytest.raises(ValueError, match="model must be"):
        cb.approximate(w, 8, model="gaussian")
    with pytest.raises(ValueError, match="boundary must be"):
        cb.approximate(w, 8, boundary="reflect")
    with pytest.raises(ValueError, match="larger than the input"):
        cb.approximate(w, 2)


@pytest.mark.parametrize(("c", "n", "seed"), [(2, 16, 1), (4, 20, 3)])
def test_lanczos_top_value_within_rtol_on_clustered_layers(c, n, seed):
    """Zero-padded layers whose top values come in tight clusters: the Ritz value must
    not be taken for converged while it mixes a cluster's members. Against a dense
    matrix built by PyTorch (conv2d of every basis vector). An earlier stopping rule
    (the residual squared over the gap to the second Ritz value) stopped on these
    with errors of 980 and 11 times rtol."""
    torch = pytest.importorskip("torch")
    w = cb.pytorch_default(c, c, 3, seed=seed)
    eye = torch.eye(c * n * n, dtype=torch.float64).reshape(-1, c, n, n)
    cols = torch.nn.functional.conv2d(eye, torch.from_numpy(w), padding=1)
    exact = np.linalg.svd(cols.reshape(c * n * n, -1).numpy().T, compute_uv=False)[0]
    rtol = 1e-9
    got = extremes.top_singular_values(w, n, 1, rtol=rtol)[0]
    assert abs(got - exact) <= rtol * exact


def test_lanczos_warns_when_maxiter_comes_first():
    w = cb.pytorch_default(4, 4, 3, seed=3)
    with pytest.warns(cb.ConvergenceWarning, match="maxiter=20"):
        got = extremes.top_singular_values(w, 20, 1, rtol=1e-12, maxiter=20)
    assert got[0] > 0
