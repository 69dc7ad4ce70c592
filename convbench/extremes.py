"""The extreme singular values of a layer's matrix-free operator (:mod:`convbench.operators`).

:func:`top_singular_values` runs Lanczos on that operator: for ``k = 1`` the
single-vector :func:`golub_kahan_top`, for ``k > 1`` the certified block Lanczos of
:mod:`convbench.krylov`, which returns every copy of a repeated value (single-vector
Lanczos, ARPACK's included, finds one copy of each). This is how
``singular_values(..., method="explicit", top_k=k)`` reaches inputs of 256 x 256 with
64 channels (over four million unknowns). It starts from a smooth vector built from the
polyphase symbol's maximiser (:func:`_smooth_start`), close to the top singular vector
of a large layer.

:func:`smallest_singular_values` returns the ``k`` smallest singular values, which
Lanczos on ``A^T A`` finds only very slowly (they are clustered near zero relative to
``sigma_max``). It therefore uses, by size:

* a dense SVD when the dense matrix has at most :data:`DENSE_SMALLEST_LIMIT` entries;
* shift-invert otherwise: a sparse LU factorisation of ``A`` (square operators) or of
  ``A^T A`` (rectangular ones), and Lanczos on the inverse, whose largest singular
  values are the reciprocals of the smallest ones. The LU fill grows like
  ``(c * n * m)^1.5`` on a 2-D grid; it is refused beyond
  :data:`SHIFT_INVERT_LIMIT` unknowns. The ``A^T A`` route squares the condition
  number: values below about ``1e-8 * sigma_max`` lose their relative accuracy.
"""


from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from . import flat_taps
from .bounds import torus_layer
from .costs import nonzeros
from .explicit import assemble
from .flat_taps import FlatConv
from .krylov import ConvergenceWarning, certified_top_values
from .layer import Conv, takes_layer
from .memory import check_memory
from .operators import operator_of
from .svd import sort_descending
from .symbols import symbol_points

__all__ = [
    "DENSE_SMALLEST_LIMIT",
    "SHIFT_INVERT_LIMIT",
    "ConvergenceWarning",
    "block_maxiter",
    "golub_kahan_top",
    "layer_top_certified",
    "layer_top_values",
    "smallest_singular_values",
    "top_singular_values",
]

#: Largest dense matrix (entries) for which the smallest values use a dense SVD.
DENSE_SMALLEST_LIMIT = 4096 * 4096
#: Most unknowns (``min(cout, cin) * n * m``) for the shift-invert smallest values.
SHIFT_INVERT_LIMIT = 65_536


def _start_vector(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(size)


@takes_layer("zero")
def top_singular_values(
    layer: Conv,
    k: int = 1,
    *,
    rtol: float = 1e-9,
    maxiter: int | None = None,
) -> np.ndarray:
    """The ``k`` largest singular values by Lanczos on the matrix-free operator.

    ``k = 1`` uses :func:`golub_kahan_top` (no restarts, two vectors of memory);
    ``k > 1`` uses the block Lanczos of :func:`convbench.krylov.certified_top_values`
    (block width ``k + max(2, k // 2)``, at most ``max(12 b, 40)`` basis vectors), which
    finds every copy of a repeated value (dilated layers whose dilation divides the
    padded grid, depthwise layers with equal channels) and certifies each value. Both
    start from a smooth vector built from the symbol's maximiser (:func:`_smooth_start`).

    The plain layer uses the im2col :class:`ConvOperator`, every other one
    :class:`LayerOperator`.

    Parameters
    ----------
    k : int
        How many values; ``1 <= k < min(rows, cols)``.
    rtol : float
        ``k = 1``: relative accuracy (the top Ritz pair's residual below ``rtol / 4``
        and the value changed by less than ``rtol`` over ten steps; see
        :func:`golub_kahan_top`); ``k > 1``: every value certified within ``rtol``
        times the largest (:mod:`convbench.krylov`).
    maxiter : int, optional
        Most Lanczos steps for ``k = 1`` (default ``8 n`` for the largest input side
        ``n``, at least 500), block steps for ``k > 1`` (default :func:`block_maxiter`);
        reaching it first raises a :class:`ConvergenceWarning`, for ``k > 1`` naming the
        values left uncertified.

    Returns
    -------
    numpy.ndarray
        The ``k`` largest singular values, descending.
    """
    return _layer_top(layer, k, rtol, maxiter, None)


def _layer_top(
    layer: Conv, k: int, rtol: float, maxiter: int | None, theta: Any
) -> np.ndarray:
    op = operator_of(layer)
    k = _check_k(k, op)
    v0 = _smooth_start(layer, theta)
    if k == 1:
        steps = _maxiter(layer, maxiter)
        fast, v0 = _single_vector(layer, op, v0)
        return np.array([golub_kahan_top(fast, v0, rtol=rtol, maxiter=steps)[0]])
    return certified_top_values(
        op, k, rtol=rtol, maxiter=block_maxiter(layer, maxiter), v0=v0, what=layer.describe()
    )


def _single_vector(
    layer: Conv, op: Any, v0: np.ndarray
) -> tuple[Any, np.ndarray]:
    """The operator and start vector :func:`golub_kahan_top` runs on: for the plain
    zero-padded layer of four channels or more (:func:`convbench.flat_taps.takes`) the
    tap-GEMM operator on padded channels-last vectors, with its fused Lanczos update
    (a step 0.12 s where im2col took 0.30 s, 64 channels at 256 x 256, two threads),
    else ``op`` itself."""
    if not flat_taps.takes(layer):
        return op, v0
    flat = FlatConv(layer.weight, *layer.shape)
    return flat.operator(), flat.pack(v0, layer.cin).ravel()


def block_maxiter(layer: Conv, maxiter: int | None = None) -> int:
    """``maxiter``, or the default block-step limit of the block Lanczos on ``layer``.

    The steps grow like the largest side ``n`` on 2-D layers (measured 63 to 129 at
    n = 32 to 64 with 8 channels, 443 at n = 96 with 4, ``k = 2``) and like ``n^1.5``
    on 1-D ones (113 and 929 at n = 256 and 1024, 4 channels): ``8 n`` or ``n^1.5 / 4``,
    at least 500.
    """
    side = max(layer.shape)
    return max(500, 8 * side, int(side**1.5 / 4)) if maxiter is None else maxiter


def _maxiter(layer: Conv, maxiter: int | None) -> int:
    """``maxiter``, or the default step limit of :func:`golub_kahan_top` on ``layer``.

    The top values of a zero-padded layer crowd like ``1/n^2``, so the steps to a given
    residual grow like ``n``: 220 at n = 64 and 380 at n = 128 (64 channels, 3x3,
    ``rtol = 1e-9``). The default leaves twice that room and more: ``8 n``, at least 500.
    """
    return max(500, 8 * max(layer.shape)) if maxiter is None else maxiter


def _smooth_start(layer: Conv, theta: Any = None) -> np.ndarray:
    """A start vector close to the top right singular vector of the layer.

    The top singular vector of a large periodic layer is a plane wave at the maximiser
    ``theta*`` of the polyphase symbol's norm, carrying that block's top singular
    vector; with zero padding it is damped to zero at the edges (the ground state of a
    box). In the polyphase form (:meth:`convbench.layer.Conv.polyphase`) input ``q``
    (per dimension) is phase ``q mod s`` at the coarse position ``q // s``, so the
    forward layer's vector is ``x[i, q] = Re(v[i, q mod s] exp(i <theta*, q // s>))``
    times the envelope ``prod sin(pi (q+1)/(n+1))``, with ``v`` the block's top right
    singular vector. A transposed layer is the adjoint of its canonical map: its top
    right singular vector is that map's top left one, ``Re(u[o] exp(i <theta*, p>))``
    on the coarse output. The operator is block-diagonal over groups and a start vector
    without a component in a group never sees it, so every group gets its own wave
    (its own block's vector at ``theta*``), with equal weight: at small sizes the top
    value may sit in another group than the symbol's maximum. ``theta*`` is the one
    maximiser of the block norms found by gradient ascent from the best points of a
    coarse grid of the torus (:func:`_coarse_maximiser`), or the one given (a caller
    that has computed a bound already, such as :func:`convbench.embedding.size_bound`'s);
    the start vector only speeds Lanczos up, the result does not depend on it. (The
    branch and bound of :func:`convbench.bounds.spectral_norm_bound` finds the torus
    maximiser to any precision, but it took 250 s of a 2.6 s sigma_max on a 512-channel
    3x3 layer at 7 x 7; the size bound's maximiser took 0.65 s of 1.8 s on a 64x32
    stride-2 layer at 80 x 80, where the ascent's takes 0.16 s and Lanczos 160 steps in
    place of 220.)
    """
    torus = torus_layer(layer)
    if theta is None:
        theta = _coarse_maximiser(torus)
    theta = np.array(theta, dtype=np.float64)
    blocks = symbol_points(torus.polyphase(), theta[None])[0]  # (groups, rows, cols)
    left, right = _top_pairs(blocks)
    size = layer.shape
    if layer.transposed:  # the canonical map's outputs: one coarse point each
        per = layer.group_out
        coarse = [np.arange(n) for n in size]
        values = left.reshape(layer.groups, per, *(1,) * layer.d)
    else:  # the canonical map's inputs: phase q mod s, coarse point q // s
        per = layer.group_in
        vec = right.reshape(layer.groups, per, *layer.stride)
        phase = np.ix_(*(np.arange(n) % s for n, s in zip(size, layer.stride, strict=True)))
        coarse = [np.arange(n) // s for n, s in zip(size, layer.stride, strict=True)]
        values = vec[(slice(None), slice(None), *phase)]  # (groups, per, *size)
    wave = np.ones((), dtype=np.complex128)
    env = np.ones(())
    for t, c, n in zip(theta, coarse, size, strict=True):
        wave = np.multiply.outer(wave, np.exp(1j * t * c))
        env = np.multiply.outer(env, np.sin(np.pi * (np.arange(n) + 1) / (n + 1)))
    part = values * (wave * env)[None, None]
    x = np.real(part)
    flat = ~np.any(x.reshape(layer.groups, -1), axis=1)
    x[flat] = np.imag(part[flat])  # real part vanished (degenerate phase): imaginary part
    return np.ascontiguousarray(x).ravel()


#: Points of the coarse grid of :func:`_coarse_maximiser` (per dimension: its d-th root)
COARSE_POINTS = 256


def _gram_coefficients(torus: Conv) -> tuple[np.ndarray, np.ndarray]:
    """The Gram matrices of the periodic layer's blocks as a trigonometric polynomial.

    With ``B(t) = sum_a K_a exp(i <t, a + o>)`` (taps ``a``) on the smaller side,
    ``G(t) = B(t) B(t)^H = sum_delta C_delta exp(i <t, delta>)`` over the differences
    ``delta`` of two taps, ``2 k - 1`` of them per dimension. The ``C_delta`` are
    exactly the inverse DFT of ``G`` on a grid of ``2 k - 1`` points per dimension.

    Returns
    -------
    deltas : numpy.ndarray
        ``(D, d)`` integer differences.
    coefficients : numpy.ndarray
        ``(D, groups, s, s)`` complex ``C_delta``, ``s`` the block's smaller side.
    """
    poly = torus.polyphase()
    sizes = [2 * k - 1 for k in poly.taps]
    axes = [np.arange(m) * 2 * np.pi / m for m in sizes]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, torus.d)
    blocks = symbol_points(poly, pts)  # (P, groups, rows, cols)
    if blocks.shape[-2] > blocks.shape[-1]:
        blocks = np.ascontiguousarray(blocks.conj().swapaxes(-1, -2))
    gram = blocks @ np.ascontiguousarray(blocks.conj().swapaxes(-1, -2))
    shifts = [np.arange(m) - (m - 1) // 2 for m in sizes]  # -(k-1) .. k-1
    deltas = np.stack(np.meshgrid(*shifts, indexing="ij"), axis=-1).reshape(-1, torus.d)
    phases = np.exp(-1j * deltas @ pts.T) / len(pts)  # (D, P)
    coefficients = (phases @ gram.reshape(len(pts), -1)).reshape(len(deltas), *gram.shape[1:])
    return deltas, coefficients


def _coarse_maximiser(torus: Conv, points: int = COARSE_POINTS, starts: int = 4,
                      steps: int = 40, tol: float = 1e-3) -> np.ndarray:
    """The frequency where the periodic layer's block norm is largest: the best of a
    grid of about ``points`` frequencies, and of gradient ascent from its ``starts``
    best points.

    The blocks' Gram matrices ``G(t)`` at any frequency are one small GEMM from their
    coefficients (:func:`_gram_coefficients`), and so are their derivatives; the norm
    squared is the top eigenvalue ``lam(t)`` of ``G(t)``, whose gradient is
    ``Re(v^H dG/dt_j v)`` with ``v`` its eigenvector. A grid alone can miss the maximum
    when two local maxima compete (64-channel layers at 64 x 64, where the grid's best
    started Lanczos 25% further away); each ascent step halves its step length until
    ``lam`` grows, and the ascent stops when every step is below ``tol`` (radians: the
    start vector needs no more).
    """
    deltas, coefficients = _gram_coefficients(torus)
    flat = coefficients.reshape(len(deltas), -1)
    shape = coefficients.shape[1:]

    def gram(pts: np.ndarray) -> np.ndarray:
        return (np.exp(1j * pts @ deltas.T) @ flat).reshape(len(pts), *shape)

    def top(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per point: the largest eigenvalue over the groups, its group and vector."""
        lam, vec = np.linalg.eigh(g)
        group = np.argmax(lam[..., -1], axis=-1)
        rows = np.arange(len(g))
        return lam[rows, group, -1], group, vec[rows, group, :, -1]

    per = max(4, round(points ** (1 / torus.d)))
    # half a cell off the symmetric points (0 and pi), where a real kernel's gradient
    # vanishes whether or not they are maxima
    axes = [(np.arange(per) + 0.5) * 2 * np.pi / per] * torus.d
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, torus.d)
    values = np.linalg.eigvalsh(gram(grid))[..., -1].max(axis=-1)
    best = np.argsort(values)[::-1][:starts]
    theta = grid[best]
    lam, group, vec = top(gram(theta))
    step = np.full(len(theta), 2 * np.pi / per)
    rows = np.arange(len(theta))
    for _ in range(steps):
        if step.max() < tol:
            break
        phases = np.exp(1j * theta @ deltas.T)  # (S, D)
        grad = np.empty_like(theta)
        for j in range(torus.d):  # Re(v^H dG/dt_j v) on the top eigenvector's group
            dg = ((1j * deltas[:, j] * phases) @ flat).reshape(len(theta), *shape)
            grad[:, j] = np.real(np.einsum("si,sij,sj->s", vec.conj(), dg[rows, group], vec))
        norm = np.maximum(np.linalg.norm(grad, axis=1), 1e-300)
        trial = theta + step[:, None] * grad / norm[:, None]
        new, new_group, new_vec = top(gram(trial))  # kept where it is better
        better = new > lam
        theta[better], lam[better] = trial[better], new[better]
        group[better], vec[better] = new_group[better], new_vec[better]
        step[~better] /= 2
    return np.mod(theta[int(np.argmax(lam))], 2 * np.pi)


def _top_pairs(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top left and right singular vectors ``(u, v)`` of each block (``B v = s u``).

    The rows and columns that are zero in every block (phases that no tap reads) are
    dropped first and come back as zeros. Small blocks take a thin SVD; a block with a
    side above 256 takes the top eigenvector of its smaller Gram matrix (one eigenpair
    by MRRR), real when the blocks are (a one-tap layer at any frequency is a real
    matrix times a unimodular factor): a 2048 x 4096 block costs a fraction of a
    second instead of a full SVD.
    """
    g, rows, cols = blocks.shape
    used_r = np.flatnonzero(np.any(blocks != 0, axis=(0, 2)))
    used_c = np.flatnonzero(np.any(blocks != 0, axis=(0, 1)))
    left = np.zeros((g, rows), dtype=np.complex128)
    right = np.zeros((g, cols), dtype=np.complex128)
    if used_r.size == 0 or used_c.size == 0:
        left[:, 0] = right[:, 0] = 1.0
        return left, right
    sub = blocks[:, used_r][:, :, used_c]
    if max(sub.shape[1:]) <= 256:
        u, _s, vh = np.linalg.svd(sub, full_matrices=False)
        left[:, used_r], right[:, used_c] = u[:, :, 0], vh[:, 0].conj()
        return left, right
    for k, block in enumerate(sub):
        scale = block.flat[np.argmax(np.abs(block))]
        unit = scale / abs(scale)
        rotated = block / unit
        if np.all(rotated.imag == 0) or np.abs(rotated.imag).max() <= 1e-14 * abs(scale):
            rotated = np.ascontiguousarray(rotated.real)
        tall = rotated.shape[0] >= rotated.shape[1]
        side = rotated if tall else rotated.conj().T
        gram = side.conj().T @ side
        n = gram.shape[0]
        _w, vec = scipy.linalg.eigh(gram, subset_by_index=[n - 1, n - 1], driver="evr",
                                    check_finite=False)
        small = vec[:, 0]
        big = side @ small
        big /= np.linalg.norm(big) or 1.0
        u, v = (big, small) if tall else (small, big)
        # B v = s u for B = unit * rotated: put the phase on u
        left[k, used_r], right[k, used_c] = unit * u, v
    return left, right


def golub_kahan_top(
    op: scipy.sparse.linalg.LinearOperator,
    v0: np.ndarray,
    *,
    rtol: float = 1e-9,
    window: int = 10,
    maxiter: int = 500,
    history: list[tuple[int, float, float]] | None = None,
) -> tuple[float, int, float]:
    """Largest singular value by Golub-Kahan-Lanczos bidiagonalisation without restarts.

    Only the latest Lanczos vector of each side is kept, updated in place (memory: two
    vectors, and one product a step for an operator without the fused update of
    :func:`_stepper`). Loss of
    orthogonality creates spurious copies of converged values but not values above
    the largest, so the top singular value ``theta`` of the bidiagonal matrix is a valid
    estimate; in exact arithmetic it is a lower bound that increases with every step.

    **Stopping rule.** After ``k`` steps the Ritz triple ``(theta, U p, V q)`` of the
    ``k x k`` bidiagonal ``B_k`` has ``A V q = theta U p`` exactly and
    ``A^T U p - theta V q = beta_k p_k v_{k+1}``: the residual is
    ``rho = beta_k |p_k|``, and some singular value lies within ``rho`` of ``theta``.
    The iteration stops when ``rho <= rtol * theta / 4`` and ``theta`` also changed by
    less than ``rtol`` (relative) over the last ``window`` steps.

    The residual itself is the test, not the sharper ``theta rho^2 / gap`` that holds
    once ``theta`` is isolated: the top values of a zero-padded layer come in clusters
    (pairs from the symbol's maximiser and its conjugate, split by ``O(1/n^2)`` or far
    less), and until Lanczos resolves a cluster the top Ritz value is a mixture of its
    members, while the second Ritz value still sits below the cluster, so the gap
    between the two Ritz values overstates the true gap by orders of magnitude. With
    that estimate, 5 of 10 random 3x3 layers (8 to 64 channels, n = 14 to 64, zero
    padding) stopped at ``rtol = 1e-9`` with errors of 1.1 to 480 times ``rtol``
    against ARPACK run to machine precision; with the residual all were within
    ``rtol``, after about twice the steps.

    A start vector with no component along the top singular vector never finds it; no
    Krylov method can tell, and the start of :func:`_smooth_start` is built to be
    close to it. If ``maxiter`` steps pass first, a :class:`ConvergenceWarning` says
    so, with the residual reached.

    Parameters
    ----------
    op : LinearOperator
        The operator (``matvec`` and ``rmatvec``).
    v0 : numpy.ndarray
        Start vector in the operator's domain.
    rtol : float
        Relative accuracy of the returned value.
    window : int
        Steps between convergence checks.
    maxiter : int
        Most steps.
    history : list, optional
        If given, ``(step, estimate, residual)`` is appended at every check (every
        ``window`` steps), for studies of the stopping rule
        (``scripts/lanczos_history.py``).

    Returns
    -------
    tuple
        ``(sigma_max estimate, number of steps, residual)``: some singular value lies
        within ``residual`` (absolute) of the estimate, and in exact arithmetic the
        estimate is at most ``sigma_max``.
    """
    forward = _stepper(op, "matvec")
    adjoint = _stepper(op, "rmatvec")
    rows = op.shape[0]
    # One vector per side, updated in place and kept unnormalised (``v`` holds
    # ``scale_v`` times the Lanczos vector, ``u`` likewise), so that a step reads and
    # writes each vector once: a vector of 35 MB (64 channels at 256 x 256) costs
    # about 10 ms a pass, a fifth of a step in separate passes.
    v = np.array(v0, dtype=np.float64)
    v *= 1.0 / _norm(v)
    u = np.zeros(rows)
    alpha = math.sqrt(forward(v, u, 1.0, 0.0))
    if alpha == 0.0:
        return 0.0, 0, 0.0
    scale_v, scale_u = 1.0, alpha
    alphas, betas = [alpha], []
    previous, rho = 0.0, math.inf
    for step in range(1, maxiter + 1):
        # r = A^T u_k - alpha_k v_k, into v's place
        beta = math.sqrt(adjoint(u, v, 1.0 / scale_u, alpha / scale_v))
        scale_v = beta
        if beta <= 1e-14 * alphas[0]:  # invariant subspace: the estimate is exact
            estimate, last = _top_ritz(alphas, betas)
            return estimate, len(betas), beta * last
        if step % window == 0:
            estimate, last = _top_ritz(alphas, betas)
            rho = beta * last
            if history is not None:
                history.append((step, estimate, rho))
            if rho <= rtol * estimate / 4 and abs(estimate - previous) <= rtol * estimate:
                return estimate, step, rho
            previous = estimate
        # s = A v_{k+1} - beta_k u_k, into u's place
        alpha = math.sqrt(forward(v, u, 1.0 / scale_v, beta / scale_u))
        scale_u = alpha
        betas.append(beta)
        alphas.append(alpha)
        if alpha <= 1e-14 * alphas[0]:
            # invariant subspace from the other side: A V = U B up to s, ||s|| = alpha
            return _top_ritz(alphas, betas)[0], len(betas), alpha
    else:
        estimate = _top_ritz(alphas, betas)[0]
        warnings.warn(
            f"Lanczos stopped after maxiter={maxiter} steps before reaching rtol={rtol:g}: "
            f"the last residual check put a singular value within {rho / estimate:.1e} "
            f"(relative) of the estimate {estimate!r}; raise maxiter or rtol",
            ConvergenceWarning,
            stacklevel=2,
        )
        return estimate, len(betas), rho
    raise AssertionError("unreachable: the loop returns or runs out")  # pragma: no cover


def _norm(x: np.ndarray) -> float:
    """The 2-norm without BLAS: a BLAS call here would wake a second thread pool (NumPy's
    OpenBLAS beside SciPy's, whose GEMMs :class:`FlatConv` runs), whose spinning threads
    took 0.07 s of a 0.22 s Lanczos step on two cores."""
    return math.sqrt(float(np.einsum("i,i->", x, x)))


def _stepper(op: Any, name: str) -> Any:
    """The Lanczos update with ``op.<name>`` as ``f(x, out, scale, coef)``:
    ``out <- scale * op(x) - coef * out``, returning ``||out||^2``. In one pass when the
    operator offers it (``<name>_step``, :class:`convbench.flat_taps.FlatOperator`),
    else from a new product."""
    fused = getattr(op, f"{name}_step", None)
    if fused is not None:
        return fused
    plain = getattr(op, name)

    def step(x: np.ndarray, out: np.ndarray, scale: float, coef: float) -> float:
        product = np.asarray(plain(x), dtype=np.float64).reshape(out.shape)
        product *= scale
        if coef != 0.0:
            product -= np.multiply(out, coef, out=out)
        out[...] = product
        return _norm(out) ** 2

    return step


def layer_top_certified(
    layer: Conv,
    *,
    rtol: float = 1e-9,
    maxiter: int | None = None,
    theta: tuple[float, ...] | None = None,
    history: list[tuple[int, float, float]] | None = None,
) -> tuple[float, float]:
    """The largest singular value of a validated layer and its residual certificate.

    :func:`golub_kahan_top` on the layer's matrix-free operator from the smooth start
    at the symbol's maximiser (``theta`` when known, as in :func:`layer_top_values`).
    ``history``, if given, receives ``(step, estimate, residual)`` at every check (see
    :func:`golub_kahan_top`).

    Returns
    -------
    tuple of float
        ``(value, relative residual)``: a singular value of the layer lies within
        ``relative residual * value`` of ``value`` (the Ritz pair's residual), and in
        exact arithmetic ``value <= sigma_max``.
    """
    op = operator_of(layer)
    _check_k(1, op)
    fast, v0 = _single_vector(layer, op, _smooth_start(layer, theta))
    value, _, residual = golub_kahan_top(fast, v0, rtol=rtol, maxiter=_maxiter(layer, maxiter),
                                         history=history)
    return value, (residual / value if value > 0 else 0.0)


def _top_ritz(alphas: list[float], betas: list[float]) -> tuple[float, float]:
    """Largest singular value of the upper bidiagonal ``B`` (``alphas`` on the diagonal,
    ``betas`` above it; ``len(betas)`` is ``len(alphas)`` or one less) and the modulus of
    the last entry of its left singular vector.

    From the tridiagonal ``B B^T`` by bisection and inverse iteration (LAPACK's
    ``stebz`` and ``stein`` through :func:`scipy.linalg.eigh_tridiagonal`): linear in
    the number of steps where a dense SVD of ``B`` is cubic. Squaring costs the small
    values their accuracy, not the largest (relative error ``O(eps)``).
    """
    a = np.asarray(alphas)
    b = np.asarray(betas[: a.size - 1])
    n = a.size
    if n == 1:
        return float(a[0]), 1.0
    diag = a * a
    diag[:-1] += b * b
    off = b * a[1:]
    lam, vec = scipy.linalg.eigh_tridiagonal(diag, off, select="i", select_range=(n - 1, n - 1))
    return math.sqrt(max(float(lam[0]), 0.0)), float(abs(vec[-1, 0]))


def _check_k(k: Any, op: scipy.sparse.linalg.LinearOperator) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be a positive integer; got {k!r}")
    limit = min(op.shape)
    if not 1 <= k < limit:
        raise ValueError(f"k must be between 1 and {limit - 1} (Lanczos needs k < min(shape))")
    return int(k)


def _svds_largest(
    op: scipy.sparse.linalg.LinearOperator,
    k: int,
    tol: float = 0.0,
    v0: np.ndarray | None = None,
) -> np.ndarray:
    rows, cols = op.shape
    if v0 is None:
        v0 = _start_vector(min(rows, cols), 0)
    elif rows < cols:  # svds starts in the smaller space
        v0 = op.matvec(v0)
    ncv = min(max(2 * k + 1, 20), min(rows, cols) - 1)
    values = scipy.sparse.linalg.svds(
        op,
        k=k,
        ncv=ncv if ncv > k else None,
        tol=tol,
        which="LM",
        return_singular_vectors=False,
        v0=v0,
    )
    return sort_descending(values)


@takes_layer("zero")
def smallest_singular_values(
    layer: Conv,
    k: int = 1,
    *,
    memory_budget: int | float | str | None = None,
) -> np.ndarray:
    """The ``k`` smallest singular values (of the layer's ``min(rows, cols)``), ascending.

    Dense SVD at small sizes, shift-invert Lanczos with a sparse LU factorisation up to
    :data:`SHIFT_INVERT_LIMIT` unknowns; see the module docstring for the limits.

    Parameters
    ----------
    k : int
        How many values.
    memory_budget : int, float, str, optional
        Memory budget (see :mod:`convbench.budget`).

    Returns
    -------
    numpy.ndarray
        The ``k`` smallest singular values, ascending.

    Raises
    ------
    ValueError
        If the operator is too large for the shift-invert route, or if it is
        numerically singular (the LU factorisation fails).
    """
    rows, cols = layer.rows, layer.cols
    small = min(rows, cols)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be a positive integer; got {k!r}")
    if not 1 <= k <= small:
        raise ValueError(f"k must be between 1 and {small}")
    if rows * cols <= DENSE_SMALLEST_LIMIT or k >= small - 1:
        check_memory(
            8 * rows * cols,
            memory_budget,
            f"the dense {rows}x{cols} matrix for the smallest singular values",
            "Use a smaller input size.",
        )
        dense = assemble(layer).toarray()
        values = scipy.linalg.svd(dense, compute_uv=False, overwrite_a=True, check_finite=False)
        return np.sort(values)[:k].copy()
    if small > SHIFT_INVERT_LIMIT:
        raise ValueError(
            f"the {k} smallest singular values of {layer.describe()} "
            f"({small} unknowns) are beyond the shift-invert limit of {SHIFT_INVERT_LIMIT} "
            "unknowns (sparse LU fill); use a smaller input size"
        )
    nnz = nonzeros(layer)
    # LU fill on a grid: about small**1.5 * min(channels) entries, 16 bytes each
    fill = 16.0 * min(layer.cout, layer.cin) * small**1.5
    check_memory(
        int(40 * nnz + fill),
        memory_budget,
        f"the sparse LU factorisation for the smallest singular values of {layer.describe()}",
        "Use a smaller input size.",
    )
    a = assemble(layer).tocsc()
    if rows != cols:
        a = (a.T @ a).tocsc() if rows > cols else (a @ a.T).tocsc()
    try:
        lu = scipy.sparse.linalg.splu(a)
    except RuntimeError as exc:
        raise ValueError(
            f"the operator is numerically singular ({exc}); its smallest singular value is 0"
        ) from None
    size = a.shape[0]
    inverse = scipy.sparse.linalg.LinearOperator(
        (size, size),
        matvec=lu.solve,
        rmatvec=lambda v: lu.solve(v, trans="T"),
        dtype=np.float64,
    )
    if rows == cols:
        big = _svds_largest(inverse, k)
        return np.sort(1.0 / big)
    # A^T A (or A A^T) is symmetric positive definite: eigenvalues of its inverse
    lam = scipy.sparse.linalg.eigsh(
        inverse, k=k, which="LM", return_eigenvectors=False, v0=_start_vector(size, 0)
    )
    return np.sort(1.0 / np.sqrt(np.abs(lam)))


def layer_top_values(
    layer: Conv,
    k: int = 1,
    *,
    rtol: float = 1e-9,
    maxiter: int | None = None,
    theta: tuple[float, ...] | None = None,
) -> np.ndarray:
    """The ``k`` largest singular values of a validated layer, matrix-free.

    :func:`top_singular_values` on the layer: the plain layer's im2col
    :class:`ConvOperator`, every other one :class:`LayerOperator`, both started from the
    symbol's maximiser (:func:`_smooth_start`; ``theta``, the maximiser of a
    :class:`convbench.NormBound` already computed, saves locating it again).
    """
    if theta is None:
        return top_singular_values(layer, k=k, rtol=rtol, maxiter=maxiter)
    return _layer_top(layer, k, rtol, maxiter, theta)
