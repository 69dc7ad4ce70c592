"""The size-specific certified bound against PyTorch's dense zero-padded matrices.

References come from ``test_layers.reference_values`` (``torch.nn.functional``), which
shares no code with the library.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_layers import CASES, _id, reference_values, weights

import convbench as cb
from convbench import embedding, extremes
from convbench.models.compute import zero_sigma_max


def _wide(case, factor):
    wshape, shape, opts = case
    return (wshape[0] * factor, wshape[1] * factor, *wshape[2:]), shape, opts


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_size_bound_holds_for_every_layer_kind(case):
    """Tiny channel counts (the blocks' SVDs) and eight times as many (the Gram
    matrices' Cholesky certificates): never below the exact zero-padded sigma_max, never
    above the size-free torus maximum."""
    for factor in (1, 8):
        wshape, shape, opts = _wide(case, factor)
        w = weights(wshape, 3)
        exact = reference_values(w, shape, boundary="zero", **opts)[0]
        bound = cb.size_bound(w, shape, **opts)
        assert bound.upper >= exact
        if factor == 1:  # the branch and bound is slow on the wide blocks
            assert bound.upper <= cb.spectral_norm_bound(w, **opts).upper * (1 + 1e-6)
        assert bound.lower <= bound.upper


@pytest.mark.parametrize(
    ("wshape", "shape", "opts"),
    [
        ((8, 8, 3, 3), (12, 12), {}),
        ((8, 4, 3, 3), (16, 16), {"stride": 2}),
        ((8, 8, 5), (48,), {"dilation": 2}),
        ((4, 4, 4, 4), (10, 10), {"transposed": True, "stride": 2, "padding": 1}),
        ((2, 2, 3, 3, 3), (8, 8, 8), {}),
    ],
)
def test_size_bound_is_tight_at_moderate_sizes(wshape, shape, opts):
    """Within 10% of the exact sigma_max once the input is not tiny, and it hands
    Lanczos a start from which the exact value agrees with the dense reference."""
    w = weights(wshape, 5)
    exact = reference_values(w, shape, boundary="zero", **opts)[0]
    bound = cb.size_bound(w, shape, **opts)
    assert exact <= bound.upper <= 1.1 * exact
    layer = cb.as_layer(w, shape, boundary="zero", **opts)
    top = extremes.layer_top_values(layer, 1, rtol=1e-11, maxiter=4000, theta=bound.theta)
    assert abs(top[0] - exact) <= 1e-9 * exact
    assert abs(zero_sigma_max(layer, bound.theta) - exact) <= 1e-9 * exact


def test_periodic_size_bound_is_the_torus_norm():
    w = weights((12, 10, 3, 3), 7)
    exact = reference_values(w, (8, 6), boundary="periodic", stride=2)[0]
    bound = cb.size_bound(w, (8, 6), stride=2, boundary="periodic")
    assert bound.torus == (8, 6)
    assert exact <= bound.upper <= exact * (1 + 1e-6)
    assert bound.lower == pytest.approx(exact, rel=1e-12)


def test_cholesky_refuses_a_shift_below_the_top_eigenvalue():
    rng = np.random.default_rng(0)
    b = rng.standard_normal((40, 60)) + 1j * rng.standard_normal((40, 60))
    gram = b @ b.conj().T
    top = float(np.linalg.eigvalsh(gram)[-1])
    ok, value = embedding.cholesky_certifies(gram, top * (1 - 1e-9))
    assert not ok and value == math.inf
    ok, value = embedding.cholesky_certifies(gram, top * (1 + 1e-9))
    assert ok and top <= value <= top * (1 + 1e-8)


def test_a_wrong_first_shift_is_raised_by_the_blocks_that_fail(monkeypatch):
    """Ranking the blocks backwards makes the first shift too low: the blocks above it
    fail their Cholesky certificate, get their own top eigenvalue and are certified
    again, and the bound is still above the exact value and as tight."""
    w = weights((16, 12, 3, 3), 2)
    honest = cb.size_bound(w, (10, 10))
    assert honest.refined == 0
    monkeypatch.setattr(embedding, "_rayleigh_quotients", lambda g, p: -_quotients(g, p))
    bound = cb.size_bound(w, (10, 10))
    exact = reference_values(w, (10, 10), boundary="zero")[0]
    assert bound.refined > 0
    assert exact <= bound.upper <= honest.upper * (1 + 1e-6)
    assert bound.lower == pytest.approx(honest.lower, rel=1e-12)


_quotients = embedding._rayleigh_quotients


def test_size_bound_names_its_bad_arguments():
    w = weights((8, 8, 3, 3), 0)
    with pytest.raises(ValueError, match="rtol"):
        cb.size_bound(w, 8, rtol=0)
    with pytest.raises(TypeError, match="shape"):
        cb.size_bound(w)
    with pytest.raises(ValueError, match="stride"):
        cb.size_bound(w, 8, stride=0)


def test_one_tap_start_vector_is_the_top_singular_pair():
    """The compacted block's top pair by its Gram matrix (a 1x1 stride-2 layer whose
    polyphase block has three dead phases)."""
    w = weights((300, 260, 1, 1), 4)
    layer = cb.as_layer(w, (6, 6), stride=2, boundary="zero")
    blocks = np.exp(0.3j) * np.concatenate([w[:, :, 0, 0], np.zeros((300, 780))], axis=1)
    left, right = extremes._top_pairs(blocks[None])
    sigma = np.linalg.norm(w[:, :, 0, 0], 2)
    assert np.allclose(blocks @ right[0], sigma * left[0], atol=1e-10)
    assert np.all(right[0, 260:] == 0)
    exact = np.linalg.svd(w[:, :, 0, 0], compute_uv=False)[0]
    assert zero_sigma_max(layer, cb.size_bound(layer).theta) == pytest.approx(exact, rel=1e-9)


def test_layers_on_two_threads_match_one_thread():
    """model_spectra with threads=2 runs two layers at once: the same records, in order."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 16, 3, padding=1),
        torch.nn.Conv2d(16, 16, 3, padding=1, groups=4),
        torch.nn.Conv2d(16, 8, 1),
        torch.nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1),
    ).double()
    one = cb.model_spectra(net, (1, 3, 32, 32), threads=1)
    seen = []
    two = cb.model_spectra(net, (1, 3, 32, 32), threads=2,
                           progress=lambda done, total, name: seen.append(done))
    assert seen == list(range(1, 6))
    for a, b in zip(one.layers, two.layers, strict=True):
        assert a.name == b.name
        assert b.sigma_max == pytest.approx(a.sigma_max, rel=1e-11)
        assert b.bound == pytest.approx(a.bound, rel=1e-11)
        assert a.sigma_max <= a.bound
