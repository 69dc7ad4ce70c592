"""The matrix-free apply of every zero-padded layer kind, against PyTorch itself.

The reference is ``torch.nn.functional.conv*d`` (``conv_transpose*d`` when transposed)
applied to a random input, and its adjoint is PyTorch's autograd (the vector-Jacobian
product); neither shares code with :class:`convbench.operators.LayerOperator`.
"""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench.operators import LayerOperator

torch = pytest.importorskip("torch")
F = torch.nn.functional

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}

# (weight shape, input size, options): padding as PyTorch takes it (symmetric ints)
CASES = [
    ((5, 3, 7, 7), (23, 19), {"stride": 2, "padding": 3}),  # a stem
    ((6, 4, 3, 3), (11, 12), {"stride": (2, 3), "padding": 1}),
    ((4, 4, 3, 3), (13, 13), {"dilation": 2, "padding": 2}),
    ((6, 2, 3, 3), (9, 10), {"groups": 3, "padding": 1, "stride": 2}),
    ((6, 1, 3, 3), (8, 8), {"groups": 6, "padding": 1}),  # depthwise
    ((4, 3, 4, 4), (7, 6), {"transposed": True, "stride": 2, "padding": 1}),
    ((4, 2, 3, 3), (6, 7), {"transposed": True, "stride": 2, "padding": 1,
                            "output_padding": 1, "groups": 2}),
    ((3, 5, 2, 2), (5, 5), {"transposed": True, "stride": 2}),
    ((4, 3, 5), (31,), {"stride": 3, "padding": 2, "dilation": 2}),
    ((3, 4, 4), (9,), {"transposed": True, "stride": 3, "padding": 1}),
    ((4, 3, 3, 3, 3), (7, 6, 5), {"stride": 2, "padding": 1}),
    ((3, 2, 2, 3, 2), (4, 3, 4), {"transposed": True, "stride": (2, 1, 2)}),
    ((8, 6, 1, 1), (5, 5), {"stride": 2}),  # a strided 1x1 shortcut
    ((4, 4, 3, 3), (6, 6), {"padding": 0}),  # 'valid'
]


def _id(case):
    wshape, shape, opts = case
    return "w" + "x".join(map(str, wshape)) + "-n" + "x".join(map(str, shape)) + "".join(
        f"-{k}{v}" for k, v in opts.items()
    )


def _torch_apply(w, x, opts):
    """The layer on a batch of inputs ``x`` (nvec, cin, *shape), by PyTorch."""
    d = w.ndim - 2
    opts = dict(opts)
    if opts.pop("transposed", False):
        return CONV_T[d](x, torch.from_numpy(w), **opts)
    return CONV[d](x, torch.from_numpy(w), **opts)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_apply_and_adjoint_match_pytorch(case):
    wshape, shape, opts = case
    rng = np.random.default_rng(len(shape) + sum(wshape))
    w = rng.standard_normal(wshape)
    layer = cb.as_layer(w, shape, boundary="zero", **opts)
    op = LayerOperator(layer)
    nvec = 3
    x = rng.standard_normal((nvec, layer.cin, *shape))
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = _torch_apply(w, xt, opts)
    assert tuple(yt.shape[2:]) == layer.out_shape
    got = op.matmat(x.reshape(nvec, -1).T)
    np.testing.assert_allclose(got.T, yt.detach().numpy().reshape(nvec, -1), atol=1e-12)
    # the adjoint is PyTorch's vector-Jacobian product
    y = rng.standard_normal(tuple(yt.shape))
    (vjp,) = torch.autograd.grad(yt, xt, torch.from_numpy(y))
    back = op.rmatmat(y.reshape(nvec, -1).T)
    np.testing.assert_allclose(back.T, vjp.numpy().reshape(nvec, -1), atol=1e-12)
    # and <A x, y> = <x, A^T y> for single vectors
    xv, yv = x[0].ravel(), y[0].ravel()
    lhs, rhs = op.matvec(xv) @ yv, xv @ op.rmatvec(yv)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def test_apply_in_chunks_matches_one_chunk(monkeypatch):
    """Output rows split over several im2col chunks give the same result."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((4, 3, 3, 3))
    layer = cb.as_layer(w, (12, 9), boundary="zero", stride=2, padding=1)
    x = rng.standard_normal((layer.cols, 2))
    y = rng.standard_normal((layer.rows, 2))
    whole = LayerOperator(layer)
    fwd, back = whole.matmat(x), whole.rmatmat(y)
    from convbench import operators

    monkeypatch.setattr(operators, "_IM2COL_ENTRIES", 1)  # one output row per chunk
    split = LayerOperator(layer)
    np.testing.assert_allclose(split.matmat(x), fwd, atol=1e-13)
    np.testing.assert_allclose(split.rmatmat(y), back, atol=1e-13)
