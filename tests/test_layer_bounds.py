"""The bound, the zero-padding models, the streamed summary and Lanczos on every layer kind.

Exact values come from dense matrices built by PyTorch (``test_layers.reference_values``),
which share no code with the library.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_layers import reference_matrix, reference_values

import convbench as cb
from convbench import boundary as zp
from convbench import bounds, costs, extremes, operators, passes, stream
from convbench.fast import halfspace

# (weight shape, layer options, input sizes that every boundary accepts)
LAYERS = [
    ((4, 3, 3, 3), {"stride": 2}, [(6, 6), (8, 10)]),
    ((3, 2, 3, 3), {"stride": (2, 1)}, [(6, 5), (8, 7)]),
    ((2, 3, 3, 3), {"dilation": 2}, [(5, 6), (8, 8)]),
    ((6, 2, 3, 3), {"groups": 3}, [(4, 5), (7, 6)]),
    ((4, 1, 3, 3), {"groups": 4, "stride": 2, "dilation": 2}, [(6, 6), (8, 8)]),
    ((2, 3, 7, 7), {"stride": 2, "padding": 3}, [(8, 8), (10, 12)]),
    ((3, 2, 4, 4), {"transposed": True, "stride": 2, "padding": 1}, [(3, 3), (4, 5)]),
    ((4, 1, 3, 3), {"transposed": True, "stride": 2, "groups": 2, "padding": 1,
                    "output_padding": 1}, [(3, 4), (4, 4)]),
    ((3, 2, 5), {"stride": 2, "dilation": 2}, [(10,), (16,)]),
    ((4, 2, 3), {"groups": 2, "stride": 3}, [(9,), (12,)]),
    ((2, 2, 3), {"transposed": True, "stride": 3, "dilation": 2, "output_padding": 1},
     [(4,), (7,)]),
    ((2, 2, 3, 3, 3), {}, [(3, 3, 4), (4, 4, 4)]),
    ((3, 2, 2, 3, 3), {"stride": 2}, [(4, 4, 4), (4, 6, 4)]),
    ((2, 1, 3, 3, 3), {"groups": 2, "transposed": True, "stride": (1, 1, 2)}, [(3, 3, 3)]),
]


def _id(case) -> str:
    w, opts, _sizes = case
    return f"{'x'.join(map(str, w))}-" + "-".join(f"{k}={v}" for k, v in opts.items())


def weights(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=shape)


def sampled_norm(w: np.ndarray, opts: dict, grid: int) -> float:
    """max over groups of ||B(t)|| on the grid t = 2*pi*j/grid, through cb.symbol."""
    d = w.ndim - 2
    s = opts.get("stride", 1)
    s = (s,) * d if isinstance(s, int) else s
    shape = (grid,) * d if opts.get("transposed") else tuple(grid * t for t in s)
    blocks = cb.symbol(w, shape, **opts)
    return float(np.linalg.svd(blocks, compute_uv=False)[..., 0].max())


@pytest.mark.parametrize("case", LAYERS, ids=_id)
def test_bound_holds_for_every_layer_size_and_boundary(case):
    wshape, opts, sizes = case
    w = weights(wshape, 0)
    bound = cb.spectral_norm_bound(w, **opts)
    assert len(bound.theta) == w.ndim - 2
    assert bound.lower <= bound.upper <= bound.lower * (1 + 1e-8)
    for shape in sizes:
        for boundary in ("zero", "periodic"):
            exact = reference_values(w, shape, boundary=boundary, **opts)[0]
            assert bound.upper >= exact, (shape, boundary)
    # the torus maximum, to within the Bernstein margin of a fine grid
    taps = cb.as_layer(w, sizes[-1], **opts)
    poly = bounds.torus_layer(taps).polyphase()
    grid = 48 if w.ndim == 4 else (256 if w.ndim == 3 else 16)
    margin = 0.5 * (sum((k - 1) / 2 for k in poly.taps) * math.pi / grid) ** 2
    samples = sampled_norm(w, opts, grid)
    assert samples <= bound.upper <= samples / (1 - margin) * (1 + 1e-12)
    at_theta = bounds.symbol_norms(poly, np.array([bound.theta]))[0]
    assert at_theta == pytest.approx(bound.lower, rel=1e-12)


def test_bound_is_exact_and_quick_for_an_orthogonal_convolution():
    """||B(t)|| = 1 everywhere: no cell can be dropped, the coefficient bound stops it."""
    rng = np.random.default_rng(0)
    c = 4

    def projection() -> np.ndarray:
        q, _r = np.linalg.qr(rng.standard_normal((c, c)))
        return q[:, :2] @ q[:, :2].T

    p, q, eye = projection(), projection(), np.eye(c)
    w = np.zeros((c, c, 2, 2))  # B(t) = (P + (I-P) e^{i t1}) (Q + (I-Q) e^{i t2})
    w[:, :, 0, 0], w[:, :, 1, 0] = p @ q, (eye - p) @ q
    w[:, :, 0, 1], w[:, :, 1, 1] = p @ (eye - q), (eye - p) @ (eye - q)
    bound = cb.spectral_norm_bound(w)
    assert bound.lower == pytest.approx(1.0, abs=1e-12)
    assert 1 <= bound.upper <= 1 + 1e-9
    assert bound.evaluations == 32**2 // 2  # the first level only, on half the torus


def test_budget_caps_keep_the_bound_certified(monkeypatch):
    w = weights((3, 2, 3, 3), 1)
    full = cb.spectral_norm_bound(w, stride=2)
    monkeypatch.setattr(bounds, "MAX_CELLS", 16)
    monkeypatch.setattr(bounds, "MAX_EVALUATIONS", 100)
    capped = cb.spectral_norm_bound(w, stride=2)
    first = 32**2 // 2  # the first level, whole (half the torus)
    assert first < capped.evaluations <= first + 100 + 16
    assert capped.upper >= full.upper >= sampled_norm(w, {"stride": 2}, 64)
    assert capped.upper > (1 + 1e-6) * capped.lower, "the caps should have stopped it early"


def test_bound_takes_a_layer_and_ignores_padding():
    w = weights((3, 2, 3, 3), 2)
    a = cb.spectral_norm_bound(w, stride=2, padding=((0, 2), (1, 1)))
    b = cb.spectral_norm_bound(cb.as_layer(w, 8, stride=2, boundary="zero"))
    assert a.upper == pytest.approx(b.upper, rel=1e-9)
    with pytest.raises(ValueError, match="stride entries must be positive"):
        cb.spectral_norm_bound(w, stride=0)


# ---------------------------------------------------------------------------------------
# approximate


MIXTURE_LAYERS = [
    ((3, 2, 3, 3), (10, 9), {"dilation": 2}),
    ((6, 2, 3, 3), (8, 9), {"groups": 3}),
    ((3, 2, 2, 3), (8, 9), {"padding": ((0, 1), (2, 0))}),
    ((3, 2, 5), (30,), {}),
    ((2, 2, 3, 3, 3), (5, 5, 4), {}),
    ((3, 2, 3, 3), (8, 9), {"transposed": True, "padding": 1}),
]


@pytest.mark.parametrize(("wshape", "shape", "opts"), MIXTURE_LAYERS)
def test_mixture_on_general_layers_has_the_exact_length_and_frobenius_norm(wshape, shape, opts):
    w = weights(wshape, 3)
    exact = reference_values(w, shape, boundary="zero", **opts)
    values, probs = zp.mixture_distribution(w, shape, **opts)
    assert probs.sum() == pytest.approx(1.0, rel=1e-12)
    assert np.sum(probs * values**2) * exact.size == pytest.approx(np.sum(exact**2), rel=1e-10)
    errors = {}
    for model in ("circular", "mixture", "best"):
        approx = cb.approximate(w, shape, model=model, **opts)
        assert approx.shape == exact.shape
        assert np.all(np.diff(approx) <= 0)
        errors[model] = np.mean(np.abs(approx - exact))
    assert errors["best"] < errors["circular"]


def test_circular_and_periodic_for_strided_layers():
    w = weights((4, 3, 3, 3), 4)
    periodic = cb.singular_values(w, 8, stride=2)
    for boundary, model in (("periodic", "mixture"), ("zero", "circular")):
        got = cb.approximate(w, 8, boundary=boundary, model=model, stride=2)
        np.testing.assert_allclose(got, periodic, atol=1e-13 * periodic[0])
    assert cb.approximate(w, 8, stride=2, model="circular").size == reference_values(
        w, (8, 8), stride=2
    ).size


@pytest.mark.parametrize(
    ("opts", "model", "match"),
    [
        ({"stride": 2}, "mixture", r"model='mixture' is defined for stride-1 layers; got "
                                   r"stride=\(2, 2\)"),
        ({"stride": (1, 2)}, "best", r"model='mixture_top' is defined for stride-1"),
        ({"padding": "valid"}, "mixture", r"output has the size of its input"),
        ({"padding": "valid"}, "circular", r"model='circular' .* zero-padded output is \(6, 6\)"),
        ({"stride": 3}, "circular", r"model='circular' samples the periodic symbol"),
    ],
)
def test_approximate_refuses_what_its_models_do_not_describe(opts, model, match):
    with pytest.raises(ValueError, match=match):
        cb.approximate(weights((2, 2, 3, 3), 0), 8, model=model, **opts)


def test_sigma_max_estimate_uses_the_bound_maximiser():
    w = weights((3, 3, 3, 3), 5)
    exact = reference_values(w, (12, 12), boundary="zero")[0]
    bound = cb.spectral_norm_bound(w).upper
    estimate = zp.sigma_max_estimate(w, 12)
    assert estimate == zp.sigma_max_estimate(w, (12, 12))
    assert abs(estimate - exact) < 0.2 * (bound - exact)
    strided = zp.sigma_max_estimate(w, 16, stride=2)
    exact = reference_values(w, (16, 16), boundary="zero", stride=2)[0]
    assert abs(strided - exact) < 0.2 * (cb.spectral_norm_bound(w, stride=2).upper - exact)


# ---------------------------------------------------------------------------------------
# matrix-free operators and Lanczos


@pytest.mark.parametrize("case", LAYERS, ids=_id)
def test_top_singular_values_of_every_layer(case):
    wshape, opts, sizes = case
    w = weights(wshape, 6)
    shape = sizes[-1]
    for boundary in ("zero", "periodic"):
        ref = reference_matrix(w, shape, boundary=boundary, **opts)
        op = operators.conv_operator(w, shape, boundary=boundary, **opts)
        x = np.random.default_rng(0).standard_normal(op.shape[1])
        np.testing.assert_allclose(op.matvec(x), ref @ x, atol=1e-12)
        exact = np.linalg.svd(ref, compute_uv=False)
        for k in (1, 2):
            got = extremes.top_singular_values(w, shape, k, boundary=boundary, **opts)
            np.testing.assert_allclose(got, exact[:k], rtol=1e-7)


@pytest.mark.parametrize(
    ("wshape", "shape", "opts"),
    [
        ((6, 6, 3, 3), (32, 32), {"stride": 2}),
        ((6, 2, 3, 3), (32, 32), {"groups": 3, "dilation": 2}),
        ((6, 6, 4, 4), (16, 16), {"transposed": True, "stride": 2, "padding": 1}),
        ((4, 4, 5), (256,), {"stride": 2}),
        ((4, 4, 3, 3, 3), (16, 16, 16), {"stride": 2}),
    ],
)
def test_smooth_start_is_close_to_the_top_singular_vector(wshape, shape, opts):
    """The plane wave at the maximiser, in the polyphase layout: its Rayleigh quotient is
    near sigma_max (a random vector's is near the spectrum's RMS, about half), in the
    group that attains it."""
    w = weights(wshape, 7)
    layer = cb.as_layer(w, shape, boundary="zero", **opts)
    op = operators.LayerOperator(layer)
    x = extremes._smooth_start(layer).reshape(layer.groups, -1)
    assert np.all(np.any(x, axis=1)), "every group needs a component"
    quotients = []
    for g in range(layer.groups):  # block-diagonal: the group holding the maximum
        part = np.zeros_like(x)
        part[g] = x[g]
        quotients.append(np.linalg.norm(op.matvec(part.ravel())) / np.linalg.norm(x[g]))
    assert max(quotients) >= 0.95 * cb.spectral_norm_bound(w, **opts).upper


def test_matrix_free_top_k_keeps_uneven_padding(monkeypatch):
    """'same' before, more after: the output is larger than the input (not im2col)."""
    w = weights((2, 2, 3, 3), 8)
    pad = ((1, 3), (1, 0))
    exact = reference_values(w, (6, 6), boundary="zero", padding=pad)[:2]
    monkeypatch.setattr(costs, "MATRIX_FREE_NNZ", 1)
    got = cb.singular_values(w, 6, method="explicit", boundary="zero", padding=pad, top_k=2)
    np.testing.assert_allclose(got, exact, rtol=1e-8)


# ---------------------------------------------------------------------------------------
# summarize

Q = np.array([0.0, 0.01, 0.25, 0.5, 0.77, 0.9, 1.0])


def streamed(layer: cb.Conv) -> np.ndarray:
    """The values summarize streams, held whole and sorted descending."""
    chunks, _count = passes.source(layer, 1)
    parts = [np.concatenate([d, d, s]) for d, s in chunks()]
    return np.sort(np.concatenate(parts))[::-1]


@pytest.mark.parametrize(
    ("wshape", "shape", "opts"),
    [
        ((4, 3, 3, 3), (8, 10), {"stride": 2}),
        ((2, 3, 3, 3), (7, 6), {"dilation": 2}),
        ((6, 2, 3, 3), (8, 6), {"groups": 3, "stride": 2}),
        ((6, 1, 3, 3), (9, 8), {"groups": 6}),
        ((3, 2, 5), (24,), {"stride": 2}),
        ((3, 2, 2, 3, 3), (4, 6, 4), {"stride": 2}),
        ((3, 2, 4, 4), (4, 5), {"transposed": True, "stride": 2, "padding": 1}),
    ],
)
def test_summary_of_general_layers_is_exact(wshape, shape, opts):
    w = weights(wshape, 9)
    got = cb.summarize(w, shape, quantiles=Q, bins=9, progress=False, threads=2, **opts)
    ref = streamed(cb.as_layer(w, shape, **opts))
    assert got.count == ref.size == cb.as_layer(w, shape, **opts).n_values
    assert got.exact and got.sigma_max == ref[0] and got.sigma_min == ref[-1]
    np.testing.assert_array_equal(got.quantile_values, np.quantile(ref, Q))
    counts, edges = np.histogram(ref, bins=9, range=(ref[-1], ref[0]))
    np.testing.assert_array_equal(got.bin_edges, edges)
    np.testing.assert_array_equal(got.histogram, counts)
    assert got.shape == shape
    assert got.upper_bound >= ref[0]
    # and the streamed values are the layer's spectrum
    exact = reference_values(w, shape, boundary="periodic", **opts)
    np.testing.assert_allclose(ref, exact, rtol=0, atol=1e-12 * exact[0])
    np.testing.assert_allclose(got.frobenius, np.sqrt(np.sum(exact**2)), rtol=1e-12)


def test_half_space_stream_in_small_chunks():
    layer = cb.as_layer(weights((4, 2, 3, 3, 3), 10), (6, 5, 8), groups=2, stride=(1, 1, 2))
    poly = layer.polyphase()
    jobs = halfspace.space_jobs(poly, chunk_entries=64)
    assert len(jobs) > len(halfspace.space_jobs(poly))
    parts = [
        np.concatenate([d, d, s])
        for d, s in halfspace.iter_half_space(poly, threads=2, chunk_entries=64)
    ]
    values = np.sort(np.concatenate(parts))[::-1]
    lfa = cb.singular_values(layer, layer.shape, method="lfa")
    np.testing.assert_allclose(values, lfa, rtol=0, atol=1e-13 * lfa[0])


def test_upper_bound_of_general_layers():
    for wshape, shape, opts in (
        ((4, 1, 3, 3), (8, 8), {"groups": 4, "stride": 2}),
        ((3, 2, 4, 4), (4, 4), {"transposed": True, "stride": 2, "padding": 1}),
        ((2, 2, 3, 3, 3), (4, 4, 4), {}),
    ):
        w = weights(wshape, 11)
        layer = cb.as_layer(w, shape, **opts)
        assert stream.upper_bound(layer) >= reference_values(w, shape, **opts)[0]


def test_gram_route_agrees_with_the_block_svds(monkeypatch):
    """Wide strided blocks (48 x 192) take the Gram polynomial's top eigenvalue; the
    bound it certifies matches the one from the blocks' SVDs and holds on a fine grid."""
    w = weights((48, 48, 3, 3), 9)
    poly = bounds.compact(cb.Conv.build(w, None, stride=2).polyphase())
    assert isinstance(bounds._norms(poly, 1e-9), bounds.GramNorms)
    gram = cb.spectral_norm_bound(w, stride=2, rtol=1e-5)
    monkeypatch.setattr(bounds, "_norms", lambda p, r: lambda t: bounds._svd_norms(p, t))
    svd = cb.spectral_norm_bound(w, stride=2, rtol=1e-5)
    assert gram.upper == pytest.approx(svd.upper, rel=2e-5)
    assert gram.upper >= sampled_norm(w, {"stride": 2}, 64)
