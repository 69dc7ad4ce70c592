"""The bound at one input size, from the embedding torus: :func:`size_bound`.

:func:`size_bound` uses the embedding itself: the norm of the periodic layer on the
smallest admissible torus ``N`` (:func:`embedding_torus`) is a finite maximum over that
torus' frequencies (half of them), each block certified from above by a Cholesky
factorisation of ``c I - B B^H`` (:func:`cholesky_certifies`, with a rigorous rounding
margin). No branch and bound: on 256-512-channel layers, where ``||B||`` is nearly flat
and the search of :func:`convbench.bounds.spectral_norm_bound` keeps hundreds of cells
alive, it costs one Cholesky factorisation per frequency of a small grid (8 x 8 for a 7
x 7 input). It bounds that input size only.

Wide blocks' Gram matrices come from the same evaluator as the bound at every size,
:func:`convbench.bounds.spectral_norm_bound` (:class:`convbench.bounds.GramNorms`), whose
torus maximum ``M`` this bound never exceeds (up to its ``rtol``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .bounds import (
    CHUNK_ENTRIES,
    ROUNDING,
    STORED_ENTRIES,
    UNIT,
    GramNorms,
    compact,
    symbol_norms,
)
from .layer import Conv, Polyphase, takes_layer

__all__ = ["SizeBound", "cholesky_certifies", "embedding_torus", "size_bound"]


@dataclass(frozen=True)
class SizeBound:
    """Result of :func:`size_bound`.

    Attributes
    ----------
    upper : float
        Certified upper bound on ``sigma_max`` of the layer at its input size (either
        boundary): the norm of the periodic layer on :attr:`torus`, certified from above.
    lower : float
        The largest block norm found on that torus (a lower bound of its norm; for a
        periodic layer its ``sigma_max``, for a zero-padded one not a bound of it).
    theta : tuple of float
        The frequency of that block: a start for Lanczos on the zero-padded layer.
    torus : tuple of int
        The torus' size per dimension (the canonical forward map's input).
    evaluations : int
        Blocks certified (half the torus' frequencies, axes with one tap taken once).
    refined : int
        Blocks whose first certificate failed and whose top eigenvalue was computed.
    """

    upper: float
    lower: float
    theta: tuple[float, ...]
    torus: tuple[int, ...]
    evaluations: int
    refined: int

    def __float__(self) -> float:
        return self.upper


def embedding_torus(layer: Conv) -> tuple[int, ...]:
    """The smallest torus (per dimension, a multiple of the stride) on which the
    zero-padded layer is a compression of the periodic one (module docstring).

    The canonical forward map reads ``s*p + dilation*a - before`` for outputs
    ``p < P`` from an input of size ``L``: the torus ``N`` needs ``N >= s*P`` (distinct
    outputs), ``N >= s*(P-1) + extent - before`` (no read past the end wraps) and
    ``N >= L + before`` (the reads before the input land outside it). A periodic layer
    is its own torus.
    """
    if layer.boundary == "periodic":
        return tuple(int(n) for n in layer.fwd_in)
    out = []
    for n, p, s, e, b in zip(
        layer.fwd_in, layer.fwd_out, layer.stride, layer.extent, layer.before, strict=True
    ):
        size = max(s * p, s * (p - 1) + e - b, n + b)
        out.append(int(-(-size // s) * s))
    return tuple(out)


def _grid_points(poly: Polyphase, coarse: tuple[int, ...]) -> np.ndarray:
    """Half of the coarse grid's frequencies (``||B(-t)|| = ||B(t)||``); an axis with a
    single tap, along which the block does not change, is taken at ``t = 0`` only."""
    axes = []
    split = [k > 1 for k in poly.taps]
    mirror = split.index(True) if any(split) else -1
    for i, (m, sp) in enumerate(zip(coarse, split, strict=True)):
        if not sp:
            axes.append(np.zeros(1))
        else:
            count = m // 2 + 1 if i == mirror else m
            axes.append(2 * math.pi * np.arange(count) / m)
    return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=-1)


def _cholesky_ok(matrices: np.ndarray) -> np.ndarray:
    """Which of the Hermitian ``matrices`` (``(P, r, r)``) LAPACK's Cholesky factorises."""
    try:
        np.linalg.cholesky(matrices)
        return np.ones(matrices.shape[0], dtype=bool)
    except np.linalg.LinAlgError:
        potrf = scipy.linalg.get_lapack_funcs("potrf", (matrices,))
        return np.array([potrf(m, lower=True)[1] == 0 for m in matrices])


def _top_eigenvalues(matrices: np.ndarray) -> np.ndarray:
    """The top eigenvalue of each Hermitian matrix (LAPACK's MRRR, one eigenvalue)."""
    r = matrices.shape[-1]
    return np.array([
        scipy.linalg.eigh(m, eigvals_only=True, subset_by_index=[r - 1, r - 1],
                          driver="evr", check_finite=False)[0]
        for m in matrices
    ])


def cholesky_certifies(gram: np.ndarray, shift: float) -> tuple[bool, float]:
    """Whether a floating-point Cholesky factorisation proves ``lambda_max(gram) <= c``,
    and the ``c`` it proves.

    If LAPACK's Cholesky of ``H = fl(shift*I - gram)`` (``r x r``, complex) runs to the
    end, then ``R^H R = H + dH`` with ``|dH| <= gamma |R^H| |R|`` (Demmel; ``gamma =
    gamma_{4(r+1)}``, generous for complex arithmetic), and
    ``||R e_i||^2 <= h_ii / (1 - gamma)``, so ``||dH||_2 <= gamma/(1-gamma) trace(H)``.
    ``R^H R`` is positive semidefinite, so ``lambda_min(H) >= -||dH||``; the diagonal's
    own rounding adds ``u (shift + max |gram_ii|)``. Hence
    ``lambda_max(gram) <= shift + gamma/(1-gamma) trace(H) + u (shift + max |gram_ii|)``.
    A ``shift`` below ``lambda_max`` leaves ``H`` indefinite and the factorisation fails.

    Parameters
    ----------
    gram : numpy.ndarray
        A Hermitian ``(r, r)`` matrix (its lower triangle is read).
    shift : float
        The proposed bound ``c``.

    Returns
    -------
    tuple
        ``(True, certified bound)`` or ``(False, inf)``.
    """
    r = gram.shape[-1]
    h = -np.array(gram, dtype=np.result_type(gram.dtype, np.complex128))
    diag = np.real(np.diagonal(gram))
    h[np.diag_indices(r)] += shift
    potrf = scipy.linalg.get_lapack_funcs("potrf", (h,))
    _factor, info = potrf(h, lower=True, overwrite_a=True)
    if info != 0:
        return False, math.inf
    return True, shift + _cholesky_margin(r, shift, diag)


def _cholesky_margin(r: int, shift: float, diag: np.ndarray) -> float:
    """The rounding margin of :func:`cholesky_certifies` (absolute, on the eigenvalue)."""
    gamma = 4 * (r + 1) * UNIT / (1 - 4 * (r + 1) * UNIT)
    diag = np.atleast_2d(diag)  # one row per matrix: the largest margin of them
    if diag.size == 0:
        return 0.0
    top = np.max(np.abs(diag), axis=1)
    trace = np.sum(np.abs(shift - diag), axis=1) * (1 + r * UNIT) + r * UNIT * shift
    return float(np.max(gamma / (1 - gamma) * trace + 2 * UNIT * (abs(shift) + top)))


@takes_layer("zero")
def size_bound(layer: Conv, *, rtol: float = 1e-6) -> SizeBound:
    """Certified upper bound on ``sigma_max`` of a layer at one input size.

    The zero-padded layer is a compression of the periodic layer on the torus
    :func:`embedding_torus` (module docstring), whose norm is the largest norm of the
    polyphase symbol's blocks at that torus' frequencies: a finite maximum, taken over
    half the frequencies (real weights). Each block is certified from above without an
    eigensolver. Through its Gram matrix ``G(t) = B B^H`` (the smaller side, summed from
    precomputed coefficients as in the branch and bound, with their rounding slack): a
    few power steps give every block a Rayleigh quotient, the top eigenvalue ``lam`` of
    the most promising blocks sets the shift ``c = lam * (1 + rtol)``, and a successful
    Cholesky factorisation of ``c I - G(t)`` proves ``lambda_max(G(t)) <= c`` plus a
    rigorous rounding margin (:func:`cholesky_certifies`). A block whose factorisation
    fails gets its own top eigenvalue, which raises ``c``, and is certified again. Where
    the Gram coefficients' rounding slack is not well below ``rtol`` (tiny or badly
    scaled blocks) the blocks' SVDs are taken instead, with LAPACK's rounding margin.
    A periodic layer's bound is its own norm, certified.

    Unlike :func:`spectral_norm_bound` (the torus maximum ``M``, every input size), the
    bound holds for this input size only, and it is at most ``M`` (up to ``rtol``).

    Parameters
    ----------
    rtol : float
        The certified bound is within about ``rtol/2`` of the torus' norm.

    Returns
    -------
    SizeBound
        ``upper`` (``float(result)``), ``lower``, the maximiser ``theta``, the torus and
        the counts of blocks.

    Examples
    --------
    >>> import convbench as cb
    >>> w = cb.pytorch_default(16, 16, 3, seed=0)
    >>> b = cb.size_bound(w, 8, stride=2)
    >>> exact = cb.singular_values(w, 8, stride=2, method="explicit", boundary="zero")[0]
    >>> bool(exact <= b.upper <= cb.spectral_norm_bound(w, stride=2).upper)
    True
    """
    if (
        isinstance(rtol, bool)
        or not isinstance(rtol, (int, float))
        or not math.isfinite(rtol)
        or not 0 < rtol < 1
    ):
        raise ValueError(f"rtol must be a number in (0, 1); got {rtol!r}")
    torus = embedding_torus(layer)
    poly = compact(layer.torus().polyphase())
    coarse = tuple(n // s for n, s in zip(torus, layer.stride, strict=True))
    points = _grid_points(poly, coarse)
    r, c = poly.kernel.shape[1:3]
    gram = GramNorms(poly) if min(r, c) >= 8 else None
    if gram is None or gram.relative_slack() > rtol / 4:
        norms = symbol_norms(poly, points)
        best = int(np.argmax(norms))
        return SizeBound(
            upper=float(norms[best]) * (1 + ROUNDING),
            lower=float(norms[best]),
            theta=tuple(float(t) for t in points[best]),
            torus=torus,
            evaluations=int(points.shape[0]),
            refined=0,
        )
    return _certify(gram, points, float(rtol), torus)


def _gram_chunks(gram: GramNorms, points: np.ndarray):
    """``(start, G)`` with ``G`` the ``(P, groups, r, r)`` Gram matrices of a chunk
    (the stored ones when :meth:`GramNorms.store` kept them: ``points`` are then
    indices into the stored points)."""
    g, r = gram.coeffs.shape[0], gram.r
    chunk = max(1, CHUNK_ENTRIES // (g * r * r))
    stored = getattr(gram, "stored", None)
    flat = gram.coeffs.reshape(g, len(gram.deltas), r * r)
    for s in range(0, points.shape[0], chunk):
        if stored is not None:
            idx = points[s : s + chunk]
            if np.all(np.diff(idx) == 1):  # consecutive: a view
                yield s, stored[idx[0] : idx[-1] + 1]
            else:
                yield s, stored[idx]
            continue
        angles = points[s : s + chunk] @ gram.deltas.T  # (P, D)
        cos, sin = np.cos(angles), np.sin(angles)
        grams = np.empty((angles.shape[0], g, r * r), dtype=np.complex128)
        for k in range(g):  # real GEMMs on the real coefficients, no complex copy
            grams[:, k].real = cos @ flat[k]
            grams[:, k].imag = sin @ flat[k]
        yield s, grams.reshape(-1, g, r, r)


def _keep_grams(gram: GramNorms, points: np.ndarray) -> np.ndarray:
    """Form every point's Gram matrices once and keep them on ``gram`` when they fit in
    :data:`STORED_ENTRIES` (the certificate reads them up to three times); returns what
    later passes index with: the indices of the points, or the points themselves."""
    g, r = gram.coeffs.shape[0], gram.r
    if points.shape[0] * g * r * r > STORED_ENTRIES:
        return points
    stored = np.empty((points.shape[0], g, r, r), dtype=np.complex128)
    for s, grams in _gram_chunks(gram, points):
        stored[s : s + grams.shape[0]] = grams
    gram.stored = stored
    return np.arange(points.shape[0])


def _rayleigh_quotients(gram: GramNorms, points: np.ndarray) -> np.ndarray:
    """``max_g`` of each point's Rayleigh quotient after four power steps from a fixed
    random vector: a lower estimate of ``lambda_max(G(t))`` that ranks the blocks."""
    quotients = np.empty(points.shape[0])
    rng = np.random.default_rng(0)
    for s, grams in _gram_chunks(gram, points):
        v = rng.standard_normal((*grams.shape[:3], 1)) + 0j
        for _ in range(4):
            v = grams @ v
            v /= np.linalg.norm(v, axis=2, keepdims=True) + 1e-300
        rq = np.real(np.sum(v.conj() * (grams @ v), axis=(2, 3)))
        quotients[s : s + grams.shape[0]] = rq.max(axis=1)
    return quotients


def _certify(
    gram: GramNorms, points: np.ndarray, rtol: float, torus: tuple[int, ...]
) -> SizeBound:
    """:func:`size_bound` through the Gram matrices and Cholesky certificates."""
    g, r = gram.coeffs.shape[0], gram.r
    count = points.shape[0]
    where = _keep_grams(gram, points)
    quotients = _rayleigh_quotients(gram, where)
    candidates = np.argsort(-quotients, kind="stable")[: min(4, count)]
    lam, best = -math.inf, int(candidates[0])
    for s, grams in _gram_chunks(gram, where[candidates]):
        top = _top_eigenvalues(grams.reshape(-1, r, r)).reshape(-1, g).max(axis=1)
        for j, value in enumerate(top):
            if value > lam:
                lam, best = float(value), int(candidates[s + j])
    lam = max(lam, 0.0)
    shift = max(lam, 1e-300) * (1 + rtol)
    pending = np.arange(count)
    refined = 0
    margin = 0.0
    for _round in range(60):
        failed = []
        for s, grams in _gram_chunks(gram, where[pending]):
            h = -grams.reshape(-1, r, r)
            diag = np.real(np.diagonal(grams.reshape(-1, r, r), axis1=1, axis2=2))
            h[:, np.arange(r), np.arange(r)] += shift
            ok = _cholesky_ok(h).reshape(-1, g).all(axis=1)
            margin = max(margin, _cholesky_margin(r, shift, diag))
            if not ok.all():
                bad = np.flatnonzero(~ok)
                top = _top_eigenvalues(grams[bad].reshape(-1, r, r)).reshape(-1, g).max(axis=1)
                refined += bad.size
                for j, value in zip(bad, top, strict=True):
                    if value > lam:
                        lam, best = float(value), int(pending[s + j])
                failed.extend(pending[s + bad])
        if not failed:
            break
        # those blocks again, at a shift above every top eigenvalue found
        shift = max(shift * (1 + rtol), lam * (1 + rtol))
        pending = np.array(failed)
    else:
        raise RuntimeError("the Cholesky certificates did not converge")  # pragma: no cover
    # the Gram coefficients' rounding (absolute, on ||B||^2), then the square root's
    upper = math.sqrt(shift + margin + gram._slack_sums) * (1 + 2 * UNIT)
    return SizeBound(
        upper=upper,
        lower=math.sqrt(max(lam, 0.0)),
        theta=tuple(float(t) for t in points[best]),
        torus=torus,
        evaluations=int(count),
        refined=int(refined),
    )
