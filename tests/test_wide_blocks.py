"""The fast path at real networks' widths (square blocks of 33 .. 512 channels): the
``zherk`` Gram route up to ``GRAM_SQUARE_MAX``, the SVD past it, against dense SVDs and
against matrices built by PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench import fast
from convbench.fast import factor

TIGHT = 1e-12  # relative to the largest value: far below the 1e-8 the path promises


def _blocks(nb: int, r: int, k: int, seed: int, spread: float = 0.0) -> np.ndarray:
    """Complex ``(nb, r, k)`` blocks; ``spread`` > 0 gives singular values from 1 down to
    ``10**-spread`` (geometric), 0 leaves them as a Gaussian matrix has them."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((nb, r, k)) + 1j * rng.standard_normal((nb, r, k))
    if spread:
        u, _s, vh = np.linalg.svd(a, full_matrices=False)
        s = np.logspace(0, -spread, k)
        a = (u * s[None, :]) @ vh
    return a


def _dense(blocks: np.ndarray) -> np.ndarray:
    return np.linalg.svd(blocks, compute_uv=False)  # descending per block


def _check(got: np.ndarray, blocks: np.ndarray, tol: float = TIGHT) -> None:
    exact = _dense(blocks)
    got = np.sort(got, axis=1)[:, ::-1]
    scale = exact[:, :1]
    assert np.all(np.abs(got - exact) <= tol * scale)


@pytest.mark.parametrize("k", [33, 64, fast.GRAM_SQUARE_MAX, fast.GRAM_SQUARE_MAX + 1, 160])
def test_random_square_blocks(k):
    blocks = _blocks(3, k, k, k)
    _check(fast.block_values(blocks, soa=False), blocks)


@pytest.mark.parametrize("spread", [6, 12])
def test_ill_conditioned_blocks_fall_back(spread, monkeypatch):
    """The Gram matrix squares the condition number: blocks whose smallest values it
    cannot give to 1e-9 of the largest must be refused and computed by the SVD."""
    calls = []
    svd = np.linalg.svd

    def counting(a, *args, **kw):
        calls.append(a.shape[0])
        return svd(a, *args, **kw)

    blocks = _blocks(4, 48, 48, spread, spread=spread)
    monkeypatch.setattr(factor.np.linalg, "svd", counting)
    got = fast.block_values(blocks, soa=False)
    monkeypatch.undo()
    _check(got, blocks)
    assert calls == [4]  # every block refused by the certificate


def test_well_conditioned_blocks_keep_the_gram_route(monkeypatch):
    blocks = _blocks(4, 48, 48, 1, spread=2)
    monkeypatch.setattr(factor.np.linalg, "svd", lambda *a, **k: pytest.fail("SVD called"))
    got = fast.block_values(blocks, soa=False)
    monkeypatch.undo()
    _check(got, blocks)


def test_rank_deficient_blocks():
    blocks = _blocks(3, 64, 64, 5)
    blocks[:, :, 40:] = blocks[:, :, :24] @ np.random.default_rng(0).standard_normal((24, 24))
    got = np.sort(fast.block_values(blocks, soa=False), axis=1)[:, ::-1]
    _check(got, blocks)
    assert np.all(got[:, 40:] <= TIGHT * got[:, :1])  # the 24 zeros come out as zeros


@pytest.mark.parametrize(("r", "k"), [(40, 36), (70, 36), (200, 64), (96, 90)])
def test_tall_blocks(r, k):
    blocks = _blocks(2, r, k, r + k)
    _check(fast.block_values(blocks, soa=False), blocks)


def test_gram_products_hold_the_gram_matrices_upper_triangle():
    blocks = _blocks(3, 50, 40, 9)
    got = factor.gram_products(blocks)
    want = np.matmul(blocks.conj().transpose(0, 2, 1), blocks)
    upper = np.triu_indices(40)
    np.testing.assert_allclose(got[:, upper[0], upper[1]], want[:, upper[0], upper[1]],
                               rtol=0, atol=1e-12 * np.abs(want).max())


def test_single_precision_wide_blocks():
    blocks = _blocks(2, 96, 96, 4).astype(np.complex64)
    got = fast.block_values(blocks, soa=False, precision="single")
    assert got.dtype == np.float32
    _check(got.astype(np.float64), blocks.astype(np.complex128), tol=1e-5)


@pytest.mark.parametrize(
    ("c", "n", "opts"),
    [
        (64, 4, {}),  # Gram route
        (96, 4, {}),  # SVD route
        (96, 6, {"stride": 2}),  # blocks 96 x 384: the Gram coefficients
    ],
)
def test_wide_layers_match_pytorch(c, n, opts):
    pytest.importorskip("torch")
    from test_layers import reference_values

    w = np.random.default_rng(c + n).uniform(-1, 1, (c, c, 3, 3)) / np.sqrt(9 * c)
    exact = reference_values(w, (n, n), boundary="periodic", **opts)
    for threads in (1, 2):
        got = cb.singular_values(w, (n, n), method="fast", threads=threads, **opts)
        assert got.shape == exact.shape
        assert np.max(np.abs(got - exact)) <= TIGHT * exact[0]


@pytest.mark.parametrize(("cout", "cin"), [(128, 40), (40, 128)])
def test_uneven_channels_against_lfa(cout, cin):
    w = np.random.default_rng(cout).uniform(-1, 1, (cout, cin, 3, 3)) / np.sqrt(9 * cin)
    lfa = cb.singular_values(w, (6, 6), method="lfa")
    got = cb.singular_values(w, (6, 6), method="fast", threads=1)
    assert np.max(np.abs(got - lfa)) <= TIGHT * lfa[0]
