"""The fast path against dense SVDs of the unrolled operator and against the lfa path."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import convbench as cb
from convbench import budget, fast, routes
from convbench.fast import driver, factor

TOL = 1e-8  # the promise: every value within TOL * sigma_max of the exact spectrum
TIGHT = 1e-12  # what the kernels actually achieve at these sizes

CASES = [
    # (cout, cin, kh, kw, n, m): k = min(cout, cin) covers the modulus (1), the closed
    # form (2), the Jacobi kernel (3..8) and the certified Gram path (> 8); odd and even
    # n and m exercise every self-conjugate line
    (1, 1, 3, 3, 6, 6),
    (1, 1, 2, 2, 7, 5),
    (1, 1, 5, 5, 5, 8),
    (1, 3, 3, 3, 6, 5),
    (4, 1, 1, 1, 4, 4),
    (2, 2, 3, 3, 6, 7),
    (2, 5, 4, 4, 6, 6),
    (6, 2, 2, 3, 5, 4),
    (3, 3, 3, 3, 4, 4),
    (3, 2, 2, 2, 5, 4),
    (4, 4, 5, 5, 7, 5),
    (5, 3, 4, 3, 6, 7),
    (4, 7, 3, 3, 4, 6),
    (8, 8, 2, 2, 5, 6),
    (9, 9, 3, 3, 4, 5),
    (12, 10, 3, 3, 3, 4),
    (11, 16, 1, 1, 3, 3),
    (16, 16, 2, 2, 2, 2),
]


def dense_reference(w: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    a = cb.unrolled(w, shape).toarray()
    return np.sort(np.linalg.svd(a, compute_uv=False))[::-1]


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize(("cout", "cin", "kh", "kw", "n", "m"), CASES)
def test_fast_matches_dense_svd(cout, cin, kh, kw, n, m, compiled, monkeypatch):
    if compiled:  # small jobs take LAPACK (routes.small_job); here the kernels too
        monkeypatch.setattr(routes, "SMALL_JOB_ENTRIES", 0)
    w = cb.pytorch_default(cout, cin, (kh, kw), seed=cout + 10 * cin + kh)
    ref = dense_reference(w, (n, m))
    got = cb.singular_values(w, (n, m), method="fast", threads=1)
    assert got.shape == ref.shape and got.dtype == np.float64
    assert np.all(np.diff(got) <= 0)
    assert np.max(np.abs(got - ref)) <= TIGHT * ref[0]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_inputs(n):
    w = cb.he_normal(3, 2, 1, seed=n)
    np.testing.assert_allclose(
        cb.singular_values(w, (n, 2), method="fast"),
        dense_reference(w, (n, 2)),
        atol=TIGHT,
    )


@pytest.mark.parametrize(
    ("c", "n", "m"), [(1, 128, 97), (2, 64, 64), (4, 64, 63), (8, 33, 32), (16, 24, 24)]
)
def test_fast_matches_lfa_at_medium_sizes(c, n, m):
    w = cb.pytorch_default(c, c, 3, seed=c)
    ref = cb.singular_values(w, (n, m), method="lfa")
    got = cb.singular_values(w, (n, m), method="fast")
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) <= TOL * ref[0]


def test_threads_do_not_change_the_result():
    w = cb.pytorch_default(4, 4, 3, seed=3)
    one = cb.singular_values(w, 96, method="fast", threads=1)
    two = cb.singular_values(w, 96, method="fast", threads=2)
    np.testing.assert_array_equal(one, two)


def test_top_k_and_layout():
    w = cb.pytorch_default(5, 3, 3, seed=4, layout="hwio")
    full = cb.singular_values(w, 12, method="fast", layout="hwio")
    top = cb.singular_values(w, 12, method="fast", layout="hwio", top_k=7)
    np.testing.assert_array_equal(top, full[:7])
    np.testing.assert_allclose(
        full, cb.singular_values(w, 12, method="lfa", layout="hwio"), atol=TIGHT
    )


@pytest.mark.parametrize("k", [3, 4, 5, 8])
@pytest.mark.parametrize("r", [0, 3])
def test_jacobi_kernel_on_random_blocks(k, r):
    rng = np.random.default_rng(k + 10 * r)
    rows = k + r
    blocks = rng.standard_normal((300, rows, k)) + 1j * rng.standard_normal((300, rows, k))
    blocks[:20, :, -1] = blocks[:20, :, 0]  # exactly rank deficient
    blocks[20:40] *= 1e-9  # tiny blocks next to big ones
    got = factor.values_jacobi(np.ascontiguousarray(blocks.transpose(1, 2, 0)), np.float64)
    ref = np.linalg.svd(blocks, compute_uv=False)
    np.testing.assert_allclose(np.sort(got, axis=1), np.sort(ref, axis=1), rtol=0, atol=1e-14 * 8)
    # the Jacobi kernel is accurate relative to each block's own norm
    assert np.max(np.abs(np.sort(got[20:40], 1) - np.sort(ref[20:40], 1))) < 1e-21


def test_closed_form_for_two_columns_is_accurate_for_close_and_tiny_values():
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((200, 3, 2)) + 1j * rng.standard_normal((200, 3, 2)))
    s = np.stack([np.ones(200), 1 + 10.0 ** rng.uniform(-16, -1, 200)], axis=1)
    s[:50, 1] = 10.0 ** rng.uniform(-16, -8, 50)  # nearly rank one
    blocks = q * s[:, None, :]  # 3x2 blocks with known singular values s
    got = np.sort(fast.block_values(blocks, soa=False), axis=1)
    assert np.max(np.abs(got - np.sort(s, axis=1))) < 1e-14


def test_gram_certificate_sends_ill_conditioned_blocks_to_the_svd():
    rng = np.random.default_rng(6)
    k = 12
    blocks = rng.standard_normal((64, k, k)) + 1j * rng.standard_normal((64, k, k))
    blocks[:32, :, 0] = 1e-7 * blocks[:32, :, 1] + blocks[:32, :, 2]  # sigma_min ~ 1e-7
    ref = np.sort(np.linalg.svd(blocks, compute_uv=False), axis=1)
    scale = ref[:, -1:]
    # plain Gram eigenvalues lose sqrt(eps) on the small values: the certificate matters
    raw = np.sort(np.sqrt(np.maximum(np.linalg.eigvalsh(
        blocks.conj().transpose(0, 2, 1) @ blocks), 0)), axis=1)
    assert np.max(np.abs(raw - ref) / scale) > 1e-10
    got = np.sort(fast.block_values(blocks, soa=False), axis=1)
    assert np.max(np.abs(got - ref) / scale) < 1e-13


def test_gram_path_on_rank_deficient_layer_matches_dense():
    rng = np.random.default_rng(7)
    # W = L @ R with L of rank 3: every 10x10 block has rank <= 3
    left = rng.standard_normal((10, 3))
    w = np.einsum("or,riab->oiab", left, rng.standard_normal((3, 10, 3, 3)))
    ref = dense_reference(w, (4, 4))
    got = cb.singular_values(w, 4, method="fast")
    assert np.max(np.abs(got - ref)) <= TIGHT * ref[0]
    assert np.count_nonzero(got < 1e-12 * got[0]) == 16 * 7


@pytest.mark.parametrize("c", [1, 2, 4, 12])
def test_single_precision(c):
    w = cb.pytorch_default(c, c, 3, seed=c)
    ref = cb.singular_values(w, 16, method="lfa")
    got = fast.fast_singular_values(w, 16, 16, precision="single")
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert np.max(np.abs(got - ref)) <= 1e-5 * ref[0]


def test_self_conjugate_count():
    assert fast.self_conjugate_blocks(4, 6) == 4
    assert fast.self_conjugate_blocks(5, 6) == 2
    assert fast.self_conjugate_blocks(5, 7) == 1


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_threads(threads):
    w = cb.pytorch_default(2, 2, 3)
    with pytest.raises(ValueError, match="threads"):
        cb.singular_values(w, 8, method="fast", threads=threads)


def test_bad_precision():
    with pytest.raises(ValueError, match="precision"):
        fast.fast_singular_values(np.ones((1, 1, 1, 1)), 4, 4, precision="half")


def test_fast_is_periodic_only():
    with pytest.raises(ValueError, match="periodic"):
        cb.singular_values(np.ones((1, 1, 3, 3)), 8, method="fast", boundary="zero")


@pytest.mark.parametrize(("c", "n"), [(1, 256), (4, 96), (16, 24)])
def test_estimate_bounds_the_traced_peak(c, n):
    import tracemalloc

    w = cb.pytorch_default(c, c, 3, seed=0)
    cb.singular_values(w, 8, method="fast", threads=1)  # compile outside the trace
    tracemalloc.start()
    try:
        cb.singular_values(w, n, method="fast", threads=2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= budget.estimate(np.zeros((c, c, 3, 3)), (n, n), "fast").nbytes


def test_feasibility_knows_fast():
    assert cb.feasibility(np.zeros((4, 4, 3, 3)), (64, 64), "fast", memory_budget="1G") is None
    fast_est = budget.estimate(np.zeros((4, 4, 3, 3)), (1024, 1024), "fast")
    lfa_est = budget.estimate(np.zeros((4, 4, 3, 3)), (1024, 1024), "lfa")
    assert fast_est.nbytes < lfa_est.nbytes and fast_est.seconds < lfa_est.seconds


def test_single_precision_through_the_public_api():
    w = cb.pytorch_default(4, 4, 3, seed=2)
    single = cb.singular_values(w, 16, method="fast", precision="single")
    exact = cb.singular_values(w, 16, method="lfa")
    assert single.shape == exact.shape
    assert np.max(np.abs(single - exact)) <= 1e-5 * exact[0]
    with pytest.raises(ValueError, match="method='fast' only"):
        cb.singular_values(w, 16, method="lfa", precision="single")
    with pytest.raises(ValueError, match="precision must be"):
        cb.singular_values(w, 16, method="fast", precision="half")


@pytest.mark.parametrize(("r", "k"), [(3, 3), (5, 4), (8, 8), (9, 9), (12, 10), (16, 16),
                                     (20, 13), (32, 32)])
def test_compiled_gram_kernel_on_random_blocks(r, k):
    rng = np.random.default_rng(r + k)
    blocks = rng.standard_normal((200, r, k)) + 1j * rng.standard_normal((200, r, k))
    blocks[:10, :, k // 2] = 0.0  # a zero column: a reflector with nothing to do
    blocks[10:20] = 0.0  # zero blocks fail the certificate and go to the SVD
    blocks[20:30] = np.eye(r, k) * np.arange(1, k + 1)  # already diagonal, repeated
    blocks[30:40] *= 1e-150  # tiny, far from overflow or underflow trouble
    ref = np.sort(np.linalg.svd(blocks, compute_uv=False), axis=1)
    soa = np.ascontiguousarray(blocks.transpose(1, 2, 0))
    got = fast.block_values(soa, soa=True)
    assert got.shape == (200, k)
    assert np.all(got >= 0)  # (block_values leaves each block's values unordered)
    scale = np.maximum(ref[:, -1:], np.finfo(float).tiny)
    assert np.max(np.abs(np.sort(got, axis=1) - ref) / scale) < 1e-13


@pytest.mark.parametrize("k", [6, 12])
def test_compiled_gram_certificate_sends_ill_conditioned_blocks_elsewhere(k):
    """k <= JACOBI_MAX: to the Jacobi kernel; wider: to LAPACK's SVD."""
    rng = np.random.default_rng(8)
    blocks = rng.standard_normal((64, k, k)) + 1j * rng.standard_normal((64, k, k))
    blocks[:32, :, 0] = 1e-7 * blocks[:32, :, 1] + blocks[:32, :, 2]  # sigma_min ~ 1e-7
    ref = np.sort(np.linalg.svd(blocks, compute_uv=False), axis=1)
    got = fast.block_values(np.ascontiguousarray(blocks.transpose(1, 2, 0)), soa=True)
    assert np.max(np.abs(np.sort(got, axis=1) - ref) / ref[:, -1:]) < 1e-13


@pytest.mark.parametrize("soa", [True, False])
@pytest.mark.parametrize(("r", "k"), [(5, 4), (8, 8), (12, 10), (20, 18)])
@pytest.mark.parametrize("scale", [1e-170, 1e-100, 1e-30, 1e30, 1e100, 1e150])
def test_block_values_at_extreme_scales(soa, r, k, scale):
    """Squares of tiny or huge entries must not under- or overflow into wrong values."""
    rng = np.random.default_rng(r * k)
    blocks = (rng.standard_normal((40, r, k)) + 1j * rng.standard_normal((40, r, k))) * scale
    if soa and k > fast.GRAM_SOA_MAX:
        pytest.skip("blocks this wide use the numpy layout")
    ref = np.sort(np.linalg.svd(blocks, compute_uv=False), axis=1)
    # compiled layout: Jacobi or the compiled Gram kernel; numpy layout: LAPACK Gram path
    arg = np.ascontiguousarray(blocks.transpose(1, 2, 0)) if soa else blocks
    got = np.sort(fast.block_values(arg, soa=soa), axis=1)
    assert np.all(np.isfinite(got))
    assert np.max(np.abs(got - ref) / ref[:, -1:]) < 1e-13


@pytest.mark.parametrize(
    ("cout", "cin", "kh", "kw", "n", "m"), [*CASES[::3], (33, 34, 1, 2, 3, 2)]
)
def test_staged_path_is_the_fast_path(cout, cin, kh, kw, n, m, monkeypatch):
    # small chunks, so that several of them (and their offsets) are exercised
    monkeypatch.setattr(driver, "CHUNK_ENTRIES", 2 * cout * cin)
    w = cb.pytorch_default(cout, cin, (kh, kw), seed=cout + 10 * cin + kh)
    sym = fast.half_plane_symbol(w, (n, m))
    assert sym.shape == (n, m)
    assert len(sym.chunks) > 1 or n == 1
    assert sym.nbytes == sum(blocks.nbytes for blocks, _ in sym.chunks)
    # every frequency is a kept block or the conjugate of one
    assert sum(int(weight.sum()) for _, weight in sym.chunks) == n * m
    got = fast.half_plane_values(sym)
    np.testing.assert_array_equal(got, cb.singular_values(w, (n, m), method="fast", threads=1))
    ref = dense_reference(w, (n, m))
    assert np.max(np.abs(got - ref)) <= TIGHT * ref[0]


@pytest.mark.parametrize("c", [1, 4, 12])
def test_staged_path_in_single_precision(c, monkeypatch):
    monkeypatch.setattr(driver, "CHUNK_ENTRIES", 4 * c * c)
    w = cb.pytorch_default(c, c, 3, seed=c)
    sym = fast.half_plane_symbol(w, 12, precision="single")
    assert all(blocks.dtype == np.complex64 for blocks, _ in sym.chunks)
    got = fast.half_plane_values(sym)
    assert got.dtype == np.float32
    whole = cb.singular_values(w, 12, method="fast", precision="single", threads=1)
    np.testing.assert_array_equal(got, whole)
    exact = cb.singular_values(w, 12, method="lfa")
    assert np.max(np.abs(got - exact)) <= 1e-5 * exact[0]


def test_half_plane_symbol_holds_half_the_symbol():
    w = cb.pytorch_default(4, 4, 3, seed=3)
    sym = fast.half_plane_symbol(w, 64)
    full = cb.symbol(w, 64)
    assert full.nbytes / 2 <= sym.nbytes <= full.nbytes / 2 + 2 * 64 * 16 * 16
    staged = budget.estimate(np.zeros((4, 4, 3, 3)), (64, 64), "fast", stage="transform")
    assert sym.nbytes <= staged.nbytes


def test_half_plane_symbol_checks_its_input_before_allocating(monkeypatch):
    def no_plan(*args, **kwargs):
        raise AssertionError("the symbol was allocated before the input was checked")

    monkeypatch.setattr(driver, "Plan", no_plan)
    with pytest.raises(cb.BudgetError, match="half-plane symbol"):
        fast.half_plane_symbol(np.ones((4, 4, 3, 3)), 4096, memory_budget="64M")
    with pytest.raises(ValueError, match="layout"):
        fast.half_plane_symbol(np.ones((4, 4, 3, 3)), 8, layout="nchw")
    with pytest.raises(ValueError, match="precision"):
        fast.half_plane_symbol(np.ones((4, 4, 3, 3)), 8, precision="half")
    with pytest.raises(ValueError, match="larger than the input"):
        fast.half_plane_symbol(np.ones((1, 1, 5, 5)), 4)
    with pytest.raises(ValueError, match="finite"):
        fast.half_plane_symbol(np.full((1, 1, 3, 3), np.nan), 8)
    with pytest.raises(TypeError, match="half_plane_symbol"):
        fast.half_plane_values(cb.symbol(np.ones((1, 1, 3, 3)), 8))


def test_fast_estimate_has_both_stages():
    whole = budget.estimate(np.zeros((16, 16, 3, 3)), (256, 256), "fast")
    transform = budget.estimate(np.zeros((16, 16, 3, 3)), (256, 256), "fast", stage="transform")
    svd = budget.estimate(np.zeros((16, 16, 3, 3)), (256, 256), "fast", stage="svd")
    assert transform.seconds + svd.seconds == pytest.approx(whole.seconds)
    # the staged calls hold the half plane (16 bytes per entry, half the blocks)
    assert transform.nbytes == svd.nbytes > whole.nbytes + 256 * 256 * 16 * 16 * 16 / 2


def test_single_precision_estimate_halves_the_values_and_the_symbol():
    args = (np.zeros((4, 4, 3, 3)), (1024, 1024), "fast")
    values, entries = 1024 * 1024 * 4, 1024 * 1024 * 16
    for stage in ("all", "transform"):
        double = budget.estimate(*args, stage=stage)
        single = budget.estimate(*args, stage=stage, precision="single")
        assert single.seconds == double.seconds
        # 12 -> 6 bytes per value (output and kept half); 8 -> 4 bytes per symbol entry
        saved = 6 * values + (4 * entries if stage != "all" else 0)
        assert double.nbytes - single.nbytes == pytest.approx(1.1 * saved, rel=1e-6)
    with pytest.raises(ValueError, match="method='fast' only"):
        budget.estimate(np.zeros((4, 4, 3, 3)), (64, 64), "lfa", precision="single")
    with pytest.raises(ValueError, match="precision"):
        budget.estimate(np.zeros((4, 4, 3, 3)), (64, 64), "fast", precision="half")
    # a single-precision request that fits in single but not in double runs
    needed = budget.estimate(*args, precision="single").nbytes
    w = cb.pytorch_default(4, 4, 3, seed=0)
    assert budget.estimate(*args).nbytes > needed + 2**20
    with pytest.raises(cb.BudgetError):
        cb.singular_values(w, 1024, method="fast", memory_budget=needed + 2**20)
    assert budget.feasibility(*args, memory_budget=needed + 2**20, precision="single") is None


def test_a_small_job_loads_no_compiled_kernel():
    """A fresh process's first small job at 16 channels runs on LAPACK, already loaded,
    instead of paying numba's first-use cost; a larger one takes the kernels."""
    code = (
        "import convbench as cb; from convbench.fast import kernels\n"
        "w = cb.pytorch_default(16, 16, 3, seed=0)\n"
        "cb.singular_values(w, 64, method='fast', threads=1)\n"
        "print(len(kernels.gram_soa.signatures), len(kernels.symbol_soa.signatures))\n"
        "cb.singular_values(w, 160, method='fast', threads=1)\n"
        "print(len(kernels.gram_soa.signatures), len(kernels.symbol_soa.signatures))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split("\n")
    assert out[0] == "0 0"
    assert out[1] == "1 1"
