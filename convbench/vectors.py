"""Singular vectors: the block factors on the frequency grid, and real triplets.

**On the torus.** The periodic layer is block diagonal in the Fourier basis: with the
symbol ``B_g(t)`` of group ``g`` (:mod:`convbench.symbols`) and a block SVD
``B_g(t) = U S V^H``, the input ``x[c, r] = v[c] exp(i <t, r>) / sqrt(N)`` on the
coarse grid (``N`` its size, ``c`` the polyphase channel ``(channel, phase)``) goes to
``s * u[o] exp(i <t, r>) / sqrt(N)``. :func:`block_factors` returns ``U, s, V^H`` for
every frequency and group. :func:`singular_triplets` turns a selection of values
(``top_k``, the values at or above ``threshold``, or all) into vectors in the layer's
own input and output shapes, real-valued:

- the weights are real, so ``B(-t) = conj(B(t))``: the triplets at ``t`` and ``-t``
  come in conjugate pairs, and the pair gives the two real vectors
  ``sqrt(2) Re`` and ``sqrt(2) Im`` of the complex one (one of them, ``Re``, when the
  selection holds only one of the pair);
- a frequency with ``t = -t`` (every coordinate 0 or pi) has a real block, and its real
  SVD gives real vectors directly.

Every vector has unit norm, the vectors of one side are orthonormal, and
``A v = s u`` (``A`` the layer, ``A^T u = s v`` too) holds to rounding. The polyphase
channels map back to the input's strided positions ``stride*r + phase``; for a
transposed layer the canonical forward map is the layer's adjoint, so its left and right
vectors trade places. Only the selected frequencies are factored with vectors: the
values come first from a values-only SVD of every block, so ``top_k`` costs the memory
of the values plus the ``top_k`` vectors.

``method="fast"`` hands its vector requests to LAPACK on the ``lfa`` symbol (the fast
path computes values only).

**Zero padding.** The top ``top_k`` triplets come from the certified block Lanczos of
:mod:`convbench.krylov` on the matrix-free operator, with the bounds of its
certificate; a zero-padded layer has no Fourier diagonalisation, so ``top_k`` is
required there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .layer import Conv, takes_layer
from .memory import check_memory

__all__ = ["VECTOR_METHODS", "BlockFactors", "Triplets", "block_factors", "singular_triplets"]

#: The methods that give singular vectors of the periodic layer.
VECTOR_METHODS = ("lfa", "fft", "fftw", "fast")

_ADVICE = (
    "Ask for fewer vectors (top_k=k, or threshold=...), for the block factors only "
    "(convbench.block_factors), or use a smaller input size."
)


@dataclass(frozen=True, eq=False)
class BlockFactors:
    """The SVD of every symbol block: ``B[j, g] = u[j, g] @ diag(s[j, g]) @ vh[j, g]``.

    Attributes
    ----------
    u : numpy.ndarray
        complex128 ``(*grid, groups, rows, r)``, ``r = min(rows, cols)``.
    s : numpy.ndarray
        float64 ``(*grid, groups, r)``, descending within each block.
    vh : numpy.ndarray
        complex128 ``(*grid, groups, r, cols)``.
    layer : Conv
        The layer. The blocks are those of its canonical forward map (the layer's
        adjoint when it is transposed): ``rows = cout/groups`` and
        ``cols = (cin/groups)*prod(stride)`` of that map, its input channels ordered
        ``(channel, phase_1, ..., phase_d)``; frequency ``j`` is ``2*pi*j/grid``.
    """

    u: np.ndarray
    s: np.ndarray
    vh: np.ndarray
    layer: Conv


@dataclass(frozen=True, eq=False)
class Triplets:
    """Singular triplets ``(values[i], left[i], right[i])`` of a layer: ``A right[i] =
    values[i] * left[i]``, real unit vectors in the layer's own shapes.

    Attributes
    ----------
    values : numpy.ndarray
        float64 ``(k,)``, descending.
    left : numpy.ndarray
        float64 ``(k, cout, *out_shape)``: output-space vectors.
    right : numpy.ndarray
        float64 ``(k, cin, *shape)``: input-space vectors.
    bounds : numpy.ndarray or None
        Zero padding: the block Lanczos certificate of each value (see
        :mod:`convbench.krylov`); ``None`` on the torus, where the factors are exact.
    layer : Conv
        The layer.
    """

    values: np.ndarray
    left: np.ndarray
    right: np.ndarray
    bounds: np.ndarray | None
    layer: Conv

    def __len__(self) -> int:
        return int(self.values.size)


# ---------------------------------------------------------------------------------------
# the periodic layer


def _check_method(method: Any) -> str:
    if method not in VECTOR_METHODS:
        raise ValueError(
            f"singular vectors come from the methods {VECTOR_METHODS} on the torus (and "
            f"block Lanczos for boundary='zero'); got method={method!r}"
        )
    return "lfa" if method == "fast" else method


def _blocks(layer: Conv, method: str, threads: int | None, planner_effort: str) -> np.ndarray:
    from .symbols import grid_blocks

    return grid_blocks(layer, method, threads=threads, planner_effort=planner_effort)


def _symbol_bytes(layer: Conv) -> int:
    rows, cols = layer.block_shape
    return 16 * math.prod(layer.grid) * layer.groups * rows * cols


def factors_bytes(layer: Conv) -> int:
    """Bytes of :func:`block_factors`: the symbol, its copy in LAPACK and ``U, s, V^H``
    (``(rows + cols) * min(rows, cols)`` complex numbers per frequency and group)."""
    rows, cols = layer.block_shape
    r = min(rows, cols)
    per_block = 16 * (2 * rows * cols + (rows + cols) * r) + 8 * r
    return math.prod(layer.grid) * layer.groups * per_block


@takes_layer(boundaries=("periodic",))
def block_factors(
    layer: Conv,
    method: str = "lfa",
    *,
    threads: int | None = None,
    planner_effort: str = "FFTW_ESTIMATE",
    memory_budget: int | float | str | None = None,
) -> BlockFactors:
    """The SVD ``U, s, V^H`` of every block of the periodic layer's symbol.

    Parameters
    ----------
    method : {"lfa", "fft", "fftw", "fast"}
        The transform of the symbol (``fast`` uses ``lfa``'s), then one batched LAPACK
        SVD with vectors.
    threads : int, optional
        FFTW threads (``fftw`` only).
    planner_effort : str
        FFTW planner flag (``fftw`` only).
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`); checked before anything is
        allocated.

    Returns
    -------
    BlockFactors
        ``u, s, vh`` on the grid; ``u @ (s[..., None] * vh)`` is the symbol.

    Raises
    ------
    convbench.BudgetError
        If the factors cannot fit in the memory budget.
    """
    transform = _check_method(method)
    check_memory(
        factors_bytes(layer),
        memory_budget,
        f"the block factors (U, s, V^H) of {layer.describe()}",
        "Ask for the top_k triplets (convbench.singular_triplets) or use a smaller input size.",
    )
    u, s, vh = np.linalg.svd(
        _blocks(layer, transform, threads, planner_effort), full_matrices=False
    )
    return BlockFactors(u, s, vh, layer)


def _self_conjugate(grid: tuple[int, ...]) -> np.ndarray:
    """Boolean ``grid`` array: frequencies with ``t = -t`` (each ``j`` is 0 or ``n/2``)."""
    out = np.ones(grid, dtype=bool)
    for axis, n in enumerate(grid):
        shape = [1] * len(grid)
        shape[axis] = n
        out &= ((2 * np.arange(n)) % n == 0).reshape(shape)
    return out


def _partner(j: tuple[int, ...], grid: tuple[int, ...]) -> tuple[int, ...]:
    return tuple((-a) % n for a, n in zip(j, grid, strict=True))


def _waves(j: tuple[int, ...], grid: tuple[int, ...]) -> np.ndarray:
    """``exp(i <t_j, r>) / sqrt(N)`` on the coarse grid, exact angles (``j*r mod n``)."""
    wave = np.ones((), dtype=np.complex128)
    for a, n in zip(j, grid, strict=True):
        wave = np.multiply.outer(wave, np.exp(2j * np.pi * ((a * np.arange(n)) % n) / n))
    return wave / math.sqrt(math.prod(grid))


def _unphase(xp: np.ndarray, layer: Conv) -> np.ndarray:
    """Polyphase input ``((cin/groups)*prod(s), *grid)`` of one group -> ``(cin/groups,
    *fwd_in)``: channel ``(i, phi)`` at coarse ``r`` is input ``i`` at ``s*r + phi``."""
    d = layer.d
    ci = layer.group_in
    x = xp.reshape(ci, *layer.stride, *layer.grid)
    # (ci, phi_1..phi_d, r_1..r_d) -> (ci, r_1, phi_1, ..., r_d, phi_d)
    order = [0, *(a for k in range(d) for a in (1 + d + k, 1 + k))]
    return x.transpose(order).reshape(ci, *layer.fwd_in)


def _vectors(
    layer: Conv, x_blocks: list[tuple[int, np.ndarray]], y_blocks: list[tuple[int, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-group canonical vectors into the layer's right and left vectors."""
    k = len(x_blocks)
    x = np.zeros((k, layer.fwd_cin, *layer.fwd_in))
    y = np.zeros((k, layer.fwd_cout, *layer.fwd_out))
    ci, co = layer.group_in, layer.group_out
    for i, ((g, xp), (_g, yp)) in enumerate(zip(x_blocks, y_blocks, strict=True)):
        x[i, g * ci : (g + 1) * ci] = _unphase(xp, layer)
        y[i, g * co : (g + 1) * co] = yp
    # the canonical map takes x to y; a transposed layer is its adjoint
    return (y, x) if layer.transposed else (x, y)


def _select(values: np.ndarray, top_k: int | None, threshold: float | None) -> np.ndarray:
    """Flat indices of the selected values, in descending order of value."""
    flat = values.reshape(-1)
    order = np.argsort(-flat, kind="stable")
    if top_k is not None:
        return order[:top_k]
    if threshold is not None:
        return order[flat[order] >= threshold]
    return order


def _periodic_triplets(
    layer: Conv,
    method: str,
    top_k: int | None,
    threshold: float | None,
    threads: int | None,
    planner_effort: str,
    memory_budget: Any,
) -> Triplets:
    transform = _check_method(method)
    what = f"singular vectors of {layer.describe()}"
    vector_bytes = 8 * (layer.rows + layer.cols)
    count = layer.n_values if top_k is None and threshold is None else (top_k or 0)
    check_memory(_symbol_bytes(layer) * 2 + vector_bytes * count, memory_budget, what, _ADVICE)
    blocks = _blocks(layer, transform, threads, planner_effort)  # (*grid, g, rows, cols)
    grid, groups = layer.grid, layer.groups
    values = np.linalg.svd(blocks, compute_uv=False)  # (*grid, g, r)
    r = values.shape[-1]
    chosen = _select(values, top_k, threshold)
    if threshold is not None:
        check_memory(
            _symbol_bytes(layer) * 2 + vector_bytes * chosen.size,
            memory_budget,
            f"{what} ({chosen.size} values at or above {threshold!r})",
            _ADVICE,
        )
    real = _self_conjugate(grid)
    factored: dict[tuple[tuple[int, ...], int], tuple[np.ndarray, np.ndarray]] = {}
    pairs_seen: dict[tuple[tuple[int, ...], int, int], int] = {}
    x_blocks: list[tuple[int, np.ndarray]] = []
    y_blocks: list[tuple[int, np.ndarray]] = []
    for flat in chosen:
        *j, g, m = np.unravel_index(int(flat), (*grid, groups, r))
        j = tuple(int(a) for a in j)
        g, m = int(g), int(m)
        if real[j]:
            key = (j, g)
            if key not in factored:
                u, _s, vh = np.linalg.svd(blocks[(*j, g)].real, full_matrices=False)
                factored[key] = (u, vh)
            u, vh = factored[key]
            wave = _waves(j, grid).real
            x_blocks.append((g, np.multiply.outer(vh[m], wave)))
            y_blocks.append((g, np.multiply.outer(u[:, m], wave)))
            continue
        canon = min(j, _partner(j, grid))
        key = (canon, g)
        if key not in factored:
            u, _s, vh = np.linalg.svd(blocks[(*canon, g)], full_matrices=False)
            factored[key] = (u, vh)
        u, vh = factored[key]
        wave = _waves(canon, grid) * math.sqrt(2)
        xc = np.multiply.outer(vh[m].conj(), wave)
        yc = np.multiply.outer(u[:, m], wave)
        seen = pairs_seen.get((canon, g, m), 0)
        pairs_seen[(canon, g, m)] = seen + 1
        part = np.real if seen == 0 else np.imag
        x_blocks.append((g, part(xc)))
        y_blocks.append((g, part(yc)))
    right, left = _vectors(layer, x_blocks, y_blocks)
    picked = values.reshape(-1)[chosen].astype(np.float64)
    return Triplets(picked, left, right, None, layer)


# ---------------------------------------------------------------------------------------
# zero padding


def _zero_triplets(layer: Conv, top_k: int, rtol: float, memory_budget: Any) -> Triplets:
    from .extremes import block_maxiter
    from .krylov import block_parameters, vector_triplets
    from .operators import conv_operator

    small = min(layer.rows, layer.cols)
    b, basis = block_parameters(top_k, small)
    check_memory(
        8 * (basis + 3 * b) * small + 8 * top_k * (layer.rows + layer.cols),
        memory_budget,
        f"the top {top_k} singular vectors of {layer.describe()}",
        _ADVICE,
    )
    top = vector_triplets(
        conv_operator(layer),
        top_k,
        rtol=rtol,
        maxiter=block_maxiter(layer),
        what=layer.describe(),
    )
    left = top.left.T.reshape(top_k, layer.cout, *layer.out_shape)
    right = top.right.T.reshape(top_k, layer.cin, *layer.shape)
    return Triplets(top.values, left, right, top.bounds, layer)


# ---------------------------------------------------------------------------------------
# the public function


@takes_layer()
def singular_triplets(
    layer: Conv,
    method: str | None = None,
    *,
    top_k: int | None = None,
    threshold: float | None = None,
    threads: int | None = None,
    planner_effort: str = "FFTW_ESTIMATE",
    memory_budget: int | float | str | None = None,
    rtol: float = 1e-10,
) -> Triplets:
    """Singular values with their left and right singular vectors, real, in the layer's
    own shapes.

    Parameters
    ----------
    method : {"lfa", "fft", "fftw", "fast"}, optional
        The transform on the torus (default ``"lfa"``; ``fast`` hands vectors to LAPACK
        on the ``lfa`` symbol). With ``boundary="zero"`` only block Lanczos applies
        (``"explicit"``, the default there).
    top_k : int, optional
        The ``top_k`` largest values and their vectors. Required for
        ``boundary="zero"``.
    threshold : float, optional
        Every value at or above ``threshold`` (torus only; not with ``top_k``).
        Without ``top_k`` and ``threshold``: every triplet, ``min(rows, cols)`` of them.
    threads : int, optional
        FFTW threads (``fftw`` only).
    planner_effort : str
        FFTW planner flag (``fftw`` only).
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`): the symbol and the returned
        vectors, ``8 * (rows + cols)`` bytes a triplet, are checked before they are
        allocated.
    rtol : float
        Zero padding: certify each triplet, its value and its residual
        ``||A^T u - s v||``, within ``rtol`` times the largest value.

    Returns
    -------
    Triplets
        ``values`` descending, ``left`` ``(k, cout, *out_shape)``, ``right``
        ``(k, cin, *shape)`` with ``A right[i] = values[i] * left[i]``.

    Raises
    ------
    ValueError
        Zero padding without ``top_k``, ``threshold`` with ``top_k`` or on zero
        padding, a method without vectors.
    convbench.BudgetError
        If the vectors cannot fit in the memory budget; ask for fewer.
    """
    from .spectrum import _check_top_k

    top_k = _check_top_k(top_k, layer.n_values)
    if threshold is not None:
        if top_k is not None:
            raise ValueError("give top_k or threshold, not both")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
            raise TypeError(f"threshold must be a number; got {threshold!r}")
        if not np.isfinite(threshold):
            raise ValueError(f"threshold must be finite; got {threshold!r}")
        threshold = float(threshold)
    if layer.boundary == "zero":
        if method not in (None, "explicit"):
            raise ValueError(
                f"boundary='zero' takes its vectors from block Lanczos (method='explicit'); "
                f"got method={method!r}"
            )
        if top_k is None:
            raise ValueError(
                "singular vectors of a zero-padded layer need top_k: they come from block "
                "Lanczos, one certified triplet at a time (the torus has every vector: "
                "boundary='periodic')"
            )
        if threshold is not None:
            raise ValueError("threshold applies on the torus only; give top_k")
        return _zero_triplets(layer, top_k, rtol, memory_budget)
    return _periodic_triplets(
        layer, method or "lfa", top_k, threshold, threads, planner_effort, memory_budget
    )
