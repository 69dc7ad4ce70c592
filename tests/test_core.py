"""Every path against a dense SVD of the explicitly built matrix, and the operator itself."""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench.symbols import fft_blocks, lfa_blocks, tap_positions

RTOL = 1e-10


def direct_conv(w: np.ndarray, x: np.ndarray, boundary: str) -> np.ndarray:
    """Conv2d(padding='same') by loops over taps, written independently of the library."""
    cout, _cin, kh, kw = w.shape
    _, n, m = x.shape
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    if boundary == "periodic":
        xp = np.pad(x, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw)), mode="wrap")
    else:
        xp = np.pad(x, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw)))
    y = np.zeros((cout, n, m))
    for a in range(kh):
        for b in range(kw):
            y += np.einsum("oi,ipq->opq", w[:, :, a, b], xp[:, a : a + n, b : b + m])
    return y


CASES = [
    # (cout, cin, kh, kw, n, m)
    (1, 1, 3, 3, 6, 6),
    (2, 3, 1, 1, 4, 5),
    (3, 2, 2, 2, 5, 4),
    (4, 2, 3, 3, 6, 7),
    (2, 5, 4, 4, 6, 6),
    (3, 3, 5, 5, 7, 5),
    (2, 3, 3, 5, 5, 8),
    (3, 1, 4, 3, 4, 4),
]


@pytest.mark.parametrize(("cout", "cin", "kh", "kw", "n", "m"), CASES)
@pytest.mark.parametrize("boundary", ["periodic", "zero"])
def test_unrolled_matches_direct_convolution(cout, cin, kh, kw, n, m, boundary):
    rng = np.random.default_rng(cout * 100 + cin * 10 + kh)
    w = rng.standard_normal((cout, cin, kh, kw))
    x = rng.standard_normal((cin, n, m))
    a = cb.unrolled(w, (n, m), boundary=boundary)
    assert a.shape == (cout * n * m, cin * n * m)
    assert a.format == "csr"
    np.testing.assert_allclose(a @ x.ravel(), direct_conv(w, x, boundary).ravel(), atol=1e-12)


@pytest.mark.parametrize(("cout", "cin", "kh", "kw", "n", "m"), CASES)
@pytest.mark.parametrize("method", ["lfa", "fft", "fftw", "explicit"])
def test_periodic_paths_match_dense_svd(cout, cin, kh, kw, n, m, method):
    w = cb.pytorch_default(cout, cin, (kh, kw), seed=kh * 7 + n)
    dense = cb.unrolled(w, (n, m)).toarray()
    ref = np.sort(np.linalg.svd(dense, compute_uv=False))[::-1]
    got = cb.singular_values(w, (n, m), method=method)
    assert got.shape == (n * m * min(cout, cin),)
    assert got.dtype == np.float64
    assert np.all(np.diff(got) <= 0)
    np.testing.assert_allclose(got, ref, rtol=0, atol=RTOL * ref[0])


@pytest.mark.parametrize(("cout", "cin", "kh", "kw", "n", "m"), CASES[:5])
def test_explicit_zero_boundary_matches_dense_svd(cout, cin, kh, kw, n, m):
    w = cb.he_normal(cout, cin, (kh, kw), seed=3)
    # build the dense zero-padded matrix column by column from the direct convolution
    cols = []
    for j in range(cin * n * m):
        e = np.zeros(cin * n * m)
        e[j] = 1.0
        cols.append(direct_conv(w, e.reshape(cin, n, m), "zero").ravel())
    dense = np.stack(cols, axis=1)
    ref = np.sort(np.linalg.svd(dense, compute_uv=False))[::-1]
    got = cb.singular_values(w, (n, m), method="explicit", boundary="zero")
    np.testing.assert_allclose(got, ref, rtol=0, atol=RTOL * ref[0])


def test_symbol_paths_agree_and_match_definition():
    w = cb.pytorch_default(3, 2, (3, 4), seed=5)
    n, m = 5, 6
    cout, cin, kh, kw = w.shape
    ref = np.zeros((n, m, cout, cin), dtype=complex)
    for j in range(n):
        for ll in range(m):
            for a in range(kh):
                for b in range(kw):
                    phase = 2 * np.pi * (j * (a - (kh - 1) // 2) / n + ll * (b - (kw - 1) // 2) / m)
                    ref[j, ll] += w[:, :, a, b] * np.exp(1j * phase)
    for method in ("lfa", "fft", "fftw"):
        got = cb.symbol(w, (n, m), method=method)
        assert got.shape == (n, m, cout, cin)
        assert got.dtype == np.complex128
        np.testing.assert_allclose(got, ref, atol=1e-13)
    for method in ("lfa", "fft", "fftw"):  # every block contiguous for the batched SVD
        assert cb.symbol(w, (n, m), method).flags.c_contiguous


def test_symbol_block_diagonalises_the_operator():
    """B(t) v e^{i t.x} is the operator applied to the Fourier mode v e^{i t.x}."""
    w = cb.pytorch_default(2, 3, 3, seed=2)
    n, m = 6, 5
    b = cb.symbol(w, (n, m))
    j, ll = 2, 3
    v = np.array([1.0, -2.0, 0.5j])
    p, q = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    mode = np.exp(2j * np.pi * (j * p / n + ll * q / m))
    x = v[:, None, None] * mode
    y = cb.unrolled(w, (n, m)) @ x.ravel()
    np.testing.assert_allclose(y, ((b[j, ll] @ v)[:, None, None] * mode).ravel(), atol=1e-12)


def test_layouts_agree():
    w = cb.pytorch_default(4, 3, (3, 2), seed=9)
    hwio = cb.pytorch_default(4, 3, (3, 2), seed=9, layout="hwio")
    assert hwio.shape == (3, 2, 3, 4)
    np.testing.assert_array_equal(hwio, w.transpose(2, 3, 1, 0))
    for method in cb.METHODS:
        np.testing.assert_allclose(
            cb.singular_values(hwio, 6, method=method, layout="hwio"),
            cb.singular_values(w, 6, method=method),
            atol=1e-13,
        )
    np.testing.assert_allclose(
        cb.symbol(hwio, 5, layout="hwio"), cb.symbol(w, 5), atol=1e-14
    )
    assert (cb.unrolled(hwio, 5, layout="hwio") != cb.unrolled(w, 5)).nnz == 0


def test_kernel_equal_to_input_size():
    w = cb.pytorch_default(2, 2, 4, seed=1)
    ref = np.linalg.svd(cb.unrolled(w, 4).toarray(), compute_uv=False)
    for method in cb.METHODS:
        got = cb.singular_values(w, 4, method=method)
        np.testing.assert_allclose(got, np.sort(ref)[::-1], atol=RTOL * ref.max())


def test_tap_positions_follow_the_symbol_convention():
    w = np.arange(2 * 3, dtype=float).reshape(1, 1, 2, 3)
    poly = cb.as_layer(w, (4, 5)).polyphase()
    # tap b sits at offset b + origin: 'same' puts kh=2 at (0, 1) and kw=3 at (-1, 0, 1)
    rows, cols = tap_positions(poly)
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_array_equal(cols, [4, 0, 1])


@pytest.mark.parametrize(
    ("shape", "kernel", "layer"),
    [
        ((6, 5), (3, 3), {}),
        ((8, 6), (3, 3), {"stride": 2, "dilation": (1, 2)}),
        ((8, 4), (3, 4), {"stride": (2, 4)}),  # taps wrap around a one-point axis and fold
        ((4, 5, 6), (3, 2, 3), {"groups": 2}),
    ],
)
def test_fft_blocks_are_the_symbol_and_contiguous(shape, kernel, layer):
    g = layer.get("groups", 1)
    w = cb.pytorch_default(4, 4 // g, kernel, seed=7)
    poly = cb.as_layer(w, shape, **layer).polyphase()
    got = fft_blocks(poly)
    assert got.flags.c_contiguous
    np.testing.assert_allclose(got, lfa_blocks(poly), atol=1e-13)


@pytest.mark.parametrize("method", ["lfa", "fft", "fftw", "explicit"])
def test_top_k_is_the_head_of_the_full_spectrum(method):
    w = cb.pytorch_default(3, 3, 3, seed=4)
    full = cb.singular_values(w, 6, method=method)
    top = cb.singular_values(w, 6, method=method, top_k=5)
    assert top.shape == (5,)
    np.testing.assert_allclose(top, full[:5], rtol=1e-9)


def test_explicit_top_k_zero_boundary_uses_lanczos():
    w = cb.pytorch_default(2, 2, 3, seed=4)
    full = cb.singular_values(w, 8, method="explicit", boundary="zero")
    top = cb.singular_values(w, 8, method="explicit", boundary="zero", top_k=3)
    np.testing.assert_allclose(top, full[:3], rtol=1e-9)


def test_fftw_plan_reuse_and_threads():
    w = cb.pytorch_default(2, 3, 3, seed=1)
    plan = cb.FFTWPlan(w.shape, (8, 6), threads=2, planner_effort="FFTW_MEASURE")
    first = plan(w).copy()
    np.testing.assert_allclose(first, cb.symbol(w, (8, 6), "lfa"), atol=1e-13)
    np.testing.assert_allclose(plan(w), first, atol=0)
    with pytest.raises(ValueError, match="plan made for weights"):
        plan(np.zeros((1, 1, 3, 3)))


def test_generators_are_seeded_and_scaled():
    a = cb.pytorch_default(16, 8, 3, seed=7)
    b = cb.pytorch_default(16, 8, 3, seed=7)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (16, 8, 3, 3)
    assert np.abs(a).max() <= 1 / np.sqrt(8 * 9)
    h = cb.he_normal(64, 64, 3, seed=0)
    assert abs(h.std() - np.sqrt(2 / (64 * 9))) < 0.01 * np.sqrt(2 / (64 * 9)) * 5
    assert not np.array_equal(cb.pytorch_default(4, 4, seed=1), cb.pytorch_default(4, 4, seed=2))
