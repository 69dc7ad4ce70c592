"""Every layer kind on every path, against dense matrices built by PyTorch.

The reference shares no code with the library: the operator's matrix is PyTorch's
``torch.nn.functional.conv1d/2d/3d`` (``conv_transpose*`` for transposed layers)
applied to the identity's columns, with circular padding first for the periodic
boundary, and its singular values come from one dense LAPACK SVD.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import convbench as cb

torch = pytest.importorskip("torch")
F = torch.nn.functional

FOURIER = ("lfa", "fft", "fftw", "fast")


def reference_matrix(
    w: np.ndarray,
    shape: tuple[int, ...],
    *,
    stride=1,
    dilation=1,
    groups=1,
    padding=None,
    output_padding=0,
    transposed=False,
    boundary="zero",
) -> np.ndarray:
    """The layer's matrix from PyTorch: columns are the outputs of unit inputs."""
    d = w.ndim - 2
    stride = (stride,) * d if isinstance(stride, int) else tuple(stride)
    dilation = (dilation,) * d if isinstance(dilation, int) else tuple(dilation)
    cin = w.shape[0] if transposed else w.shape[1] * groups
    size = cin * math.prod(shape)
    eye = torch.eye(size, dtype=torch.float64).reshape(size, cin, *shape)
    wt = torch.from_numpy(w)
    if transposed:
        conv = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[d]
        pad = 0 if padding is None else padding
        if boundary == "periodic":
            # the adjoint of the forward periodic layer on the n*s torus
            fwd = reference_matrix(
                w,
                tuple(n * s for n, s in zip(shape, stride, strict=True)),
                stride=stride,
                dilation=dilation,
                groups=groups,
                padding=pad,
                boundary="periodic",
            )
            return fwd.T
        out = conv(
            eye, wt, stride=stride, padding=pad, output_padding=output_padding,
            groups=groups, dilation=dilation,
        )
        return out.reshape(size, -1).T.numpy()
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[d]
    kernel = w.shape[2:]
    if padding is None or padding == "same":
        pairs = [
            (dl * (k - 1) // 2, dl * (k - 1) - dl * (k - 1) // 2)
            for k, dl in zip(kernel, dilation, strict=True)
        ]
    elif padding == "valid":
        pairs = [(0, 0)] * d
    elif isinstance(padding, int):
        pairs = [(padding, padding)] * d
    elif all(isinstance(p, int) for p in padding):
        pairs = [(p, p) for p in padding]
    else:
        pairs = [tuple(p) for p in padding]
    if boundary == "periodic":
        # on the torus the output is n/s: the padding before only shifts the input
        pairs = [
            (b, dl * (k - 1) - b) for (b, _a), k, dl in zip(pairs, kernel, dilation, strict=True)
        ]
    # F.pad takes the last dimension first
    flat = [v for pair in reversed(pairs) for v in pair]
    mode = "circular" if boundary == "periodic" else "constant"
    x = F.pad(eye, flat, mode=mode) if any(flat) else eye
    out = conv(x, wt, stride=stride, padding=0, groups=groups, dilation=dilation)
    return out.reshape(size, -1).T.numpy()


def reference_values(w, shape, **layer) -> np.ndarray:
    return np.sort(np.linalg.svd(reference_matrix(w, shape, **layer), compute_uv=False))[::-1]


def weights(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=shape)


# (weight shape, input shape, layer options): every option alone and in combination
CASES = [
    ((3, 2, 3, 3), (6, 5), {}),
    ((4, 3, 3, 3), (8, 6), {"stride": 2}),
    ((3, 2, 3, 3), (6, 6), {"stride": (2, 1)}),
    ((2, 3, 3, 3), (7, 6), {"dilation": 2}),
    ((4, 1, 3, 3), (6, 6), {"groups": 4}),
    ((6, 2, 3, 3), (6, 4), {"groups": 2, "stride": 2}),
    ((4, 1, 3, 3), (8, 8), {"groups": 4, "stride": 2, "dilation": 2}),
    ((3, 2, 4, 4), (8, 8), {"stride": 4, "padding": "valid"}),
    ((3, 2, 2, 3), (6, 7), {"padding": ((1, 0), (0, 2))}),
    ((2, 2, 3, 3), (6, 6), {"padding": (2, 1), "stride": 2}),
    ((2, 3, 7, 7), (8, 8), {"stride": 2, "padding": 3}),
    ((3, 2, 1, 1), (6, 6), {"stride": 2}),
    ((3, 2, 5), (12,), {"stride": 2, "dilation": 2}),
    ((2, 2, 3), (9,), {"dilation": 3}),
    ((4, 2, 3), (8,), {"groups": 2, "stride": 2}),
    ((2, 2, 3, 3, 3), (4, 4, 4), {}),
    ((2, 1, 3, 3, 3), (4, 4, 6), {"groups": 2, "stride": (1, 1, 2)}),
    ((3, 2, 2, 3, 3), (4, 4, 4), {"stride": 2}),
    ((3, 2, 3, 3), (4, 4), {"transposed": True, "stride": 2}),
    ((4, 1, 3, 3), (4, 3), {"transposed": True, "stride": 2, "groups": 2, "padding": 1,
                            "output_padding": 1}),
    ((2, 3, 4, 4), (3, 3), {"transposed": True, "stride": 2, "padding": 1}),
    ((2, 2, 3), (5,), {"transposed": True, "stride": 3, "dilation": 2, "output_padding": 1}),
    ((2, 2, 3, 3, 3), (3, 3, 3), {"transposed": True, "stride": 2}),
]


def _id(case) -> str:
    w, n, opts = case
    return f"{'x'.join(map(str, w))}@{'x'.join(map(str, n))}-" + "-".join(
        f"{k}={v}" for k, v in opts.items()
    )


def _periodic_ok(shape, opts) -> bool:
    if opts.get("transposed"):
        return True
    s = opts.get("stride", 1)
    s = (s,) * len(shape) if isinstance(s, int) else s
    return all(n % t == 0 for n, t in zip(shape, s, strict=True))


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_zero_padding_is_the_layer_pytorch_computes(case):
    wshape, shape, opts = case
    w = weights(wshape, 0)
    exact = reference_values(w, shape, boundary="zero", **opts)
    layer = cb.as_layer(w, shape, boundary="zero", **opts)
    assert layer.n_values == exact.size
    assert layer.rows * layer.cols == reference_matrix(w, shape, boundary="zero", **opts).size
    a = cb.unrolled(w, shape, boundary="zero", **opts).toarray()
    np.testing.assert_allclose(a, reference_matrix(w, shape, boundary="zero", **opts), atol=1e-13)
    values = cb.singular_values(w, shape, method="explicit", boundary="zero", **opts)
    np.testing.assert_allclose(values, exact, rtol=0, atol=1e-10 * exact[0])
    top = cb.singular_values(w, shape, method="explicit", boundary="zero", top_k=2, **opts)
    np.testing.assert_allclose(top, exact[:2], rtol=0, atol=1e-10 * exact[0])


@pytest.mark.parametrize("case", [c for c in CASES if _periodic_ok(c[1], c[2])], ids=_id)
@pytest.mark.parametrize("method", ("explicit", *FOURIER))
def test_periodic_spectrum_on_every_path(case, method):
    wshape, shape, opts = case
    w = weights(wshape, 1)
    exact = reference_values(w, shape, boundary="periodic", **opts)
    values = cb.singular_values(w, shape, method=method, threads=1, **opts)
    assert values.shape == exact.shape
    assert values.dtype == np.float64
    assert np.all(np.diff(values) <= 0)
    np.testing.assert_allclose(values, exact, rtol=0, atol=1e-10 * exact[0])


@pytest.mark.parametrize("case", [c for c in CASES if _periodic_ok(c[1], c[2])], ids=_id)
def test_periodic_matrix_and_operator_match_pytorch(case):
    wshape, shape, opts = case
    w = weights(wshape, 2)
    ref = reference_matrix(w, shape, boundary="periodic", **opts)
    np.testing.assert_allclose(cb.unrolled(w, shape, **opts).toarray(), ref, atol=1e-13)
    op = cb.operators.LayerOperator(cb.as_layer(w, shape, **opts))
    x = np.random.default_rng(0).standard_normal((op.shape[1], 2))
    np.testing.assert_allclose(op.matmat(x), ref @ x, atol=1e-12)
    y = np.random.default_rng(1).standard_normal((op.shape[0], 2))
    np.testing.assert_allclose(op.rmatmat(y), ref.T @ y, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matrix_free_operator_matches_pytorch_zero_padding(case):
    wshape, shape, opts = case
    w = weights(wshape, 3)
    ref = reference_matrix(w, shape, boundary="zero", **opts)
    op = cb.operators.LayerOperator(cb.as_layer(w, shape, boundary="zero", **opts))
    x = np.random.default_rng(0).standard_normal(op.shape[1])
    np.testing.assert_allclose(op.matvec(x), ref @ x, atol=1e-12)
    y = np.random.default_rng(1).standard_normal(op.shape[0])
    np.testing.assert_allclose(op.rmatvec(y), ref.T @ y, atol=1e-12)


def test_symbol_blocks_of_a_strided_grouped_layer():
    w = weights((4, 1, 3, 3), 4)
    blocks = cb.symbol(w, (8, 8), stride=2, groups=2)
    # (grid, groups, cout/groups, (cin/groups) * prod(stride))
    assert blocks.shape == (4, 4, 2, 2, 4)
    exact = reference_values(w, (8, 8), stride=2, groups=2, boundary="periodic")
    values = np.sort(np.linalg.svd(blocks, compute_uv=False).ravel())[::-1]
    np.testing.assert_allclose(values, exact, atol=1e-12)
    for method in ("fft", "fftw"):
        other = cb.symbol(w, (8, 8), method=method, stride=2, groups=2)
        np.testing.assert_allclose(other, blocks, atol=1e-12)


def test_transposed_symbol_is_the_adjoint_block():
    w = weights((3, 2, 3, 3), 5)
    fwd = cb.symbol(w, (8, 8), stride=2)
    adj = cb.symbol(w, (4, 4), stride=2, transposed=True, padding=1)
    assert fwd.shape == (4, 4, 3, 8)
    assert adj.shape == (4, 4, 8, 3)
    np.testing.assert_allclose(adj, np.conj(np.swapaxes(fwd, -1, -2)), atol=1e-12)


def test_hwio_layout_for_grouped_1d_and_3d_layers():
    w = weights((4, 2, 3), 6)  # oihw (cout, cin/groups, k)
    hwio = np.ascontiguousarray(w.transpose(2, 1, 0))
    a = cb.singular_values(w, 8, groups=2, stride=2)
    b = cb.singular_values(hwio, 8, layout="hwio", groups=2, stride=2)
    np.testing.assert_array_equal(a, b)
    w3 = weights((2, 2, 2, 3, 3), 7)
    h3 = np.ascontiguousarray(w3.transpose(2, 3, 4, 1, 0))
    np.testing.assert_array_equal(
        cb.singular_values(w3, 4), cb.singular_values(h3, 4, layout="hwio")
    )


def test_depthwise_layer_needs_only_moduli():
    w = weights((6, 1, 3, 3), 8)
    values = cb.singular_values(w, 8, groups=6, method="fast", threads=1)
    blocks = cb.symbol(w, 8, groups=6)  # (8, 8, 6, 1, 1)
    np.testing.assert_allclose(values, np.sort(np.abs(blocks).ravel())[::-1], atol=1e-13)


def test_single_precision_fast_path_on_a_strided_layer():
    w = weights((3, 2, 3, 3), 9)
    exact = cb.singular_values(w, 8, stride=2, method="lfa")
    single = cb.singular_values(w, 8, stride=2, method="fast", precision="single", threads=1)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, exact, atol=1e-5 * exact[0])


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"stride": 0}, ValueError, "stride entries must be positive"),
        ({"stride": -1}, ValueError, "stride entries must be positive"),
        ({"stride": 1.5}, TypeError, "stride must be an int or a tuple"),
        ({"stride": (1, 2, 3)}, ValueError, "stride must be an int or a tuple of 2 ints"),
        ({"dilation": 0}, ValueError, "dilation entries must be positive"),
        ({"dilation": (2,)}, ValueError, "dilation must be an int or a tuple of 2 ints"),
        ({"groups": 0}, ValueError, "groups must be a positive integer"),
        ({"groups": 3}, ValueError, "groups=3 must divide"),
        ({"groups": 2.0}, TypeError, "groups must be a positive integer"),
        ({"stride": 3}, ValueError, "stride to divide the input size"),
        ({"padding": -1}, ValueError, "padding must be non-negative"),
        ({"padding": "full"}, ValueError, "padding must be 'same', 'valid'"),
        ({"padding": ((1, 2, 3), (0, 0))}, ValueError, "padding pairs must be"),
        ({"padding": ((1, 2),)}, ValueError, r"padding must be an int, a tuple of 2 ints"),
        ({"padding": "valid", "boundary": "zero", "dilation": 5}, ValueError, "empty output"),
        ({"output_padding": 1}, ValueError, "output_padding applies to transposed"),
        ({"transposed": True, "output_padding": 2, "stride": 2}, ValueError, "smaller than"),
        ({"transposed": True, "padding": "same"}, ValueError, "not accepted for transposed"),
        ({"transposed": "yes"}, TypeError, "transposed must be True or False"),
    ],
)
def test_bad_layer_arguments_name_the_argument(kwargs, exc, match):
    w = weights((4, 2, 3, 3), 0)
    kwargs = {"boundary": "periodic", **kwargs}
    boundary = kwargs.pop("boundary")
    with pytest.raises(exc, match=match):
        cb.singular_values(w, 8, boundary=boundary, method="explicit", **kwargs)
    with pytest.raises(exc, match=match):
        cb.as_layer(w, 8, boundary=boundary, **kwargs)


def test_budget_knows_strides_and_groups():
    w = weights((64, 1, 3, 3), 0)
    dense = cb.budget.estimate(np.ones((64, 64, 3, 3)), 512).nbytes
    depthwise = cb.budget.estimate(w, 512, groups=64).nbytes
    strided = cb.budget.estimate(np.ones((64, 64, 3, 3)), 512, stride=2)
    assert depthwise < dense / 16
    assert strided.nbytes < dense
    with pytest.raises(cb.BudgetError, match="groups=64"):
        cb.singular_values(w, 4096, groups=64, memory_budget="1M")


def test_only_the_same_padding_counts_as_the_plain_layer():
    w = weights((2, 2, 3, 3), 0)
    assert cb.as_layer(w, 8).is_plain
    assert cb.as_layer(w, 8, padding=((1, 1), (1, 1))).is_plain
    assert not cb.as_layer(w, 8, padding=((1, 3), (1, 0)), boundary="zero").is_plain
    assert not cb.as_layer(w, 8, padding=((0, 2), (1, 1)), boundary="zero").is_plain
    assert not cb.as_layer(w, 8, stride=2).is_plain


@pytest.mark.parametrize(
    ("wshape", "shape", "opts"),
    [
        ((6, 4, 1, 1), (8, 8), {"stride": 2}),  # one tap, three dead phases of four
        ((4, 2, 3), (12,), {"stride": 2, "dilation": 2}),  # odd phase never read
        ((4, 4, 1, 1, 1), (4, 4, 4), {"stride": (1, 2, 1)}),
    ],
)
def test_fast_path_drops_dead_phases_and_repeats_one_tap(wshape, shape, opts):
    w = weights(wshape, 12)
    exact = reference_values(w, shape, boundary="periodic", **opts)
    values = cb.singular_values(w, shape, method="fast", threads=1, **opts)
    np.testing.assert_allclose(values, exact, rtol=0, atol=1e-12 * exact[0])
    zero = cb.singular_values(np.zeros(wshape), shape, method="fast", threads=1, **opts)
    assert zero.shape == exact.shape
    assert not zero.any()


def test_a_layer_object_keeps_its_own_boundary():
    w = weights((3, 2, 3, 3), 13)
    zero = cb.as_layer(w, 8, stride=2, boundary="zero")
    # the zero-padded spectrum, never the periodic one in its place
    np.testing.assert_allclose(
        cb.singular_values(zero, 8, method="explicit"),
        reference_values(w, (8, 8), stride=2, boundary="zero"),
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="method='lfa' computes boundary 'periodic' only"):
        cb.singular_values(zero, method="lfa")
    # the periodic twin is asked for by name
    np.testing.assert_array_equal(
        cb.singular_values(zero.with_boundary("periodic"), method="lfa"),
        cb.singular_values(w, 8, stride=2),
    )
    assert cb.as_layer(zero, 8, boundary="zero") is zero
    assert cb.as_layer(zero) is zero
