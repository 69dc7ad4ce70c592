"""A peer the suite compares against: PyTorch's FFT of the padded kernel, then ``svdvals``.

This is how a PyTorch user would write the periodic spectrum of a layer (Sedghi, Gupta &
Long's recipe, as the library's ``fft`` path): ``torch.fft.fft2`` of the
``(cout, cin, k, k)`` kernel zero-padded to ``n x n`` (the same symbol numpy's FFT
builds), read as ``(n, n, cout, cin)`` blocks, ``torch.linalg.svdvals`` of the batch,
then every value sorted descending and returned as a float64 numpy array. Weights are
float64, so the symbol is complex128 and the values match the library's to rounding.

Two peers:

``torch``
    on the CPU, with ``torch.set_num_threads`` set from the benchmark's thread count
    (the count is restored afterwards);
``torch-cuda``
    on the first CUDA device, where ``torch.cuda.is_available()``; the timed call
    includes copying the weights to the device and the values back, and waits for the
    device (``torch.cuda.synchronize``).

For the zero-padded ``sigma_max``, :func:`arpack_sigma_max` is what a user would write
today: ARPACK (``scipy.sparse.linalg.svds``) on a ``LinearOperator`` built from
``torch.nn.functional.conv2d`` and its autograd adjoint.

It lives in the suite, not in the library, and is not in the library's registry.
torch is optional: without it (or without a CUDA device) the cells are skipped with
that reason. The library has no estimate for a peer; the ``fft`` path does the same
work (the same transform size, a batched LAPACK SVD of the same blocks), so its
estimate stands in for the skip rule and ``benchmarks.plan``.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

import numpy as np

__all__ = [
    "PEERS",
    "PROXY",
    "TorchPeer",
    "TorchThreads",
    "arpack_sigma_max",
    "reason",
    "torch_module",
]

#: The peers, by the name the suite's ``path`` (or ``layout``) parameter gives them.
PEERS: tuple[str, ...] = ("torch", "torch-cuda")
#: The library path whose time and memory estimates stand in for the peers'.
PROXY = "fft"


@functools.cache
def torch_module() -> Any:
    """The imported ``torch`` module, or the reason it cannot be used (a ``str``)."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed in this environment (an optional peer)"
    try:
        import torch
    except Exception as exc:  # a broken install is a reason to skip, not a failure
        return f"torch cannot be imported: {exc}"
    return torch


def reason(peer: str) -> str | None:
    """Why ``peer`` cannot run here (``None`` if it can); imports torch only for CUDA."""
    if peer not in PEERS:
        raise ValueError(f"peer must be one of {PEERS}; got {peer!r}")
    if peer == "torch":
        if importlib.util.find_spec("torch") is None:
            return "torch is not installed in this environment (an optional peer)"
        return None
    torch = torch_module()
    if isinstance(torch, str):
        return torch
    if not torch.cuda.is_available():
        return "torch.cuda.is_available() is False: no CUDA device here"
    return None


def arpack_sigma_max(
    weight: np.ndarray, n: int, stride: int, padding: int, tol: float = 1e-10
) -> float:
    """The zero-padded layer's ``sigma_max`` by ARPACK on torch's ``conv2d``.

    ``scipy.sparse.linalg.svds(k=1, tol=tol)`` on a ``LinearOperator`` whose matvec is
    ``torch.nn.functional.conv2d`` (float64, batch 1, input ``n x n``) and whose rmatvec
    is its autograd adjoint (``torch.autograd.functional.vjp``). torch's own thread
    count is the caller's to set (``torch.set_num_threads``).
    """
    import math

    import scipy.sparse.linalg as sla

    torch = torch_module()
    if isinstance(torch, str):
        raise NotImplementedError(torch)
    conv2d = torch.nn.functional.conv2d
    wt = torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float64))
    shape = (1, weight.shape[1], n, n)
    x0 = torch.zeros(shape, dtype=torch.float64)
    out_shape = conv2d(x0, wt, stride=stride, padding=padding).shape

    def forward(x: Any) -> Any:
        return conv2d(x, wt, stride=stride, padding=padding)

    def mv(v: np.ndarray) -> np.ndarray:
        return forward(torch.from_numpy(np.ascontiguousarray(v).reshape(shape))).numpy().ravel()

    def rmv(u: np.ndarray) -> np.ndarray:
        y = torch.from_numpy(np.ascontiguousarray(u).reshape(out_shape))
        return torch.autograd.functional.vjp(forward, x0, y)[1].numpy().ravel()

    op = sla.LinearOperator((math.prod(out_shape), math.prod(shape)), matvec=mv,
                            rmatvec=rmv, dtype=np.float64)
    return float(sla.svds(op, k=1, tol=tol, return_singular_vectors=False,
                          random_state=0)[0])


class TorchThreads:
    """``torch.set_num_threads(threads)`` until :meth:`restore` (``NotImplementedError``
    with the reason where torch cannot be used)."""

    def __init__(self, threads: int) -> None:
        torch = torch_module()
        if isinstance(torch, str):
            raise NotImplementedError(torch)
        self.torch = torch
        self._previous = torch.get_num_threads()
        torch.set_num_threads(int(threads))
        self.threads = torch.get_num_threads()

    def restore(self) -> None:
        """Put back the torch thread count in force before."""
        self.torch.set_num_threads(self._previous)


class TorchPeer:
    """The torch peer for one weight and input size, split into its two steps.

    Parameters
    ----------
    weight : numpy.ndarray
        float64 ``(cout, cin, k, k)`` weights (PyTorch layout).
    n : int
        Input size (``n x n``, periodic).
    peer : {"torch", "torch-cuda"}
        The device.
    threads : int
        ``torch.set_num_threads`` while the peer is in use (CPU);
        :meth:`restore` puts the previous count back.

    Raises
    ------
    NotImplementedError
        If the peer cannot run here (the suite's skip), with the reason.
    """

    def __init__(self, weight: np.ndarray, n: int, peer: str = "torch", threads: int = 1):
        why = reason(peer)
        if why is None and isinstance(torch_module(), str):
            why = torch_module()
        if why is not None:
            raise NotImplementedError(why)
        if weight.ndim != 4 or weight.dtype != np.float64:
            raise ValueError("weight must be float64 (cout, cin, k, k)")
        if n < max(weight.shape[-2:]):
            raise ValueError(f"n must be at least the kernel size; got {n}")
        self.torch = torch_module()
        self.cuda = peer == "torch-cuda"
        self.device = "cuda" if self.cuda else "cpu"
        self.n = int(n)
        self._threads = TorchThreads(threads)
        self.threads = self._threads.threads
        self.host_weight = np.ascontiguousarray(weight)
        self.weight = self.torch.from_numpy(self.host_weight).to(self.device)

    def restore(self) -> None:
        """Put back the torch thread count in force before this peer was made."""
        self._threads.restore()

    def sync(self) -> None:
        """Wait for the device (CUDA); nothing on the CPU."""
        if self.cuda:
            self.torch.cuda.synchronize()

    def symbol(self, weight: Any = None) -> Any:
        """The ``(n, n, cout, cin)`` symbol: ``torch.fft.fft2`` of the padded kernel (a view)."""
        w = self.weight if weight is None else weight
        return self.torch.fft.fft2(w, s=(self.n, self.n)).permute(2, 3, 0, 1)

    def sorted_values(self, blocks: Any) -> Any:
        """Every singular value of the blocks, sorted descending (a tensor on the device)."""
        values = self.torch.linalg.svdvals(blocks).reshape(-1)
        return self.torch.sort(values, descending=True).values

    def singular_values(self) -> np.ndarray:
        """End to end from the host's weights: symbol, ``svdvals``, sort, back to numpy."""
        weight = self.torch.from_numpy(self.host_weight).to(self.device)
        values = self.sorted_values(self.symbol(weight))
        return values.cpu().numpy()
