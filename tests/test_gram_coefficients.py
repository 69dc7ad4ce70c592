"""The fast path's Gram-coefficient route (wide blocks past the compiled kernel) against
dense matrices built by PyTorch, its error bound, and its fallback."""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench import fast
from convbench.fast import driver, factor, plane

pytest.importorskip("torch")
from test_layers import reference_values

TIGHT = 1e-12


def _uniform(shape: tuple[int, ...], seed: int) -> np.ndarray:
    fan_in = int(np.prod(shape[1:]))
    return np.random.default_rng(seed).uniform(-1, 1, shape) / np.sqrt(fan_in)


@pytest.mark.parametrize(
    ("wshape", "shape", "opts"),
    [
        ((34, 17, 3, 3), (6, 4), {"stride": 2}),  # blocks 34 x 68
        ((33, 70, 3, 3), (4, 5), {}),  # a plain layer with wide blocks (transposed)
        ((33, 33, 3), (12,), {"stride": 2, "dilation": 2}),  # 1-D: blocks 33 x 66
        ((33, 66, 2, 3), (3, 4), {"transposed": True}),
    ],
)
def test_wide_blocks_match_pytorch(wshape, shape, opts, monkeypatch):
    monkeypatch.setattr(driver, "CHUNK_ENTRIES", 1)  # a chunk per row: threads share them
    w = _uniform(wshape, sum(wshape))
    layer = cb.as_layer(w, shape, **opts)
    poly = layer.polyphase()
    k, r = sorted(poly.block)
    assert k > fast.GRAM_SOA_MAX and r >= fast.GRAM_COEF_ASPECT * k  # the route under test
    exact = reference_values(w, shape, boundary="periodic", **opts)
    got = cb.singular_values(w, shape, method="fast", threads=1, **opts)
    assert got.shape == exact.shape and np.all(np.diff(got) <= 0)
    assert np.max(np.abs(got - exact)) <= TIGHT * exact[0]
    np.testing.assert_array_equal(cb.singular_values(w, shape, method="fast", threads=2, **opts),
                                  got)


def test_the_bound_holds_and_certifies():
    w = _uniform((36, 80, 2, 2), 3)
    plan = plane.Plan(w, 8, 6)
    assert plan.coef
    grams, _weight, keep = plan.gram_rows(0, 8)
    flat = np.flatnonzero(keep)
    # the symbol blocks and their Gram matrices in extended precision
    pi = np.longdouble("3.14159265358979323846264338327950288")

    def phases(k, idx, n):
        offsets = np.arange(k) - (k - 1) // 2
        return np.exp(2j * pi * (np.outer(idx, offsets) % n).astype(np.longdouble) / n)

    wide = np.einsum("rkab,na,nb->nrk", plan.wa.astype(np.longdouble),
                     phases(2, flat // plan.cols, 8), phases(2, flat % plan.cols, 6))
    exact = np.einsum("nip,niq->npq", wide.conj(), wide)
    err = np.abs(grams - exact).astype(np.complex128)
    worst = max(np.linalg.norm(e, 2) for e in err)
    assert worst <= plan.gram_error
    # and the bound is small enough to certify blocks of this shape
    scale = np.linalg.norm(exact.astype(np.complex128), 2, axis=(1, 2)).min()
    assert plan.gram_error < 1e-11 * scale


def test_uncertified_blocks_are_recomputed(monkeypatch):
    # W = L @ R with L of rank 3: every 36 x 72 block has rank <= 3 (zero singular values)
    rng = np.random.default_rng(8)
    left = rng.standard_normal((36, 3))
    right = rng.standard_normal((3, 72 * 4))
    w = (left @ right).reshape(36, 72, 2, 2) / 10
    calls = []
    product = factor.values_gram
    monkeypatch.setattr(factor, "values_gram", lambda b: calls.append(len(b)) or product(b))
    got = cb.singular_values(w, (5, 4), method="fast", threads=1)
    assert sum(calls) == (5 * 4 + 2) // 2  # every kept block of the half plane, once
    exact = reference_values(w, (5, 4), boundary="periodic")
    assert np.max(np.abs(got - exact)) <= TIGHT * exact[0]


def test_staged_path_agrees_on_wide_blocks():
    # the staged path factorizes the symbol it holds: same values to the certified bound
    w = _uniform((33, 70, 2, 3), 4)
    staged = fast.half_plane_values(fast.half_plane_symbol(w, (5, 4)))
    exact = reference_values(w, (5, 4), boundary="periodic")
    assert np.max(np.abs(staged - exact)) <= TIGHT * exact[0]
    whole = cb.singular_values(w, (5, 4), method="fast", threads=1)
    assert np.max(np.abs(staged - whole)) <= TIGHT * exact[0]
