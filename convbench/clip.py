"""``clip``: project a layer onto the layers whose periodic singular values are at most a
bound (Sedghi, Gupta & Long, 2019, section 4).

One round of the alternating projection:

1. the symbol blocks of the layer on its frequency grid, and their SVDs
   (:mod:`convbench.symbols`; strided layers through their polyphase reduction, groups
   block by block);
2. every singular value above ``max_sigma`` set to ``max_sigma``: the nearest operator,
   in the Frobenius norm, whose spectral norm is at most ``max_sigma``;
3. the clipped blocks transformed back to a periodic kernel on the whole grid (an
   inverse DFT);
4. the kernel restricted to the layer's own support (its taps at their offsets; every
   other coefficient, and every polyphase entry no tap reads, set to zero): the nearest
   layer of the same shape.

Both sets are convex (a norm ball, a subspace), so the rounds approach a layer in both
(``schedule="alternating"``). They do so slowly near the end: on a 16-channel 3x3 layer
at 64 x 64 (PyTorch's initialisation times 3, clipped to 1), 300 rounds left sigma_max at
1.0011. The default ``schedule="adaptive"`` lowers the clip level after each round by
``sqrt(max_sigma / sigma_max)`` of that round, which passes the bound in 2 to 3 rounds,
overshooting below it; it then goes back along the segment towards the input, by
bisection on sigma_max (a convex function along the segment), to the nearest point within
the tolerance. On four layers (4 to 16 channels, 8 x 8 to 64 x 64, one strided) it took
3 rounds each and moved 2.3 to 3.7% further from the input than the alternating rounds,
which needed 32 and 224 rounds on the two they finished within 300.

The periodic sigma_max of each round's layer is its next round's first step, so every
round is measured. The result is the first round's layer within the tolerance, or else
the round with the smallest sigma_max (the input itself when no round improved on it):
sigma_max never rises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .layer import Conv, Polyphase, bind_layer
from .memory import check_memory
from .symbols import lfa_blocks

__all__ = ["SCHEDULES", "ClipReport", "clip"]

#: The schedules of the clip level (see :func:`clip`).
SCHEDULES = ("adaptive", "alternating")


@dataclass(frozen=True, eq=False)
class ClipReport:
    """The clipped layer and what it took.

    Attributes
    ----------
    weight : numpy.ndarray
        The clipped weight, in the input's layout (``oihw`` for a :class:`Conv`).
    layer : Conv
        The clipped layer.
    sigma_before, sigma_after : float
        Periodic sigma_max of the input and of the result.
    max_sigma : float
        The bound asked for.
    iterations : int
        Rounds run.
    distance : float
        Frobenius norm of the change of the weight.
    relative_distance : float
        ``distance`` over the input weight's Frobenius norm.
    reached : bool
        ``sigma_after <= max_sigma * (1 + tol)``.
    tol : float
        The relative tolerance.
    """

    weight: np.ndarray
    layer: Conv
    sigma_before: float
    sigma_after: float
    max_sigma: float
    iterations: int
    distance: float
    relative_distance: float
    reached: bool
    tol: float

    def __str__(self) -> str:
        state = "reached" if self.reached else "not reached"
        return (
            f"clip to {self.max_sigma:g}: sigma_max {self.sigma_before:.6g} -> "
            f"{self.sigma_after:.6g} ({state}, tol {self.tol:g}) in {self.iterations} "
            f"round(s), moved {self.distance:.4g} ({self.relative_distance:.2%} of the weight)"
        )


def _support(layer: Conv) -> tuple[np.ndarray, np.ndarray]:
    """Where each weight entry sits in the polyphase kernel: ``(weight_index, poly_index)``,
    both flat. Found by building the polyphase kernel of the entries' own numbers."""
    numbers = np.arange(1, layer.weight.size + 1, dtype=np.float64).reshape(layer.weight.shape)
    poly = layer.replace(weight=numbers).polyphase().kernel.reshape(-1)
    where = np.flatnonzero(poly)
    labels = poly[where]
    if where.size != layer.weight.size or not np.array_equal(np.sort(labels), numbers.reshape(-1)):
        # a validated layer's taps sit at distinct offsets of the torus (its extent is
        # at most the input size), and the phase split is a bijection
        raise RuntimeError(f"two taps of {layer.describe()} share a polyphase entry")
    return labels.astype(np.int64) - 1, where


def _blocks(kernel: np.ndarray, poly: Polyphase) -> np.ndarray:
    return lfa_blocks(Polyphase(kernel, poly.origin, poly.grid, poly.transposed))


def _sigma_max(blocks: np.ndarray) -> float:
    return float(np.linalg.svd(blocks, compute_uv=False).max(initial=0.0))


def _project(blocks: np.ndarray, bound: float, poly: Polyphase) -> np.ndarray:
    """Clip the blocks' singular values at ``bound`` and return the periodic kernel of the
    clipped operator restricted to the polyphase kernel's taps (full, before masking)."""
    u, s, vh = np.linalg.svd(blocks, full_matrices=False)
    clipped = (u * np.minimum(s, bound)[..., None, :]) @ vh  # (*grid, g, rows, cols)
    d = len(poly.grid)
    full = np.fft.fftn(clipped, axes=tuple(range(d))).real / math.prod(poly.grid)
    # tap b of the kernel sits at offset b + origin on the grid (mod the grid)
    index = np.ix_(
        *((np.arange(k) + o) % n for k, o, n in zip(poly.taps, poly.origin, poly.grid, strict=True))
    )
    taps = full[index]  # (*taps, g, rows, cols)
    return np.moveaxis(taps, tuple(range(d)), tuple(range(3, 3 + d)))


def _back_off(
    poly: Polyphase, kernel: np.ndarray, max_sigma: float, target: float
) -> tuple[np.ndarray, float]:
    """The point nearest the input on the segment from the input to ``kernel`` whose
    sigma_max is at most ``target``, found by bisection (sigma_max is convex along the
    segment, above ``target`` at the input and below ``max_sigma`` at ``kernel``)."""
    start, step = poly.kernel, kernel - poly.kernel
    lo, hi, sigma = 0.0, 1.0, _sigma_max(_blocks(kernel, poly))
    for _ in range(60):
        if sigma >= max_sigma:  # within [max_sigma, target]: close enough
            break
        mid = (lo + hi) / 2
        trial = _sigma_max(_blocks(start + mid * step, poly))
        if trial <= target:
            hi, sigma = mid, trial
        else:
            lo = mid
        if hi - lo < 1e-12:
            break
    return start + hi * step, sigma


def _clip_layer(
    layer: Conv,
    max_sigma: float,
    rounds: int,
    tol: float,
    schedule: str,
    memory_budget: Any,
) -> tuple[Conv, float, float, int]:
    poly = layer.polyphase()
    rows, cols = poly.block
    r = min(rows, cols)
    cells = math.prod(poly.grid) * poly.groups
    check_memory(
        16 * cells * (3 * rows * cols + (rows + cols) * r),
        memory_budget,
        f"clip of {layer.describe()}",
        "Clip on a smaller input size: the bound then holds on that torus and on the "
        "tori whose sizes divide it, not on larger ones.",
    )
    weight_index, poly_index = _support(layer)
    kernel = poly.kernel
    blocks = _blocks(kernel, poly)
    before = _sigma_max(blocks)
    best_kernel, best_sigma = kernel, before
    target = max_sigma * (1 + tol)
    level, done = max_sigma, 0
    while best_sigma > target and done < rounds:
        done += 1
        projected = _project(blocks, level, poly).reshape(-1)
        kernel = np.zeros(poly.kernel.size)
        kernel[poly_index] = projected[poly_index]
        kernel = kernel.reshape(poly.kernel.shape)
        blocks = _blocks(kernel, poly)
        sigma = _sigma_max(blocks)
        if sigma < best_sigma:
            best_kernel, best_sigma = kernel, sigma
        if schedule == "adaptive":
            level *= math.sqrt(max_sigma / sigma)
    if schedule == "adaptive" and done and best_sigma < max_sigma:
        best_kernel, best_sigma = _back_off(poly, best_kernel, max_sigma, target)
    weight = np.zeros(layer.weight.size)
    weight[weight_index] = best_kernel.reshape(-1)[poly_index]
    clipped = layer.replace(weight=weight.reshape(layer.weight.shape))
    return clipped, before, best_sigma, done


def _to_layout(weight: np.ndarray, layout: str) -> np.ndarray:
    if layout == "hwio":
        d = weight.ndim - 2
        return np.ascontiguousarray(weight.transpose(*range(2, 2 + d), 1, 0))
    return weight


def clip(
    weight: Any,
    shape: Any = None,
    max_sigma: float = 1.0,
    *,
    rounds: int = 100,
    tol: float = 1e-3,
    rescale: bool = False,
    schedule: str = "adaptive",
    memory_budget: int | float | str | None = None,
    **layer_keywords: Any,
) -> ClipReport:
    """Project a layer onto the layers whose periodic singular values are at most
    ``max_sigma``, keeping its kernel's support (alternating projection).

    Parameters
    ----------
    weight : array_like or Conv
        The weights (layout ``layout``) or a :class:`Conv` (its settings are its own).
    shape : tuple of int, optional
        The input size (the torus the spectrum is clipped on). The bound holds on this
        torus and on every torus whose size divides it (their frequencies are among
        its own), not on larger ones: the clipped kernel's sigma_max on a larger torus
        may exceed ``max_sigma``. Left out with an array weight: the smallest torus
        where no tap wraps around.
    max_sigma : float
        The bound, positive and finite (default 1: a 1-Lipschitz layer).
    rounds : int
        Most rounds of the projection.
    tol : float
        Stop when the periodic sigma_max is at most ``max_sigma * (1 + tol)``.
    schedule : {"adaptive", "alternating"}
        ``"alternating"``: Sedghi et al.'s rounds as written, each clipping at
        ``max_sigma``; they approach the bound slowly near the end (hundreds of rounds
        for 1e-3 on a 16-channel layer at 64 x 64). ``"adaptive"`` (default): each
        round clips at a level lowered by ``sqrt(max_sigma / sigma_max)`` of the last
        round, which reaches the bound in a few rounds but overshoots below it, then
        goes back along the segment towards the input (bisection on sigma_max, convex
        there) to the nearest point within the tolerance.
    rescale : bool
        If the best round is still above ``max_sigma``, scale it by
        ``max_sigma / sigma_max``: the bound then holds exactly, at a larger distance.
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`); checked before anything large is
        allocated.
    **layer_keywords
        ``layout``, ``stride``, ``dilation``, ``groups``, ``padding``,
        ``output_padding``, ``transposed`` as for :func:`convbench.as_layer`;
        ``boundary`` may only be ``"periodic"``.

    Returns
    -------
    ClipReport
        The best layer found (the weight in the input's layout) with sigma_max before
        and after, the rounds, the distance moved and whether the bound was reached.

    Raises
    ------
    ValueError
        ``max_sigma`` not positive and finite, ``rounds`` below 1, ``tol`` negative, or
        a zero-padded layer.
    """
    if isinstance(max_sigma, bool) or not isinstance(max_sigma, (int, float, np.number)):
        raise TypeError(f"max_sigma must be a positive number; got {max_sigma!r}")
    if not (np.isfinite(max_sigma) and max_sigma > 0):
        raise ValueError(f"max_sigma must be positive and finite; got {max_sigma!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer; got {rounds!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < np.inf:
        raise ValueError(f"tol must be a non-negative number; got {tol!r}")
    layout = "oihw" if isinstance(weight, Conv) else layer_keywords.get("layout", "oihw")
    layer = bind_layer(
        weight,
        shape,
        function="clip",
        boundaries=("periodic",),
        torus=True,
        **layer_keywords,
    )
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    if not isinstance(rescale, (bool, np.bool_)):
        raise TypeError(f"rescale must be True or False; got {rescale!r}")
    clipped, before, after, done = _clip_layer(
        layer, float(max_sigma), int(rounds), float(tol), schedule, memory_budget
    )
    if rescale and after > max_sigma:
        clipped = clipped.replace(weight=clipped.weight * (max_sigma / after))
        after = _sigma_max(lfa_blocks(clipped.polyphase()))
    moved = float(np.linalg.norm(clipped.weight - layer.weight))
    norm = float(np.linalg.norm(layer.weight))
    return ClipReport(
        weight=_to_layout(clipped.weight, layout),
        layer=clipped,
        sigma_before=before,
        sigma_after=after,
        max_sigma=float(max_sigma),
        iterations=done,
        distance=moved,
        relative_distance=moved / norm if norm else 0.0,
        reached=after <= float(max_sigma) * (1 + tol),
        tol=float(tol),
    )
