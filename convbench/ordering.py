"""Putting a half-plane spectrum in descending order, in parallel and in linear time.

The ``fast`` path produces each singular value of a non-self-conjugate frequency once
(it stands for two) and the few self-conjugate ones separately. Ordering them is an
``O(N)`` job here instead of numpy's ``O(N log N)`` comparison sort:

1. :func:`radix_sort` sorts float64 values ascending by a least-significant-digit radix
   sort on their bit patterns (for non-negative IEEE doubles the unsigned bit pattern is
   order-preserving), 11 bits per pass, skipping the bits that are the same in every
   value. ``T`` threads sort ``T`` contiguous parts at once.
2. :func:`merge` merges two ascending runs; ``T`` sorted parts take ``log2 T`` rounds of
   pairwise merges, the merges of one round running in parallel.
3. :func:`expand_range` writes a range of the sorted values twice each into its final
   place of the descending output (the position of each value is known from its index
   and the number of self-conjugate values above it), so ``T`` threads fill disjoint
   parts of the output; :func:`single_positions` places the self-conjugate values.

All kernels are compiled with numba and release the GIL, so a thread pool runs them in
parallel. They are exact: the output is the same permutation ``numpy.sort`` gives.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numba
import numpy as np

__all__ = [
    "expand_descending",
    "expand_range",
    "merge",
    "radix_sort",
    "single_positions",
    "sort_parts",
]

_DIGIT_BITS = 11
_SMALL = 64  # parts shorter than this are insertion-sorted


@numba.njit(cache=True, nogil=True)
def _bit_length(a, lo, hi):  # pragma: no cover - compiled
    """Number of low bits in which the values ``a[lo:hi]`` differ."""
    first = a[lo]
    diff = np.uint64(0)
    for i in range(lo, hi):
        diff |= a[i] ^ first
    bits = 0
    while diff:
        diff >>= np.uint64(1)
        bits += 1
    return bits


@numba.njit(cache=True, nogil=True)
def _insertion_sort(a, lo, hi):  # pragma: no cover - compiled
    for i in range(lo + 1, hi):
        v = a[i]
        j = i - 1
        while j >= lo and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@numba.njit(cache=True, nogil=True)
def _lsd(a, tmp, lo, hi, bits, digit_bits):  # pragma: no cover - compiled
    """LSD radix sort of ``a[lo:hi]`` on its low ``bits`` bits; the result is in ``a``."""
    n = hi - lo
    passes = (bits + digit_bits - 1) // digit_bits
    if passes == 0:
        return
    radix = 1 << digit_bits
    mask = np.uint64(radix - 1)
    counts = np.zeros((passes, radix), dtype=np.int64)
    for i in range(lo, hi):
        v = a[i]
        for p in range(passes):
            counts[p, (v >> np.uint64(p * digit_bits)) & mask] += 1
    in_tmp = False
    for p in range(passes):
        shift = np.uint64(p * digit_bits)
        c = counts[p]
        full = False
        total = lo
        for d in range(radix):
            cd = c[d]
            if cd == n:
                full = True
            c[d] = total
            total += cd
        if full:  # every value has the same digit here
            continue
        if in_tmp:
            _scatter(tmp, a, lo, hi, c, shift, mask)
        else:
            _scatter(a, tmp, lo, hi, c, shift, mask)
        in_tmp = not in_tmp
    if in_tmp:
        a[lo:hi] = tmp[lo:hi]


@numba.njit(cache=True, nogil=True)
def _scatter(src, dst, lo, hi, starts, shift, mask):  # pragma: no cover - compiled
    for i in range(lo, hi):
        v = src[i]
        d = (v >> shift) & mask
        dst[starts[d]] = v
        starts[d] += 1


@numba.njit(cache=True, nogil=True)
def _radix_sort_bits(a, tmp):  # pragma: no cover - compiled
    """Sort the uint64 bit patterns of non-negative doubles ``a`` ascending, in place.

    One most-significant-digit pass splits the values into 2**11 buckets that fit in
    cache; each bucket is then sorted by least-significant-digit passes of 8 bits over
    the bits that vary inside it. Returns the number of negative values found
    (``-0.0`` is turned into ``+0.0`` and not counted); if it is not zero ``a`` is
    left unsorted.
    """
    n = a.size
    sign = np.uint64(1) << np.uint64(63)
    bad = 0
    for i in range(n):
        if a[i] >= sign:
            if a[i] != sign:
                bad += 1
            a[i] = np.uint64(0)
    if bad or n < 2:
        return bad
    if n < _SMALL:
        _insertion_sort(a, 0, n)
        return 0
    bits = _bit_length(a, 0, n)
    if bits <= 2 * _DIGIT_BITS:
        _lsd(a, tmp, 0, n, bits, _DIGIT_BITS)
        return 0
    # most significant digit: the top 11 varying bits
    shift = np.uint64(bits - _DIGIT_BITS)
    radix = 1 << _DIGIT_BITS
    mask = np.uint64(radix - 1)
    starts = np.zeros(radix + 1, dtype=np.int64)
    for i in range(n):
        starts[((a[i] >> shift) & mask) + 1] += 1
    for d in range(radix):
        starts[d + 1] += starts[d]
    ends = starts[1:].copy()
    _scatter(a, tmp, 0, n, starts[:radix].copy(), shift, mask)
    # each bucket, now in tmp, split again by the next 11 bits (in cache) back into a;
    # the small groups left are insertion-sorted, larger ones radix sorted on what varies
    sub = np.zeros(radix + 1, dtype=np.int64)
    for d in range(radix):
        lo = starts[d]
        hi = ends[d]
        if hi - lo < _SMALL:
            a[lo:hi] = tmp[lo:hi]
            _insertion_sort(a, lo, hi)
            continue
        bits = _bit_length(tmp, lo, hi)
        if bits <= _DIGIT_BITS:
            _lsd(tmp, a, lo, hi, bits, _DIGIT_BITS)
            a[lo:hi] = tmp[lo:hi]
            continue
        # about 8 values per group
        width = 1
        while width < _DIGIT_BITS and (hi - lo) >> (width + 3):
            width += 1
        groups = 1 << width
        shift2 = np.uint64(bits - width)
        mask2 = np.uint64(groups - 1)
        sub[: groups + 1] = 0
        sub[0] = lo
        for i in range(lo, hi):
            sub[((tmp[i] >> shift2) & mask2) + 1] += 1
        for e in range(groups):
            sub[e + 1] += sub[e]
        bounds = sub[: groups + 1].copy()
        _scatter(tmp, a, lo, hi, sub[:groups], shift2, mask2)
        for e in range(groups):
            glo = bounds[e]
            ghi = bounds[e + 1]
            if ghi - glo < _SMALL:
                _insertion_sort(a, glo, ghi)
            else:
                _lsd(a, tmp, glo, ghi, _bit_length(a, glo, ghi), 8)
    return 0


def radix_sort(values: np.ndarray, scratch: np.ndarray) -> None:
    """Sort non-negative float64 ``values`` ascending in place.

    Parameters
    ----------
    values : numpy.ndarray
        1-D contiguous float64, all ``>= 0`` (``-0.0`` becomes ``+0.0``).
    scratch : numpy.ndarray
        1-D contiguous float64 of at least ``values.size`` entries, overwritten.

    Raises
    ------
    ValueError
        If a value is negative or not a float64 1-D contiguous array.
    """
    if values.dtype != np.float64 or values.ndim != 1 or not values.flags.c_contiguous:
        raise ValueError("radix_sort sorts 1-D contiguous float64 arrays")
    if scratch.dtype != np.float64 or scratch.size < values.size:
        raise ValueError("scratch must be float64 with at least as many entries as values")
    bad = _radix_sort_bits(values.view(np.uint64), scratch[: values.size].view(np.uint64))
    if bad:
        raise ValueError(f"radix_sort got {bad} negative values; singular values are >= 0")


@numba.njit(cache=True, nogil=True)
def merge(a, b, out):  # pragma: no cover - compiled
    """Merge ascending ``a`` and ``b`` into ``out`` (``len(a) + len(b)`` entries)."""
    i = 0
    j = 0
    o = 0
    na = a.size
    nb = b.size
    while i < na and j < nb:
        if b[j] < a[i]:
            out[o] = b[j]
            j += 1
        else:
            out[o] = a[i]
            i += 1
        o += 1
    while i < na:
        out[o] = a[i]
        i += 1
        o += 1
    while j < nb:
        out[o] = b[j]
        j += 1
        o += 1


@numba.njit(cache=True, nogil=True)
def expand_range(d_asc, s_desc, out, i0, i1):  # pragma: no cover - compiled
    """Write ``d_asc[i0:i1]`` twice each at their places in the descending output.

    The output holds every value of ``d_asc`` twice and every value of ``s_desc`` once,
    descending; a value of ``d_asc`` comes before equal values of ``s_desc``. The value
    ``d_asc[i]`` goes to ``2 * (N - 1 - i) + #(s_desc > d_asc[i])`` and the next slot.
    """
    if i1 <= i0:
        return
    nd = d_asc.size
    ns = s_desc.size
    # singles strictly above the largest value of the range: binary search
    v = d_asc[i1 - 1]
    lo, hi = 0, ns
    while lo < hi:
        mid = (lo + hi) // 2
        if s_desc[mid] > v:
            lo = mid + 1
        else:
            hi = mid
    j = lo
    for i in range(i1 - 1, i0 - 1, -1):
        v = d_asc[i]
        while j < ns and s_desc[j] > v:
            j += 1
        pos = 2 * (nd - 1 - i) + j
        out[pos] = v
        out[pos + 1] = v


def single_positions(d_asc: np.ndarray, s_desc: np.ndarray) -> np.ndarray:
    """Places of the once-counted values ``s_desc`` in the output of :func:`expand_range`."""
    above = d_asc.size - np.searchsorted(d_asc, s_desc, side="left")  # doubles >= s
    return np.arange(s_desc.size) + 2 * above


def _bounds(n: int, parts: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n, parts + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in pairwise(edges)]


def sort_parts(
    values: np.ndarray,
    scratch: np.ndarray,
    threads: int,
    submit: Callable | None = None,
) -> None:
    """Sort ``values`` in place: radix sort of ``threads`` parts, then pairwise merges.

    ``submit`` is a thread pool's ``submit`` (``None``: run serially).
    """
    n = values.size
    parts = max(1, min(threads, n // (1 << 16)))
    bounds = _bounds(n, parts)
    scratch = scratch[:n]
    if parts == 1 or submit is None:
        for a, b in bounds:
            radix_sort(values[a:b], scratch[a:b])
        if parts == 1:
            return
        jobs = None
    else:
        jobs = [submit(radix_sort, values[a:b], scratch[a:b]) for a, b in bounds]
        for job in jobs:
            job.result()
    src, dst = values, scratch
    while len(bounds) > 1:
        merged = []
        calls = []
        for i in range(0, len(bounds) - 1, 2):
            (a, b), (_, c) = bounds[i], bounds[i + 1]
            calls.append((src[a:b], src[b:c], dst[a:c]))
            merged.append((a, c))
        if len(bounds) % 2:
            a, b = bounds[-1]
            dst[a:b] = src[a:b]
            merged.append((a, b))
        if submit is None:
            for call in calls:
                merge(*call)
        else:
            for job in [submit(merge, *call) for call in calls]:
                job.result()
        bounds = merged
        src, dst = dst, src
    if src is not values:
        values[:] = src


def expand_descending(
    d_asc: np.ndarray,
    singles: np.ndarray,
    out: np.ndarray,
    threads: int,
    submit: Callable | None = None,
) -> None:
    """Fill ``out`` with ``d_asc`` twice each and ``singles`` once, descending."""
    s_desc = np.ascontiguousarray(np.sort(singles)[::-1], dtype=d_asc.dtype)
    n = d_asc.size
    parts = max(1, min(threads, n // (1 << 16)))
    if parts == 1 or submit is None:
        expand_range(d_asc, s_desc, out, 0, n)
    else:
        jobs = [submit(expand_range, d_asc, s_desc, out, a, b) for a, b in _bounds(n, parts)]
        for job in jobs:
            job.result()
    if s_desc.size:
        out[single_positions(d_asc, s_desc)] = s_desc

