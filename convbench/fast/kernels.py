"""The fast path's compiled kernels (numba), each vectorised across blocks with the
block index innermost (structure of arrays).

- :func:`symbol_soa` writes the kept blocks of a chunk of the half plane's symbol;
- :func:`jacobi_soa` runs one-sided (Hestenes) Jacobi on complex blocks, backward stable
  column by column, each block first scaled by a power of two;
- :func:`gram_soa` forms each block's Gram matrix, scales it to unit trace, reduces it
  to real tridiagonal form and runs implicit QL, and marks the blocks whose eigenvalues
  its certificate accepts (:mod:`convbench.fast.factor` sends the others elsewhere).

Nothing else in the library imports numba: the thread helpers live in
:mod:`convbench.blas`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["GRAM_TINY", "gram_soa", "jacobi_soa", "symbol_soa"]

#: Gram traces outside ``[GRAM_TINY, 1 / GRAM_TINY]`` are sent to the SVD (no scaling
#: trouble).
GRAM_TINY = 1e-250


@numba.njit(cache=True, nogil=True)
def symbol_soa(e1, t, kept, cols, out):  # pragma: no cover - compiled
    """``out[i, p, b] = sum_a e1[j, a] * t[a, i, p, l]`` for the ``b``-th kept ``(j, l)``.

    ``kept`` holds the flat indices ``j * cols + l`` (``j`` relative to the chunk).
    """
    kh, r, k, _cols = t.shape
    for i in range(r):
        for p in range(k):
            for b in range(kept.size):
                f = kept[b]
                j = f // cols
                col = f - j * cols
                acc = e1[j, 0] * t[0, i, p, col]
                for a in range(1, kh):
                    acc += e1[j, a] * t[a, i, p, col]
                out[i, p, b] = acc


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _jacobi_batch(ar, ai, out, tol, max_sweeps):  # pragma: no cover - compiled
    """One-sided Jacobi on a batch of complex r x k matrices stored as (r, k, nb) re/im."""
    r, k, nb = ar.shape
    zero = ar.dtype.type(0)
    one = ar.dtype.type(1)
    half = ar.dtype.type(0.5)
    tol2 = tol * tol
    alpha = np.empty(nb, dtype=ar.dtype)
    beta = np.empty(nb, dtype=ar.dtype)
    gr = np.empty(nb, dtype=ar.dtype)
    gi = np.empty(nb, dtype=ar.dtype)
    flag = np.empty(nb, dtype=ar.dtype)
    cs = np.empty(nb, dtype=ar.dtype)
    sn = np.empty(nb, dtype=ar.dtype)
    pc = np.empty(nb, dtype=ar.dtype)
    ps = np.empty(nb, dtype=ar.dtype)
    tiny = np.finfo(ar.dtype).tiny
    for _sweep in range(max_sweeps):
        active = 0
        for p in range(k - 1):
            for q in range(p + 1, k):
                for b in range(nb):
                    alpha[b] = zero
                    beta[b] = zero
                    gr[b] = zero
                    gi[b] = zero
                for i in range(r):
                    for b in range(nb):
                        xr = ar[i, p, b]
                        xi = ai[i, p, b]
                        yr = ar[i, q, b]
                        yi = ai[i, q, b]
                        alpha[b] += xr * xr + xi * xi
                        beta[b] += yr * yr + yi * yi
                        gr[b] += xr * yr + xi * yi
                        gi[b] += xr * yi - xi * yr
                # rotation parameters; branch-free so that the loop vectorises
                for b in range(nb):
                    g2 = gr[b] * gr[b] + gi[b] * gi[b]
                    rotate = (g2 > tol2 * (alpha[b] * beta[b])) & (g2 > tiny)
                    mask = one if rotate else zero
                    ginv = one / math.sqrt(g2 + (one - mask))
                    zeta = half * (beta[b] - alpha[b]) * ginv
                    az = abs(zeta)
                    t = one / (az + math.sqrt(one + az * az))
                    t = t if zeta >= zero else -t
                    c = one / math.sqrt(one + t * t)
                    cs[b] = one + mask * (c - one)
                    sn[b] = mask * c * t
                    pc[b] = one + mask * (gr[b] * ginv - one)
                    ps[b] = mask * gi[b] * ginv
                    flag[b] = mask
                for b in range(nb):
                    if flag[b] > zero:
                        active += 1
                        break
                for i in range(r):
                    for b in range(nb):
                        # y' = y * exp(-i phi) makes the inner product real and positive
                        qr = ar[i, q, b]
                        qi = ai[i, q, b]
                        yr = qr * pc[b] + qi * ps[b]
                        yi = qi * pc[b] - qr * ps[b]
                        xr = ar[i, p, b]
                        xi = ai[i, p, b]
                        ar[i, p, b] = cs[b] * xr - sn[b] * yr
                        ai[i, p, b] = cs[b] * xi - sn[b] * yi
                        ar[i, q, b] = sn[b] * xr + cs[b] * yr
                        ai[i, q, b] = sn[b] * xi + cs[b] * yi
        if active == 0:
            break
    for p in range(k):
        for b in range(nb):
            alpha[b] = zero
        for i in range(r):
            for b in range(nb):
                alpha[b] += ar[i, p, b] * ar[i, p, b] + ai[i, p, b] * ai[i, p, b]
        for b in range(nb):
            out[b, p] = math.sqrt(alpha[b])
    return active


@numba.njit(cache=True, nogil=True, error_model="numpy")
def jacobi_soa(blocks, out, tol, batch):  # pragma: no cover - compiled
    """Jacobi on every block of an (r, k, nblocks) complex array, ``batch`` at a time."""
    r, k, nb = blocks.shape
    ar = np.empty((r, k, batch), dtype=out.dtype)
    ai = np.empty((r, k, batch), dtype=out.dtype)
    biggest = np.empty(batch)
    expo = np.empty(batch, dtype=np.int64)
    scale = np.empty(batch, dtype=out.dtype)
    unconverged = 0
    for b0 in range(0, nb, batch):
        b1 = min(b0 + batch, nb)
        w = b1 - b0
        # scale each block by a power of two (exact) to entries below 1 in modulus, so
        # that the squares in the rotations neither underflow nor overflow
        for b in range(w):
            biggest[b] = 0.0
        for i in range(r):
            for p in range(k):
                for b in range(w):
                    z = blocks[i, p, b0 + b]
                    biggest[b] = max(biggest[b], abs(z.real), abs(z.imag))
        for b in range(w):
            expo[b] = math.frexp(biggest[b])[1]
            scale[b] = math.ldexp(1.0, -expo[b])
        for i in range(r):
            for p in range(k):
                for b in range(w):
                    z = blocks[i, p, b0 + b]
                    ar[i, p, b] = z.real * scale[b]
                    ai[i, p, b] = z.imag * scale[b]
        left = _jacobi_batch(ar[:, :, :w], ai[:, :, :w], out[b0:b1], tol, 60)
        for b in range(w):
            for p in range(k):
                out[b0 + b, p] = math.ldexp(out[b0 + b, p], expo[b])
        unconverged += left
    return unconverged


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _tridiagonal_eigenvalues(d, e):  # pragma: no cover - compiled
    """Eigenvalues of the symmetric tridiagonal (``d``, ``e``), ascending, in ``d``.

    Implicit QL with Wilkinson shifts (``e[i]`` couples ``d[i]`` and ``d[i+1]``;
    ``e[-1]`` is ignored and overwritten). Returns ``False`` if an eigenvalue did not
    converge in 60 iterations. The caller scales the matrix to unit trace, so plain
    square roots replace ``hypot`` (nothing overflows; ``|g| <= 1/(2 eps)``, and what
    underflows is below ``eps`` of the trace).
    """
    k = d.size
    e[k - 1] = 0.0
    eps = np.finfo(np.float64).eps
    for ll in range(k):
        it = 0
        while True:
            mm = ll
            while mm < k - 1:
                dd = abs(d[mm]) + abs(d[mm + 1])
                if abs(e[mm]) <= eps * dd:
                    break
                mm += 1
            if mm == ll:
                break
            it += 1
            if it > 60:
                return False
            g = (d[ll + 1] - d[ll]) / (2.0 * e[ll])
            r = math.sqrt(g * g + 1.0)
            g = d[mm] - d[ll] + e[ll] / (g + (r if g >= 0 else -r))
            s = 1.0
            c = 1.0
            p = 0.0
            i = mm - 1
            underflow = False
            while i >= ll:
                f = s * e[i]
                b = c * e[i]
                r = math.sqrt(f * f + g * g)
                e[i + 1] = r
                if r == 0.0:
                    d[i + 1] -= p
                    e[mm] = 0.0
                    underflow = True
                    break
                s = f / r
                c = g / r
                g = d[i + 1] - p
                r = (d[i] - g) * s + 2.0 * c * b
                p = s * r
                d[i + 1] = g + p
                g = c * r - b
                i -= 1
            if underflow:
                continue
            d[ll] -= p
            e[ll] = g
            e[mm] = 0.0
    for i in range(1, k):  # insertion sort, k is small
        v = d[i]
        j = i - 1
        while j >= 0 and d[j] > v:
            d[j + 1] = d[j]
            j -= 1
        d[j + 1] = v
    return True


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _gram_batch(blocks, b0, nb, gr, gi, vr, vi, pr, pi, tau, alpha, out, ok, rtol, kappa):
    """Certified Gram eigenvalues of blocks ``b0 .. b0+nb-1`` of an (r, k, N) array.

    Forms ``G = B^H B`` (block index innermost, so the loops vectorise across blocks),
    reduces it to real symmetric tridiagonal form by Householder reflections and finds
    the eigenvalues by implicit QL. ``ok[b]`` says whether the block passed the
    certificate described in the module docstring.
    """  # pragma: no cover - compiled
    r, k, _n = blocks.shape
    u = np.finfo(np.float64).eps / 2
    for p in range(k):
        for q in range(p, k):
            for b in range(nb):
                gr[p, q, b] = 0.0
                gi[p, q, b] = 0.0
        for i in range(r):
            for q in range(p, k):
                for b in range(nb):
                    x = blocks[i, p, b0 + b]
                    y = blocks[i, q, b0 + b]
                    gr[p, q, b] += x.real * y.real + x.imag * y.imag
                    gi[p, q, b] += x.real * y.imag - x.imag * y.real
        for q in range(p + 1, k):
            for b in range(nb):
                gr[q, p, b] = gr[p, q, b]
                gi[q, p, b] = -gi[p, q, b]
    # scale G to unit trace so that no square in the reduction under- or overflows;
    # blocks whose trace is outside [GRAM_TINY, 1/GRAM_TINY] go to the SVD instead
    fro2 = np.zeros(nb)
    for p in range(k):
        for b in range(nb):
            fro2[b] += gr[p, p, b]
    inv = np.empty(nb)
    for b in range(nb):
        inv[b] = 1.0 / fro2[b] if fro2[b] > 0.0 else 0.0
    for p in range(k):
        for q in range(k):
            for b in range(nb):
                gr[p, q, b] *= inv[b]
                gi[p, q, b] *= inv[b]
    d = np.empty((k, nb))
    e = np.zeros((k, nb))
    for j in range(k - 2):
        # the reflector that zeroes G[j+2:, j]
        for b in range(nb):
            alpha[b] = 0.0
        for i in range(j + 1, k):
            for b in range(nb):
                alpha[b] += gr[i, j, b] * gr[i, j, b] + gi[i, j, b] * gi[i, j, b]
        for b in range(nb):
            a = math.sqrt(alpha[b])
            xr = gr[j + 1, j, b]
            xi = gi[j + 1, j, b]
            a0 = math.sqrt(xr * xr + xi * xi)  # unit trace: no overflow
            big = a0 > 0.0
            cr = xr / a0 if big else 1.0
            ci = xi / a0 if big else 0.0
            vr[j + 1, b] = xr + cr * a
            vi[j + 1, b] = xi + ci * a
            vv = 2.0 * a * (a + a0)
            tau[b] = 2.0 / vv if vv > 0.0 else 0.0
            e[j, b] = a
        for i in range(j + 2, k):
            for b in range(nb):
                vr[i, b] = gr[i, j, b]
                vi[i, b] = gi[i, j, b]
        # p = tau * G22 v
        for i in range(j + 1, k):
            for b in range(nb):
                pr[i, b] = 0.0
                pi[i, b] = 0.0
            for ll in range(j + 1, k):
                for b in range(nb):
                    ar = gr[i, ll, b]
                    ai = gi[i, ll, b]
                    pr[i, b] += ar * vr[ll, b] - ai * vi[ll, b]
                    pi[i, b] += ar * vi[ll, b] + ai * vr[ll, b]
            for b in range(nb):
                pr[i, b] *= tau[b]
                pi[i, b] *= tau[b]
        # q = p - (tau/2) (v^H p) v, then G22 -= v q^H + q v^H
        for b in range(nb):
            alpha[b] = 0.0
        for i in range(j + 1, k):
            for b in range(nb):
                alpha[b] += vr[i, b] * pr[i, b] + vi[i, b] * pi[i, b]
        for b in range(nb):
            alpha[b] *= 0.5 * tau[b]
        for i in range(j + 1, k):
            for b in range(nb):
                pr[i, b] -= alpha[b] * vr[i, b]
                pi[i, b] -= alpha[b] * vi[i, b]
        for i in range(j + 1, k):
            for ll in range(j + 1, k):
                for b in range(nb):
                    gr[i, ll, b] -= (vr[i, b] * pr[ll, b] + vi[i, b] * pi[ll, b]
                                     + pr[i, b] * vr[ll, b] + pi[i, b] * vi[ll, b])
                    gi[i, ll, b] -= (vi[i, b] * pr[ll, b] - vr[i, b] * pi[ll, b]
                                     + pi[i, b] * vr[ll, b] - pr[i, b] * vi[ll, b])
    for b in range(nb):
        for i in range(k):
            d[i, b] = gr[i, i, b]
        xr = gr[k - 1, k - 2, b]
        xi = gi[k - 1, k - 2, b]
        e[k - 2, b] = math.sqrt(xr * xr + xi * xi)
    dd = np.empty(k)
    ee = np.empty(k)
    for b in range(nb):
        for i in range(k):
            dd[i] = d[i, b]
            ee[i] = e[i, b]
        good = _tridiagonal_eigenvalues(dd, ee)
        lo = dd[0]
        hi = dd[k - 1]
        delta = kappa * u  # the error bound relative to the (unit) trace
        in_range = GRAM_TINY <= fro2[b] <= 1.0 / GRAM_TINY
        ok[b0 + b] = good and in_range and lo > 0.0 and delta * delta <= rtol * rtol * lo * hi
        for i in range(k):
            out[b0 + b, i] = math.sqrt(max(dd[k - 1 - i], 0.0) * fro2[b])


@numba.njit(cache=True, nogil=True)
def gram_soa(blocks, out, ok, rtol, kappa, batch):  # pragma: no cover - compiled
    """:func:`_gram_batch` over every block of an (r, k, N) array, ``batch`` at a time."""
    k = blocks.shape[1]
    n = blocks.shape[2]
    gr = np.empty((k, k, batch))
    gi = np.empty((k, k, batch))
    vr = np.zeros((k, batch))
    vi = np.zeros((k, batch))
    pr = np.zeros((k, batch))
    pi = np.zeros((k, batch))
    tau = np.empty(batch)
    alpha = np.empty(batch)
    for b0 in range(0, n, batch):
        nb = min(batch, n - b0)
        _gram_batch(blocks, b0, nb, gr, gi, vr, vi, pr, pi, tau, alpha, out, ok, rtol, kappa)
