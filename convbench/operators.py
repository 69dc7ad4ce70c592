"""Matrix-free convolution operators: any layer, zero-padded or periodic, and its adjoint.

:func:`conv_operator` wraps any layer, with zero or periodic boundary, and its adjoint,
as a :class:`scipy.sparse.linalg.LinearOperator` acting on the input flattened as
``(cin, *shape)`` (the same ordering as :func:`convbench.unrolled`). The plain layer
(``Conv2d(padding='same')``, stride 1, ungrouped) is :class:`ConvOperator`, whose
matvec is im2col: the ``kh*kw`` shifted copies of a chunk of input rows (zero padded or
wrapped) stacked as the columns of one ``(kh*kw*cin, rows*m)`` matrix, multiplied by the
``(cout, kh*kw*cin)`` weight matrix in one GEMM; the adjoint is the same with the
offsets negated and the weights transposed. The working memory is the padded input,
the output and one 32 MiB chunk of columns, never the ``cout*cin*kh*kw*n*m`` nonzeros
of the sparse matrix. Every other layer is :class:`LayerOperator` (one GEMM per tap
and group).

Their extreme singular values: :mod:`convbench.extremes`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from .explicit import BOUNDARIES
from .layer import Conv, takes_layer

__all__ = ["ConvOperator", "LayerOperator", "conv_operator", "operator_of"]

# entries of one im2col chunk of a matvec (32 MiB): bounds the operator's working memory
_IM2COL_ENTRIES = 1 << 22


def _check_boundary(boundary: str) -> None:
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}; got {boundary!r}")


class ConvOperator(scipy.sparse.linalg.LinearOperator):
    """``Conv2d(padding='same')`` as a matrix-free linear operator.

    Parameters
    ----------
    weight : numpy.ndarray
        Validated float64 ``(cout, cin, kh, kw)`` weights.
    n, m : int
        Input size.
    boundary : {"zero", "periodic"}
        Boundary condition.

    Notes
    -----
    ``matvec`` accepts the input flattened as ``(cin, n, m)`` and returns the output
    flattened as ``(cout, n, m)``; ``rmatvec`` applies the transpose. Both also accept
    a matrix of several columns (``matmat``).
    """

    def __init__(self, weight: np.ndarray, n: int, m: int, boundary: str = "zero") -> None:
        _check_boundary(boundary)
        cout, cin, kh, kw = weight.shape
        self.weight = weight
        self.n, self.m = n, m
        self.boundary = boundary
        # im2col: forward y = Wf @ columns(x, offsets s), adjoint x = Wa @ columns(y, -s)
        self._w_fwd = np.ascontiguousarray(weight.transpose(0, 2, 3, 1)).reshape(cout, -1)
        self._w_adj = np.ascontiguousarray(weight.transpose(1, 2, 3, 0)).reshape(cin, -1)
        self._s_rows = np.arange(kh) - (kh - 1) // 2
        self._s_cols = np.arange(kw) - (kw - 1) // 2
        super().__init__(dtype=np.float64, shape=(cout * n * m, cin * n * m))

    def _apply(
        self, x: np.ndarray, w: np.ndarray, s_rows: np.ndarray, s_cols: np.ndarray
    ) -> np.ndarray:
        """``out[:, p, q] = sum_ab w_ab @ x[:, p + s_rows[a], q + s_cols[b]]`` (boundary as
        set), by im2col over chunks of output rows: one GEMM per chunk, no shifted adds."""
        n, m = self.n, self.m
        c_out = w.shape[0]
        c_in = w.shape[1] // (s_rows.size * s_cols.size)
        nvec = x.shape[1]
        x = x.reshape(c_in, n, m, nvec)
        lo_r, hi_r = max(0, -int(s_rows.min())), max(0, int(s_rows.max()))
        lo_c, hi_c = max(0, -int(s_cols.min())), max(0, int(s_cols.max()))
        pad = ((0, 0), (lo_r, hi_r), (lo_c, hi_c), (0, 0))
        xp = np.pad(x, pad, mode="wrap" if self.boundary == "periodic" else "constant")
        out = np.empty((c_out, n * m * nvec))
        taps = s_rows.size * s_cols.size
        rows = max(1, min(n, _IM2COL_ENTRIES // max(1, taps * c_in * m * nvec)))
        buffer = np.empty(taps * c_in * rows * m * nvec)  # reused by every chunk
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            cols = buffer[: taps * c_in * (r1 - r0) * m * nvec].reshape(
                s_rows.size, s_cols.size, c_in, r1 - r0, m, nvec
            )
            for a, sa in enumerate(s_rows):
                for b, sb in enumerate(s_cols):
                    cols[a, b] = xp[:, r0 + sa + lo_r : r1 + sa + lo_r, sb + lo_c : sb + lo_c + m]
            chunk = out[:, r0 * m * nvec : r1 * m * nvec]
            np.matmul(w, cols.reshape(taps * c_in, -1), out=chunk)
        return out.reshape(c_out * n * m, nvec)

    def _matmat(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        cin = self.weight.shape[1]
        xr = x.reshape(cin, self.n * self.m, -1)
        x = np.ascontiguousarray(xr).reshape(-1, x.shape[1])
        return self._apply(x, self._w_fwd, self._s_rows, self._s_cols)

    def _rmatmat(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        return self._apply(np.ascontiguousarray(y), self._w_adj, -self._s_rows, -self._s_cols)

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(x).reshape(-1, 1)).ravel()

    def _rmatvec(self, y: np.ndarray) -> np.ndarray:
        return self._rmatmat(np.asarray(y).reshape(-1, 1)).ravel()

    def _adjoint(self) -> scipy.sparse.linalg.LinearOperator:
        return _Adjoint(self)


class _Adjoint(scipy.sparse.linalg.LinearOperator):
    def __init__(self, op: ConvOperator) -> None:
        self.op = op
        super().__init__(dtype=np.float64, shape=(op.shape[1], op.shape[0]))

    def _matmat(self, y: np.ndarray) -> np.ndarray:
        return self.op._rmatmat(y)

    def _rmatmat(self, x: np.ndarray) -> np.ndarray:
        return self.op._matmat(x)

    def _matvec(self, y: np.ndarray) -> np.ndarray:
        return self.op._rmatvec(y)

    def _rmatvec(self, x: np.ndarray) -> np.ndarray:
        return self.op._matvec(x)

    def _adjoint(self) -> ConvOperator:
        return self.op


@takes_layer("zero")
def conv_operator(layer: Conv) -> ConvOperator | LayerOperator:
    """The convolution as a matrix-free :class:`~scipy.sparse.linalg.LinearOperator`.

    Returns
    -------
    ConvOperator or LayerOperator
        Shape ``(rows, cols)`` of the layer's matrix (``(cout*n*m, cin*n*m)`` for the
        plain layer, which gets the im2col :class:`ConvOperator`);
        ``op @ x.ravel()`` equals ``unrolled(weight, shape, ...) @ x.ravel()``.
    """
    return operator_of(layer)


def _im2col(layer: Conv) -> bool:
    """Whether :class:`ConvOperator` computes the layer: plain, output the input's size."""
    return layer.is_plain and layer.out_shape == layer.shape


def operator_of(layer: Conv) -> ConvOperator | LayerOperator:
    if _im2col(layer):
        n, m = layer.shape
        return ConvOperator(layer.weight, n, m, layer.boundary)
    return LayerOperator(layer)


class LayerOperator(scipy.sparse.linalg.LinearOperator):
    """Any validated layer as a matrix-free linear operator.

    The canonical forward map ``y[o, p] = sum_{i,a} W[o, i, a] x[i, s*p + dilation*a -
    before]`` is im2col on a padded copy of the input: the input is padded with
    ``before`` zeros in front and as many as the last read needs behind (wrapped copies
    on the torus), so tap ``a`` reads the strided slice ``dilation*a :: s`` of it, a view.
    The ``taps * cin/groups`` slices of a chunk of output rows are stacked as the rows of
    one matrix and multiplied by the ``(cout/groups, taps * cin/groups)`` weight matrix,
    one GEMM per group and chunk. The adjoint is the same GEMM with the weights
    transposed, its rows added back into the strided slices of a padded array, which is
    then cropped (zero boundary) or folded onto the torus. A transposed layer applies
    the adjoint of its canonical forward map. ``matvec`` takes the input flattened as
    ``(cin, *shape)`` and returns ``(cout, *out_shape)``, as :func:`convbench.unrolled`.
    Working memory: the padded input and output and one 32 MiB chunk of columns.

    Parameters
    ----------
    layer : Conv
        The validated layer.
    """

    def __init__(self, layer: Conv) -> None:
        self.layer = layer
        g, co, ci = layer.groups, layer.group_out, layer.group_in
        taps = math.prod(layer.kernel)
        # (g, co, taps*ci), tap-major columns, and its transpose for the adjoint
        w = layer.weight.reshape(g, co, ci, taps).transpose(0, 1, 3, 2)
        self._w_fwd = np.ascontiguousarray(w).reshape(g, co, taps * ci)
        self._w_adj = np.ascontiguousarray(self._w_fwd.transpose(0, 2, 1))
        self._taps = list(np.ndindex(*layer.kernel))
        # padded canonical input: `before` in front, enough behind for the last read
        self._pads = []
        for n, p, s, dl, k, b in zip(
            layer.fwd_in, layer.fwd_out, layer.stride, layer.dilation, layer.kernel,
            layer.before, strict=True,
        ):
            last = s * (p - 1) + dl * (k - 1) - b  # largest read
            self._pads.append((b, max(0, last - (n - 1))))
        # the layer's derived sizes, read on every tap of every product
        self._fwd_in, self._fwd_out = layer.fwd_in, layer.fwd_out
        self._steps = tuple(zip(layer.stride, layer.dilation, self._fwd_out, strict=True))
        super().__init__(dtype=np.float64, shape=(layer.rows, layer.cols))

    def _chunk_rows(self, nvec: int) -> int:
        layer = self.layer
        per_row = layer.groups * layer.group_in * len(self._taps) * nvec
        per_row *= math.prod(layer.fwd_out[1:])
        return max(1, min(layer.fwd_out[0], _IM2COL_ENTRIES // max(1, per_row)))

    def _tap_slices(self, tap: tuple[int, ...], r0: int, r1: int) -> tuple[slice, ...]:
        """The padded input's positions that tap ``tap`` reads for output rows r0..r1."""
        out = []
        for dim, (a, (s, dl, p)) in enumerate(zip(tap, self._steps, strict=True)):
            lo, hi = (r0, r1) if dim == 0 else (0, p)
            start = s * lo + dl * a
            out.append(slice(start, start + s * (hi - lo - 1) + 1, s))
        return tuple(out)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        layer = self.layer
        g, co, ci = layer.groups, layer.group_out, layer.group_in
        nvec = x.shape[1]
        xs = np.asarray(x, dtype=np.float64).reshape(g, ci, *self._fwd_in, nvec)
        mode = "wrap" if layer.boundary == "periodic" else "constant"
        xp = np.pad(xs, ((0, 0), (0, 0), *self._pads, (0, 0)), mode=mode)
        out = self._fwd_out
        y = np.empty((g, co, *out, nvec))
        rows = self._chunk_rows(nvec)
        rest = math.prod(out[1:]) * nvec
        cols = np.empty((g, len(self._taps), ci, rows, *out[1:], nvec))
        for r0 in range(0, out[0], rows):
            r1 = min(out[0], r0 + rows)
            c = cols[:, :, :, : r1 - r0]
            for t, tap in enumerate(self._taps):
                c[:, t] = xp[(slice(None), slice(None), *self._tap_slices(tap, r0, r1))]
            part = np.matmul(self._w_fwd, c.reshape(g, -1, (r1 - r0) * rest))
            y[:, :, r0:r1] = part.reshape(g, co, r1 - r0, *out[1:], nvec)
        return y.reshape(-1, nvec)

    def _backward(self, y: np.ndarray) -> np.ndarray:
        layer = self.layer
        g, co, ci = layer.groups, layer.group_out, layer.group_in
        nvec = y.shape[1]
        out = self._fwd_out
        ys = np.asarray(y, dtype=np.float64).reshape(g, co, out[0], -1)
        padded = [b + n + a for n, (b, a) in zip(self._fwd_in, self._pads, strict=True)]
        xp = np.zeros((g, ci, *padded, nvec))
        rows = self._chunk_rows(nvec)
        for r0 in range(0, out[0], rows):
            r1 = min(out[0], r0 + rows)
            part = np.matmul(self._w_adj, ys[:, :, r0:r1].reshape(g, co, -1))
            part = part.reshape(g, len(self._taps), ci, r1 - r0, *out[1:], nvec)
            for t, tap in enumerate(self._taps):
                xp[(slice(None), slice(None), *self._tap_slices(tap, r0, r1))] += part[:, t]
        if layer.boundary == "zero":  # reads outside the input were zeros: crop, once
            crop = tuple(slice(b, b + n) for n, (b, _a) in zip(self._fwd_in, self._pads,
                                                                strict=True))
            return xp[(slice(None), slice(None), *crop)].reshape(-1, nvec)
        for dim, (n, (b, _a)) in enumerate(zip(self._fwd_in, self._pads, strict=True)):
            xp = _fold(xp, dim + 2, b, n, True)
        return xp.reshape(-1, nvec)

    def _matmat(self, x: np.ndarray) -> np.ndarray:
        return self._backward(x) if self.layer.transposed else self._forward(x)

    def _rmatmat(self, y: np.ndarray) -> np.ndarray:
        return self._forward(y) if self.layer.transposed else self._backward(y)

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(x).reshape(-1, 1)).ravel()

    def _rmatvec(self, y: np.ndarray) -> np.ndarray:
        return self._rmatmat(np.asarray(y).reshape(-1, 1)).ravel()

    def _adjoint(self) -> scipy.sparse.linalg.LinearOperator:
        return scipy.sparse.linalg.LinearOperator(
            dtype=np.float64,
            shape=(self.shape[1], self.shape[0]),
            matvec=self._rmatvec,
            rmatvec=self._matvec,
            matmat=self._rmatmat,
            rmatmat=self._matmat,
        )


def _fold(xp: np.ndarray, axis: int, before: int, n: int, periodic: bool) -> np.ndarray:
    """The padded axis back to its ``n`` positions: cropped (zero padding, whose reads
    outside the input were zeros) or summed modulo ``n`` (the torus)."""
    length = xp.shape[axis]
    if not periodic:
        return np.take(xp, np.arange(before, before + n), axis=axis)
    shape = list(xp.shape)
    shape[axis] = n
    out = np.zeros(shape)
    j = 0
    while j < length:
        k = (j - before) % n
        size = min(n - k, length - j)
        dst = [slice(None)] * xp.ndim
        src = [slice(None)] * xp.ndim
        dst[axis], src[axis] = slice(k, k + size), slice(j, j + size)
        out[tuple(dst)] += xp[tuple(src)]
        j += size
    return out
