"""The ``k`` largest singular values by block Lanczos, every copy of a repeated value.

**Why a block method.** A Krylov space grown from one start vector holds one direction of
each eigenspace: a singular value of multiplicity ``r`` shows up once, and its other
``r - 1`` copies appear (if at all) only through rounding. Convolutional layers repeat
their top singular values exactly: a dilation ``d`` that divides the padded grid splits
the layer into ``d`` independent sub-lattices along that axis, a depthwise layer with
equal channels is ``groups`` copies of one operator, and so on. Single-vector Lanczos
(ARPACK ``svds`` included) then returns the next distinct value in place of a copy, with
a small residual and no warning. A block of ``b`` start vectors holds up to ``b``
directions of every eigenspace, so block Lanczos with ``b > k`` finds every copy among
the ``k`` wanted values.

**The iteration.** Thick-restart block Lanczos on the Gram operator ``G = A^T A`` (or
``A A^T``, whichever side is smaller), with full reorthogonalisation (classical
Gram-Schmidt, twice). The block width is ``b = k + p`` with the margin
``p = max(2, k // 2)``; the basis holds at most ``basis`` vectors (default
``max(12 b, 40)``, at most :data:`BASIS_BYTES` of them but ``3 b``, never more than the
space). A larger basis restarts less often and keeps more of the Krylov acceleration:
on a zero-padded 4-channel 3x3 layer at 64 x 64 (``k = 4``, ``b = 6``) a basis of
``6 b`` took 3474 matrix-vector pairs, ``10 b`` 1512 and ``16 b`` 990 (ARPACK's
``svds``, missing nothing there, about 1100 to 1250). Each step applies ``G`` to the newest
block (one ``matmat`` and one ``rmatmat`` of ``b`` columns), orthogonalises the result
against the basis, and factors what is left by column-pivoted QR,
``W P = Q R``: the new block is ``Q``. A column of ``R`` below ``1e-13 ||G||`` means the
block is rank deficient (an invariant subspace, or a multiplicity larger than the new
directions): that direction is *deflated*, replaced by a random vector orthogonal to
the basis, and its coupling set to zero. With ``V`` the basis and ``H = V^T G V`` the
projected matrix, ``G V = V H + Q R E^T`` holds to rounding, where ``E`` selects the
newest block; the Ritz pairs ``(theta_i, V y_i)`` of ``H`` then have residuals
``||G V y_i - theta_i V y_i|| = ||R E^T y_i||`` at no cost. When the basis is full it is
*restarted* thickly: the top ``keep = max(b, (basis - b) // 2)`` Ritz vectors stay
(``V <- V Y_keep``, computed in place by row chunks), ``H`` becomes their diagonal
plus the coupling ``R E^T Y_keep`` to the block ``Q``, and the iteration continues from
``Q``. Memory: ``basis + 3 b`` vectors of the smaller side. Ritz vectors whose residual
is at rounding level are *locked*: their coupling is zeroed at the restart, so they
stay exact in the projection and stop steering the iteration.

**The certificate.** The Ritz values are grouped into *clusters*: neighbours whose
residual intervals ``[theta_i - r_i, theta_i + r_i]`` overlap. For a cluster ``C``
with residual block ``R_C = G X_C - X_C Theta_C`` and ``rho_C = ||R_C||_F``:

* the residual bound (Kahan): ``|C|`` eigenvalues of ``G``, counted with
  multiplicity, lie within ``rho_C`` of the cluster's Ritz values, one for each;
* the gap bound (quadratic, Kato-Temple style over the whole cluster): if the rest of
  the spectrum is at least ``delta_C`` away from the cluster, the error is at most
  ``rho_C^2 / delta_C``. ``delta_C`` is the distance from the cluster to the nearest
  Ritz value *outside* it, less that value's residual; the Ritz values beyond the
  ``k`` wanted ones (the margin, and every other Ritz value of the basis) supply it.
  A neighbour inside the cluster never counts, so a cluster of copies converges on
  its own gap to the rest, not on the zero gap between its members.

During the iteration the eigenvalue bound ``e = min(rho_C, rho_C^2 / delta_C)`` of ``G``
becomes a singular-value bound ``min(e / (s + sqrt(max(theta - e, 0))), sqrt(e))``
with ``s = sqrt(theta)``; it only decides when to check. When it passes for all ``k``
values (or at ``maxiter``), the top ``b`` Ritz vectors ``X`` are checked from scratch
on ``A`` itself, not squared: ``A X = U S Z^T`` (one ``matmat`` and a thin SVD) gives
pairs with ``A v_i - s_i u_i = 0`` and one ``rmatmat`` the explicit right residuals
``||A^T u_i - s_i v_i||``. These are the residuals of ``[u_i; v_i] / sqrt(2)`` for the
augmented matrix ``[[0, A], [A^T, 0]]`` (over ``sqrt(2)``), so the same cluster bounds
hold for the singular values directly, the gap also capped by the cluster's smallest
value (the augmented matrix holds ``-sigma`` and zeros too), with a rounding floor of
``8 eps sqrt(n) sigma_1`` instead of the ``sqrt(eps) sigma_1`` that ``A^T A`` leaves at
zero values. A value is certified when its bound is at most ``rtol * s_1``; if the
check fails the iteration goes on with a ten times stricter trigger. Values still
uncertified after ``maxiter`` block steps come back with a :class:`ConvergenceWarning`
that names them and their bounds.

What no Krylov method can certify is a part of the spectrum its start block never
sees; the random block (plus the caller's start vector) makes that a null event. The
gap ``delta_C`` is taken from Ritz values, which lie below the eigenvalues they
approximate (interlacing), so a value far down an unresolved basis may overstate it;
subtracting that value's residual and requiring overlapping intervals to merge into one
cluster guards the common case. The other failure is a cluster with more members than
the block has columns: its Ritz values are then mixtures, and members absent from the
basis leave no Ritz value to shrink the gap. A depthwise 3x3 layer with three equal
channels at 24 x 24 has six top values within ``1.6e-7`` (three copies of a pair); with
``b = 3`` the three Ritz values near the top showed residuals of ``3e-6``, the next
Ritz value sat ``1e-2`` below, and the quadratic bound certified ``1e-9`` for an error
of ``4e-8``. So a cluster of ``b`` or more Ritz values gets the residual bound only,
which is rigorous (Kahan); on the layers tested (clusters of copies, clusters split by
``1e-7`` relative, every layer kind of the test suite) every bound covered the error.

**Cost.** Squaring the operator slows the convergence of small singular values, not of
the large ones that are asked for; the final check on ``A`` restores their accuracy.
Per block step: ``b`` matrix-vector pairs in one batched call (the operators' GEMMs
run on all ``b`` columns at once) plus ``O(n j b)`` flops of orthogonalisation for a
basis of ``j`` vectors.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

__all__ = [
    "BASIS_BYTES",
    "ConvergenceWarning",
    "TopValues",
    "block_parameters",
    "block_top_values",
    "certified_top_values",
]

#: Default cap on the bytes of the Krylov basis (at least ``3 b`` vectors are kept).
BASIS_BYTES = 2 << 30
# rows of the basis rotated at once in a restart (bounds the temporary to 32 MiB)
_ROTATE_ENTRIES = 1 << 22
# a direction of the new block below this times ||G|| is deflated
_DEFLATE = 1e-13


class ConvergenceWarning(RuntimeWarning):
    """An iterative method stopped at its step limit before its tolerance."""


@dataclass(frozen=True)
class TopValues:
    """The ``k`` largest singular values with their certificates.

    Attributes
    ----------
    values : numpy.ndarray
        The values, descending.
    bounds : numpy.ndarray
        For each value, a bound on its distance to the true singular value of the same
        rank (see the module docstring).
    certified : numpy.ndarray
        Whether each bound is within ``rtol`` times the largest value.
    steps : int
        Block steps taken (applications of ``A^T A`` to one block).
    block : int
        Block width.
    left, right : numpy.ndarray or None
        With ``vectors=True``: ``(rows, k)`` and ``(cols, k)`` orthonormal columns,
        ``A right[:, i] = values[i] * left[:, i]`` to rounding (the residual
        ``A^T left - right * values`` is what ``bounds`` certifies).
    """

    values: np.ndarray
    bounds: np.ndarray
    certified: np.ndarray
    steps: int
    block: int
    left: np.ndarray | None = None
    right: np.ndarray | None = None


def block_parameters(k: int, size: int, basis: int | None = None) -> tuple[int, int]:
    """Block width and basis size for ``k`` values on a space of dimension ``size``.

    ``b = k + max(2, k // 2)`` and ``basis = max(12 b, 40)`` unless given, the basis
    at most :data:`BASIS_BYTES` of vectors (but ``3 b``), both capped by ``size``.
    """
    b = min(k + max(2, k // 2), size)
    if basis is None:
        basis = min(max(12 * b, 40), max(3 * b, BASIS_BYTES // (8 * size)))
    return b, max(min(int(basis), size), min(2 * b, size))


def _sides(op: Any) -> tuple[Any, Any, int, bool]:
    """``(fwd, adj, n, right)``: the Gram operator ``adj(fwd(X))`` on the smaller side."""
    rows, cols = op.shape
    if scipy.sparse.issparse(op):
        a = op.tocsr()
        at = a.T.tocsr()
        mat, rmat = (lambda x: a @ x), (lambda y: at @ y)
    else:
        mat, rmat = op.matmat, op.rmatmat
    if cols <= rows:
        return mat, rmat, cols, True
    return rmat, mat, rows, False


def _orthogonalize(basis: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Remove ``basis``'s components from ``w`` in place (CGS twice); the coefficients."""
    c = basis.T @ w
    w -= basis @ c
    c2 = basis.T @ w
    w -= basis @ c2
    return c + c2


def _new_block(
    basis: np.ndarray, w: np.ndarray, scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``w`` (orthogonal to ``basis``) as ``Q R`` with ``Q`` orthonormal and orthogonal to
    ``basis``; directions below ``_DEFLATE * scale`` are replaced by random ones (their
    rows of ``R`` zero: the coupling they carried was at rounding level)."""
    q, r, perm = scipy.linalg.qr(w, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    weak = diag <= _DEFLATE * max(scale, np.finfo(float).tiny)
    r_full = np.empty_like(r)
    r_full[:, perm] = r  # w = q @ r_full
    if np.any(weak):
        r_full[weak] = 0.0
        fresh = rng.standard_normal((w.shape[0], int(weak.sum())))
        keep = q[:, ~weak]
        for _ in range(2):
            _orthogonalize(basis, fresh)
            fresh -= keep @ (keep.T @ fresh)
        fresh, _ = np.linalg.qr(fresh)
        q = q.copy()
        q[:, weak] = fresh
    return q, r_full


def _rotate(v: np.ndarray, j: int, y: np.ndarray) -> None:
    """``v[:, :y.shape[1]] = v[:, :j] @ y`` in place, by chunks of rows."""
    n = v.shape[0]
    rows = max(1, _ROTATE_ENTRIES // max(1, j))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        v[r0:r1, : y.shape[1]] = v[r0:r1, :j] @ y


def _bounds(values: np.ndarray, res: np.ndarray, width: int, mirror: bool) -> np.ndarray:
    """Error bounds ``min(rho_C, rho_C^2 / delta_C)`` per cluster (module docstring);
    ``values`` descending with residual norms ``res``. A cluster of ``width`` Ritz values
    or more fills the block and may hide members: residual bound only. ``mirror``: the
    values are singular values, whose augmented matrix also has ``-sigma`` and zeros,
    so the gap is at most the cluster's smallest value."""
    m = values.size
    out = np.empty(m)
    start = 0
    while start < m:
        end = start + 1
        while end < m and values[end - 1] - values[end] <= res[end - 1] + res[end]:
            end += 1
        rho = math.sqrt(float(np.sum(res[start:end] ** 2)))
        gap = math.inf if start == 0 else values[start - 1] - res[start - 1] - values[start]
        if end < m:
            gap = min(gap, values[end - 1] - values[end] - res[end])
        else:
            gap = 0.0  # nothing known below the last Ritz value
        if mirror:
            gap = min(gap, values[end - 1])
        quad = rho * rho / gap if gap > 0 and end - start < width else math.inf
        out[start:end] = min(rho, quad)
        start = end
    return out


def _sigma_bounds(theta: np.ndarray, err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Singular values ``sqrt(theta)`` and their error bounds from eigenvalue bounds."""
    s = np.sqrt(np.maximum(theta, 0.0))
    low = np.sqrt(np.maximum(theta - err, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(s + low > 0, err / (s + low), np.inf)
    return s, np.minimum(rel, np.sqrt(err))


def _rounding(sigma_max: float, n: int) -> float:
    """The rounding floor of a computed singular value: ``8 eps sqrt(n) sigma_max``."""
    return 8 * np.finfo(float).eps * math.sqrt(n) * sigma_max


def _dense(fwd: Any, n: int, k: int, rtol: float, vectors: bool = False) -> TopValues:
    """Small spaces: the operator applied to the identity, then a dense SVD."""
    mat = np.asarray(fwd(np.eye(n)), dtype=np.float64)
    if vectors:
        u, s, vt = scipy.linalg.svd(mat, full_matrices=False)
        u, s, v = u[:, :k], s[:k], vt[:k].T
    else:
        s, u, v = scipy.linalg.svdvals(mat)[:k], None, None
    bound = np.full(k, _rounding(float(s[0]), n))
    return TopValues(s, bound, bound <= rtol * s[0], 1, n, u, v)


def block_top_values(
    op: Any,
    k: int,
    *,
    rtol: float = 1e-9,
    maxiter: int = 1000,
    v0: np.ndarray | None = None,
    basis: int | None = None,
    seed: int = 0,
    vectors: bool = False,
) -> TopValues:
    """The ``k`` largest singular values of ``op`` by thick-restart block Lanczos.

    Parameters
    ----------
    op : LinearOperator or sparse matrix
        The operator (``matmat`` and ``rmatmat``, or a SciPy sparse matrix).
    k : int
        How many values; ``1 <= k < min(op.shape)``.
    rtol : float
        Certify each value within ``rtol`` times the largest.
    maxiter : int
        Most block steps (each applies ``A^T A`` to ``b`` vectors).
    v0 : numpy.ndarray, optional
        A start vector in the operator's domain (the first of the start block; the rest
        are random).
    basis : int, optional
        Most basis vectors (default: :func:`block_parameters`).
    seed : int
        Seed of the random start vectors.
    vectors : bool
        Also return the singular vectors of the ``k`` values (``left`` and ``right``);
        each value is then certified only when its residual ``||A^T u - s v||`` is
        within ``rtol`` times the largest value too.

    Returns
    -------
    TopValues
        Values, their bounds and whether each is certified. No warning is raised
        here; :func:`certified_top_values` raises one for uncertified values.
    """
    fwd, adj, n, right = _sides(op)
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and {n - 1}; got {k}")
    b, mmax = block_parameters(k, n, basis)
    rng = np.random.default_rng(seed)
    steps = 0

    def gram(x: np.ndarray) -> np.ndarray:
        return np.asarray(adj(np.asarray(fwd(x), dtype=np.float64)), dtype=np.float64)

    if mmax + b >= n:
        top = _dense(fwd, n, k, rtol, vectors)
        return top if right else _swap(top)
    start = rng.standard_normal((n, b))
    if v0 is not None:
        x0 = np.asarray(v0, dtype=np.float64).reshape(-1)
        if not right:
            x0 = np.asarray(op @ x0).reshape(-1)
        if np.any(x0):
            start[:, 0] = x0 / np.linalg.norm(x0) * math.sqrt(n)
    v = np.empty((n, mmax))
    h = np.zeros((mmax, mmax))
    v[:, :b], _ = np.linalg.qr(start)
    j, cur = b, slice(0, b)
    scale = 0.0  # running lower estimate of ||G||
    strict = 1.0  # shrinks when the cheap certificate was too optimistic
    tiny = 64 * np.finfo(float).eps
    while True:
        w = gram(v[:, cur])
        steps += 1
        scale = max(scale, float(np.sqrt(np.max(np.einsum("ij,ij->j", w, w)))))  # <= ||G||
        coef = _orthogonalize(v[:, :j], w)
        h[:j, cur] = coef
        h[cur, :j] = coef.T
        q, r = _new_block(v[:, :j], w, scale, rng)
        lam, y = np.linalg.eigh((h[:j, :j] + h[:j, :j].T) / 2)
        lam, y = lam[::-1], y[:, ::-1]
        coupling = r @ y[cur]  # residual of Ritz vector i: ||coupling[:, i]||
        # G's rounding level: a Ritz vector this close is locked at the restart (its
        # coupling zeroed), and no residual is read as smaller than it, locked or not
        lock = 16 * np.finfo(float).eps * scale
        res = np.maximum(np.linalg.norm(coupling, axis=0), lock)
        if scale == 0.0:  # the zero operator
            zeros = np.zeros(k)
            return TopValues(zeros, zeros, np.ones(k, dtype=bool), steps, b)
        err = _bounds(lam, res, b, mirror=False)[:k]
        s, sb = _sigma_bounds(lam[:k], err)
        # values at the rounding level of G (zeros) are left to the check on A itself
        done = (sb <= strict * rtol * s[0]) | (err <= strict * tiny * lam[0])
        if vectors:  # vectors need small residuals, not only values (quadratic in them)
            with np.errstate(divide="ignore", invalid="ignore"):
                done &= (res[:k] <= strict * rtol * s[0] * s) | (err <= strict * tiny * lam[0])
        last = steps + 1 >= maxiter
        if bool(np.all(done)) or last:
            top = _verify(fwd, adj, v, j, y, lam, res, b, k, rtol, vectors)
            steps += 1
            if bool(np.all(top.certified)) or last:
                top = dataclasses.replace(top, steps=steps, block=b)
                return top if right else _swap(top)
            strict *= 0.1
        if j + b > mmax:  # thick restart from the top Ritz vectors
            keep = min(j, max(b, (mmax - b) // 2))
            _rotate(v, j, y[:, :keep])
            v[:, keep : keep + b] = q
            h[:] = 0.0
            h[np.arange(keep), np.arange(keep)] = lam[:keep]
            # locking: Ritz vectors converged to rounding keep no coupling to the block
            coupling_keep = coupling[:, :keep].copy()
            coupling_keep[:, res[:keep] <= lock] = 0.0
            h[keep : keep + b, :keep] = coupling_keep
            h[:keep, keep : keep + b] = coupling_keep.T
            cur = slice(keep, keep + b)
            j = keep + b
            continue
        v[:, j : j + b] = q
        h[j : j + b, cur] = r
        h[cur, j : j + b] = r.T
        cur = slice(j, j + b)
        j += b


def _verify(
    fwd: Any,
    adj: Any,
    v: np.ndarray,
    j: int,
    y: np.ndarray,
    lam: np.ndarray,
    res: np.ndarray,
    b: int,
    k: int,
    rtol: float,
    vectors: bool = False,
) -> TopValues:
    """The top ``b`` Ritz vectors checked from scratch, on ``A`` itself (not squared).

    ``A X = U S Z^T`` (a thin SVD of ``b`` columns) gives the pairs ``u_i`` and
    ``v_i = X z_i`` with ``A v_i = s_i u_i``; one ``rmatmat`` gives the explicit
    residuals ``||A^T u_i - s_i v_i||``. These are the augmented matrix
    ``[[0, A], [A^T, 0]]``'s residuals of ``[u_i; v_i] / sqrt(2)`` (times ``sqrt(2)``),
    so the cluster bounds hold in singular values, with a rounding floor of
    ``eps ||A||`` instead of the ``sqrt(eps) ||A||`` of ``A^T A`` at the zero values.
    The Ritz values below the top ``b`` (with their cheap residuals, ``r / s``) supply
    the gap.
    """
    m = min(b, j)
    x = v[:, :j] @ y[:, :m]
    x, _ = np.linalg.qr(x)
    ax = np.asarray(fwd(x), dtype=np.float64)
    u, sv, zt = scipy.linalg.svd(ax, full_matrices=False)
    resid = np.asarray(adj(u), dtype=np.float64) - (x @ zt.T) * sv
    eta = np.linalg.norm(resid, axis=0) / math.sqrt(2)
    # the Ritz values below the block, in singular values: an eigenvalue error e of
    # A^T A is at most min(e / (s + s_low), sqrt(e)) in s. Those within their error of
    # zero are the Gram's rounding, at most the block's smallest value in exact
    # arithmetic, and say nothing the check on A does not: they are left out (else their
    # sqrt(eps) ||A|| would outrank and blur the block's zeros, which A resolves to eps)
    informative = lam[m:] > res[m:]
    below, eta_below = _sigma_bounds(lam[m:][informative], res[m:][informative])
    values = np.concatenate([sv, below])
    resids = np.concatenate([eta, eta_below])
    order = np.argsort(-values, kind="stable")
    err = _bounds(values[order], resids[order], b, mirror=True)[:k]
    top = values[order][:k]
    err = np.maximum(err, _rounding(float(top[0]), x.shape[0]))
    left = right = None
    if vectors:
        picked = order[:k]
        if np.any(picked >= m):  # a value of the cheap Ritz tail ranks in the top k
            raise RuntimeError(
                "block Lanczos: a value below the checked block ranks among the top k; "
                "no vectors for it (raise maxiter or rtol)"
            )
        left, right = u[:, picked], (x @ zt.T)[:, picked]
        # a vector is certified by its own residual (A v = s u exactly by construction)
        err = np.maximum(err, eta[picked] * math.sqrt(2))
    return TopValues(top, err, err <= rtol * top[0], 1, b, left, right)


def _swap(top: TopValues) -> TopValues:
    """Vectors of ``A^T`` (the side iterated on) as vectors of ``A``."""
    return dataclasses.replace(top, left=top.right, right=top.left)


def certified_top_values(
    op: Any, k: int, *, what: str = "the operator", **options: Any
) -> np.ndarray:
    """:func:`block_top_values`, warning about every value returned uncertified.

    Parameters
    ----------
    op, k
        As for :func:`block_top_values`.
    what : str
        What the operator is, for the warning.
    **options
        ``rtol``, ``maxiter``, ``v0``, ``basis``, ``seed``: as for
        :func:`block_top_values` (and its defaults).

    Returns
    -------
    numpy.ndarray
        The ``k`` largest singular values, descending.

    Warns
    -----
    ConvergenceWarning
        When ``maxiter`` block steps passed before some values were certified; it names
        them (rank, value, bound).
    """
    if "vectors" in options:
        raise TypeError("certified_top_values() returns values only; see vector_triplets")
    top = block_top_values(op, k, **options)
    defaults = inspect.signature(block_top_values).parameters
    rtol, maxiter = (options.get(key, defaults[key].default) for key in ("rtol", "maxiter"))
    _warn_uncertified(top, k, rtol, maxiter, what)
    return np.array(top.values, dtype=np.float64)


def vector_triplets(
    op: Any,
    k: int,
    *,
    rtol: float = 1e-9,
    maxiter: int = 1000,
    seed: int = 0,
    what: str = "the operator",
) -> TopValues:
    """The ``k`` largest singular values with their vectors, certified as in
    :func:`certified_top_values` (same warning for uncertified values).

    Returns
    -------
    TopValues
        With ``left`` ``(rows, k)`` and ``right`` ``(cols, k)``. The zero operator gets
        the first ``k`` unit vectors of each side.
    """
    top = block_top_values(op, k, rtol=rtol, maxiter=maxiter, seed=seed, vectors=True)
    _warn_uncertified(top, k, rtol, maxiter, what)
    if top.left is None or top.right is None:  # the zero operator: any vectors will do
        rows, cols = op.shape
        top = dataclasses.replace(top, left=np.eye(rows, k), right=np.eye(cols, k))
    return top


def _warn_uncertified(top: TopValues, k: int, rtol: float, maxiter: int, what: str) -> None:
    if not np.all(top.certified):
        bad = np.flatnonzero(~top.certified)
        listed = ", ".join(
            f"#{i + 1} = {top.values[i]!r} (within {top.bounds[i] / top.values[0]:.1e})"
            for i in bad[:8]
        )
        more = f" and {bad.size - 8} more" if bad.size > 8 else ""
        warnings.warn(
            f"block Lanczos on {what} stopped after maxiter={maxiter} block steps before "
            f"certifying {bad.size} of the {k} largest singular values to rtol={rtol:g} "
            f"(bounds relative to the largest): {listed}{more}; raise maxiter or rtol",
            ConvergenceWarning,
            stacklevel=3,
        )
