"""The suite's torch peer: the same values as the library's numpy FFT path, its threads,
and its skips where torch or a CUDA device is missing."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import convbench as cb
from benchmarks import torch_peer
from benchmarks.torch_peer import TorchPeer

torch = pytest.importorskip("torch")
CUDA = torch.cuda.is_available()


@pytest.fixture
def common():
    """benchmarks.common, imported when a test runs: the suite's tests shrink its grid
    through the environment at collection, before the first import."""
    from benchmarks import common

    return common


@pytest.mark.parametrize(("cout", "cin", "k", "n"), [(4, 4, 3, 8), (3, 5, 3, 9), (6, 2, 5, 7)])
def test_torch_peer_matches_the_numpy_fft_path(cout, cin, k, n):
    w = cb.pytorch_default(cout, cin, k, seed=3)
    peer = TorchPeer(w, n, "torch", threads=1)
    try:
        got = peer.singular_values()
    finally:
        peer.restore()
    want = cb.singular_values(w, n, method="fft", threads=1)
    assert got.dtype == np.float64 and got.shape == want.shape == (n * n * min(cout, cin),)
    assert np.all(np.diff(got) <= 0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * want[0])


def test_torch_peer_stages_compose_to_the_whole(common):
    w = common.weights(3)
    peer = TorchPeer(w, 16, "torch", threads=1)
    try:
        blocks = peer.symbol()
        assert tuple(blocks.shape) == (16, 16, 3, 3)
        # the symbol is numpy's FFT of the padded kernel, block for block
        want = np.moveaxis(np.fft.fft2(w, s=(16, 16)), (2, 3), (0, 1))
        np.testing.assert_allclose(blocks.numpy(), want, atol=1e-13)
        np.testing.assert_array_equal(peer.sorted_values(blocks).numpy(),
                                      peer.singular_values())
    finally:
        peer.restore()


def test_torch_threads_are_set_and_restored(common):
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    peer = TorchPeer(common.weights(2), 8, "torch", threads=other)
    assert torch.get_num_threads() == other == peer.threads
    peer.restore()
    assert torch.get_num_threads() == before


def test_bad_input_is_refused(common):
    with pytest.raises(ValueError, match="weight"):
        TorchPeer(np.ones((2, 2, 3, 3), dtype=np.float32), 8)
    with pytest.raises(ValueError, match="n must"):
        TorchPeer(common.weights(2), 2)
    with pytest.raises(ValueError, match="peer"):
        torch_peer.reason("jax")


def test_missing_torch_skips_with_that_reason(monkeypatch, common):
    real = importlib.util.find_spec
    monkeypatch.setattr(torch_peer.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    why = common.feasible_path("torch", 4, 32)
    assert why is not None and "torch is not installed" in why
    with pytest.raises(NotImplementedError, match="not installed"):
        TorchPeer(common.weights(2), 8, "torch")


def test_cuda_cell_is_skipped_without_a_device_and_runs_with_one(common):
    why = torch_peer.reason("torch-cuda")
    if not CUDA:
        assert why is not None and "torch.cuda.is_available() is False" in why
        with pytest.raises(NotImplementedError, match="CUDA"):
            TorchPeer(common.weights(2), 8, "torch-cuda")
        return
    assert why is None
    w = cb.pytorch_default(16, 16, 3, seed=1)
    peer = TorchPeer(w, 14, "torch-cuda")
    try:
        got = peer.singular_values()
    finally:
        peer.restore()
    want = cb.singular_values(w, 14, method="fft", threads=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * want[0])


def test_the_peer_is_not_a_library_method(common):
    assert not set(torch_peer.PEERS) & set(cb.METHODS)
    assert "torch" in common.WIDE_PATHS and "torch-cuda" in common.WIDE_PATHS


def test_wide_cells_follow_the_channels_times_n_rule(common):
    assert common.wide_reason(128, 28) is None
    assert common.wide_reason(512, 7) is None
    why = common.wide_reason(512, 14)
    assert why is not None and "CONVBENCH_BENCH_WIDE_MAX_CN" in why


def test_the_suite_restores_torch_threads_after_a_torch_cell(common):
    """Case.teardown undoes the peer's torch thread setting, for every benchmark class."""
    from benchmarks import end_to_end, transform

    before = torch.get_num_threads()
    n, c = common.N_VALUES[0], common.CHANNELS[0]
    for bench, params in ((end_to_end.TimeSingularValues(), ("torch", "1", n, c)),
                          (transform.TimeTransform(), ("torch", n, c))):
        torch.set_num_threads(2 if before == 1 else before)
        outer = torch.get_num_threads()
        bench.setup(*params)
        assert torch.get_num_threads() == 1
        bench.teardown(*params)
        assert torch.get_num_threads() == outer and bench.peer is None
    torch.set_num_threads(before)
