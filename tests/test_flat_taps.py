"""The tap-GEMM operator on padded channels-last vectors, against PyTorch itself.

The reference is ``torch.nn.functional.conv2d`` on a zero-padded input and its
autograd adjoint; neither shares code with :class:`convbench.flat_taps.FlatConv`.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from convbench import extremes
from convbench.flat_taps import FlatConv
from convbench.layer import Conv

torch = pytest.importorskip("torch")
F = torch.nn.functional

# odd, even and rectangular kernels, a 1x1, rectangular inputs, cout != cin
CASES = [((5, 3, 3, 3), (7, 9)), ((4, 4, 2, 2), (6, 5)), ((3, 2, 5, 3), (8, 6)),
         ((2, 3, 1, 1), (4, 4)), ((3, 3, 4, 5), (9, 7))]


def torch_pair(w, x, g):
    """PyTorch's ``A x`` and ``A^T g`` for the 'same' zero-padded layer ``w``."""
    xt = torch.from_numpy(x[None]).requires_grad_(True)
    kh, kw = w.shape[2:]
    # 'same' as convbench reads it: (k - 1) // 2 zeros before, the rest after
    pad = ((kw - 1) // 2, kw - 1 - (kw - 1) // 2, (kh - 1) // 2, kh - 1 - (kh - 1) // 2)
    yt = F.conv2d(F.pad(xt, pad), torch.from_numpy(w))
    (grad,) = torch.autograd.grad(yt, xt, torch.from_numpy(g[None]))
    return yt.detach().numpy().ravel(), grad.numpy().ravel()


def random_case(wshape, shape, seed):
    """Seeded weights, an input ``x`` and an output ``g``, and PyTorch's ``A x`` and
    ``A^T g``."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(wshape)
    cout, cin = wshape[:2]
    x = rng.standard_normal((cin, *shape))
    g = rng.standard_normal((cout, *shape))
    return w, x, g, *torch_pair(w, x, g)


def pads_are_zero(flat, vec):
    inside = np.zeros_like(vec, dtype=bool)
    flat.interior(inside)[...] = True
    return not np.any(vec[~inside])


@pytest.mark.parametrize(("wshape", "shape"), CASES)
def test_forward_and_adjoint_match_pytorch(wshape, shape):
    w, x, g, yt, grad = random_case(wshape, shape, sum(wshape) + sum(shape))
    cout, cin = wshape[:2]
    flat = FlatConv(w, *shape)
    y = flat.forward(flat.pack(x.ravel(), cin)[0])
    np.testing.assert_allclose(flat.unpack(y[None])[:, 0], yt, rtol=0, atol=1e-12)
    back = flat.adjoint(flat.pack(g.ravel(), cout)[0])
    np.testing.assert_allclose(flat.unpack(back[None])[:, 0], grad, rtol=0, atol=1e-12)
    # the pads of every product are zero, so the next product reads zero padding
    for vec, channels in ((y, cout), (back, cin)):
        assert pads_are_zero(flat, vec), channels


@pytest.mark.parametrize(("wshape", "shape"), CASES)
def test_the_fused_lanczos_update_matches_pytorch(wshape, shape):
    """``out <- scale * A x - coef * out`` in one pass, with its squared norm: the
    Lanczos step of golub_kahan_top, against PyTorch's products."""
    w, x, g, yt, grad = random_case(wshape, shape, len(wshape) + sum(shape))
    cout, cin = wshape[:2]
    flat = FlatConv(w, *shape)
    op = flat.operator()
    scale, coef = 0.7, -1.3
    for step, src, dst, want in (
        (op.matvec_step, flat.pack(x.ravel(), cin), flat.pack(g.ravel(), cout),
         scale * yt - coef * g.ravel()),
        (op.rmatvec_step, flat.pack(g.ravel(), cout), flat.pack(x.ravel(), cin),
         scale * grad - coef * x.ravel()),
    ):
        squared = step(src.ravel(), dst.ravel(), scale, coef)
        np.testing.assert_allclose(flat.unpack(dst)[:, 0], want, rtol=0, atol=1e-12)
        assert squared == pytest.approx(float(want @ want), rel=1e-12)
        assert pads_are_zero(flat, dst[0])


def test_fused_and_plain_lanczos_agree():
    """golub_kahan_top through the fused update (the tap operator) and through plain
    products (the im2col operator): the same value, steps and residual."""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((5, 5, 3, 3))
    layer = Conv.build(w, (9, 8), boundary="zero")
    op = extremes.operator_of(layer)
    v0 = rng.standard_normal(layer.cols)
    fast, packed = extremes._single_vector(layer, op, v0)
    assert fast is not op
    plain = extremes.golub_kahan_top(op, v0, rtol=1e-10)
    fused = extremes.golub_kahan_top(fast, packed, rtol=1e-10)
    assert fused[1] == plain[1]
    assert fused[0] == pytest.approx(plain[0], rel=1e-13)
    assert fused[2] == pytest.approx(plain[2], rel=1e-3, abs=1e-13 * plain[0])


def test_the_operator_has_the_layers_singular_values():
    """The padded-space operator, started at zero pads, is the layer: its Gram on the
    packed identity is the layer's dense Gram (PyTorch reference, as in test_layers)."""
    from test_layers import reference_matrix

    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 2, 3, 3))
    shape = (5, 4)
    flat = FlatConv(w, *shape)
    op = flat.operator()
    size = 2 * 20
    packed = flat.pack(np.eye(size), 2).reshape(size, -1).T  # (padded dim, size)
    gram = np.stack([op.rmatvec(op.matvec(packed[:, j])) for j in range(size)], axis=1)
    ours = packed.T @ gram
    dense = reference_matrix(w, shape)
    np.testing.assert_allclose(ours, dense.T @ dense, rtol=0, atol=1e-12)


def test_top_value_on_the_tap_operator_is_the_dense_one():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((6, 6, 3, 3))
    shape = (10, 11)
    from test_layers import reference_matrix

    dense = scipy.linalg.svdvals(reference_matrix(w, shape))[0]
    got = extremes.top_singular_values(w, shape, 1, boundary="zero", rtol=1e-11)[0]
    assert abs(got - dense) <= 1e-10 * dense
    value, rel = extremes.layer_top_certified(Conv.build(w, shape, boundary="zero"),
                                              rtol=1e-11)
    assert abs(value - dense) <= max(rel, 1e-11) * dense


def test_only_the_plain_zero_padded_layer_takes_it():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 4, 3, 3))
    plain = Conv.build(w, (6, 6), boundary="zero")
    op = extremes.operator_of(plain)
    fast, v0 = extremes._single_vector(plain, op, np.ones(plain.cols))
    assert fast is not op and v0.size == FlatConv(w, 6, 6).length * 4
    thin = rng.standard_normal((1, 1, 3, 3))  # one channel: im2col is faster
    for other in (Conv.build(w, (6, 6), boundary="periodic"),
                  Conv.build(w, (6, 6), boundary="zero", stride=2),
                  Conv.build(thin, (6, 6), boundary="zero")):
        op = extremes.operator_of(other)
        assert extremes._single_vector(other, op, np.ones(other.cols))[0] is op


def test_the_history_replays_the_stopping_rule():
    """``history`` records every check; scripts/lanczos_history.py replays the rule on a
    longer run's checks and must stop where the iteration itself stops."""
    from scripts_loader import load_script

    rule_stop = load_script("lanczos_history").rule_stop
    rng = np.random.default_rng(5)
    layer = Conv.build(rng.standard_normal((6, 6, 3, 3)), (12, 12), boundary="zero")
    history: list = []
    value, _ = extremes.layer_top_certified(layer, rtol=1e-13, history=history)
    assert [h[0] for h in history] == list(range(10, 10 * len(history) + 1, 10))
    assert history[-1][1] == value
    for rtol in (1e-6, 1e-9):
        steps = extremes.golub_kahan_top(
            *extremes._single_vector(layer, extremes.operator_of(layer),
                                     extremes._smooth_start(layer)), rtol=rtol)[1]
        assert rule_stop(history, rtol) == steps
