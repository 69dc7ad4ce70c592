"""The plain layer as one GEMM per tap on a padded, channels-last copy of its input.

In a channels-last array of the input padded by ``e`` rows and ``f`` columns of zeros
on each side (``width = m + 2 f`` positions per row), the position ``(i, j)`` is the
row ``i * width + j`` of a ``(positions, channels)`` matrix, and the tap that reads
``(i + a, j + b)`` reads the row ``a * width + b`` further on. So every tap's input
is one contiguous block of rows, a matrix BLAS reads in place, and

``Y[p] = sum_t X[p + offset_t] @ W_t^T``

is ``kh * kw`` GEMMs accumulated into the output (``beta = 1``), with no shifted copy
of the input: the im2col operator (:class:`convbench.operators.ConvOperator`) writes
and reads ``kh * kw`` copies per product. Outputs computed at the pad columns read
across the row ends; they are set back to zero after each product, so the pads of
every vector stay zero and the reads of the next product see zero padding. The
adjoint is the same with the offsets negated and the weights transposed.

:class:`FlatConv` keeps vectors in that padded layout; the single-vector Lanczos of
:func:`convbench.extremes.top_singular_values` (``k = 1`` on the plain zero-padded
layer) iterates there, converting the start vector once, through the fused update of
:meth:`FlatOperator.matvec_step` (``out <- scale * A x - coef * out`` and its norm, one
pass over ``out``). Measured on a 64-channel 3x3 layer at 256 x 256, two threads:
``A^T A`` on one vector in 0.14 to 0.16 s, against 0.25 to 0.38 s for the im2col
operator in the same run; a whole Lanczos step through the fused update in 0.13 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse.linalg
from scipy.linalg.blas import dgemm

__all__ = ["MIN_CHANNELS", "FlatConv", "FlatOperator", "takes"]

#: Fewest channels (``min(cin, cout)``) for which :func:`takes` picks this operator: a
#: Lanczos step at 256 x 256, one thread, took 26 ms against im2col's 39 ms at 4
#: channels, but 32 ms against 6.6 ms at one channel (nine tiny GEMMs a chunk).
MIN_CHANNELS = 4


def takes(layer: Any) -> bool:
    """Whether the single-vector Lanczos of ``layer`` runs on :class:`FlatConv`: the
    plain layer (2-D, stride 1, undilated, ungrouped, 'same' padding) with zero padding
    and at least :data:`MIN_CHANNELS` channels on each side."""
    return bool(layer.is_plain and layer.boundary == "zero" and layer.out_shape == layer.shape
                and min(layer.cin, layer.cout) >= MIN_CHANNELS)


#: Output positions per GEMM chunk (rounded to whole grid rows): the chunk's input and
#: output stay in cache across taps.
CHUNK_ROWS = 1024


class FlatConv:
    """``Conv2d(padding='same')`` with zero padding on padded channels-last vectors.

    Parameters
    ----------
    weight : numpy.ndarray
        Validated float64 ``(cout, cin, kh, kw)`` weights.
    n, m : int
        Input size.

    Notes
    -----
    A vector with ``c`` channels is a ``(front + rows * width + front, c)`` array,
    the grid of ``rows = n + 2 e`` by ``width = m + 2 f`` positions after ``front = f``
    spare rows (the first tap of the first pad column reads that far back).
    """

    def __init__(self, weight: np.ndarray, n: int, m: int) -> None:
        cout, cin, kh, kw = weight.shape
        s_rows = np.arange(kh) - (kh - 1) // 2
        s_cols = np.arange(kw) - (kw - 1) // 2
        self.n, self.m, self.cout, self.cin = n, m, cout, cin
        self.e = int(max(-s_rows.min(), s_rows.max()))
        self.f = int(max(-s_cols.min(), s_cols.max()))
        self.width = m + 2 * self.f
        self.rows = n + 2 * self.e
        self.front = self.f
        self.length = self.rows * self.width + 2 * self.front
        self._chunk = max(1, round(CHUNK_ROWS / self.width))  # grid rows per chunk
        self._offsets = [int(a) * self.width + int(b) for a in s_rows for b in s_cols]
        taps = [(i, j) for i in range(kh) for j in range(kw)]
        # Y^T (cout x L) += W_t (cout x cin) @ X_t^T: Fortran-ordered, read in place
        self._w_fwd = [np.asfortranarray(weight[:, :, i, j]) for i, j in taps]
        self._w_adj = [np.asfortranarray(weight[:, :, i, j].T) for i, j in taps]

    def empty(self, channels: int, count: int = 1) -> np.ndarray:
        """``count`` zero vectors of ``channels`` channels: ``(count, length, channels)``."""
        return np.zeros((count, self.length, channels))

    def interior(self, buf: np.ndarray) -> np.ndarray:
        """The ``(n, m, channels)`` view of the input positions of one padded vector."""
        grid = buf[self.front : self.front + self.rows * self.width]
        grid = grid.reshape(self.rows, self.width, buf.shape[-1])
        return grid[self.e : self.e + self.n, self.f : self.f + self.m]

    def pack(self, x: np.ndarray, channels: int) -> np.ndarray:
        """Vectors flattened as ``(channels, n, m)`` (columns of ``x``) to padded ones."""
        x = np.asarray(x, dtype=np.float64).reshape(channels, self.n, self.m, -1)
        out = self.empty(channels, x.shape[-1])
        for k in range(x.shape[-1]):
            self.interior(out[k])[...] = x[..., k].transpose(1, 2, 0)
        return out

    def unpack(self, buf: np.ndarray) -> np.ndarray:
        """Padded vectors back to columns flattened as ``(channels, n, m)``."""
        cols = [self.interior(b).transpose(2, 0, 1).ravel() for b in buf]
        return np.stack(cols, axis=1)

    def _apply(self, src: np.ndarray, dst: np.ndarray, weights: list, sign: int,
               scale: float = 1.0, coef: float = 0.0) -> float:
        """``dst <- scale * (the product of src) - coef * dst``, chunk by chunk; returns
        the squared norm of the new ``dst``.

        A chunk is whole grid rows, so its pad columns are zeroed and its norm taken
        while it is still in cache: the Lanczos step of
        :func:`convbench.extremes.golub_kahan_top` reads and writes each vector once.
        ``src`` and ``dst`` must be different arrays (``src`` is read across the rows
        around each chunk)."""
        lo = self.front + self.e * self.width
        hi = lo + self.n * self.width
        step = self._chunk * self.width
        total = 0.0
        for r0 in range(lo, hi, step):
            r1 = min(hi, r0 + step)
            chunk = dst[r0:r1]
            if coef != 0.0:
                chunk *= -coef
            out = chunk.T
            for t, (off, w) in enumerate(zip(self._offsets, weights, strict=True)):
                d = sign * off
                beta = 0.0 if t == 0 and coef == 0.0 else 1.0
                dgemm(scale, w, src[r0 + d : r1 + d].T, beta=beta, c=out, overwrite_c=True)
            grid = chunk.reshape((r1 - r0) // self.width, self.width, -1)
            grid[:, : self.f] = 0.0
            grid[:, self.f + self.m :] = 0.0
            total += float(np.einsum("ij,ij->", chunk, chunk))
        return total

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``A x`` for one padded input vector ``(length, cin)``."""
        out = self.empty(self.cout)[0] if out is None else out
        self._apply(x, out, self._w_fwd, 1)
        return out

    def adjoint(self, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``A^T y`` for one padded output vector ``(length, cout)``."""
        out = self.empty(self.cin)[0] if out is None else out
        self._apply(y, out, self._w_adj, -1)
        return out

    def operator(self) -> FlatOperator:
        """The layer on flattened padded vectors (see :class:`FlatOperator`)."""
        return FlatOperator(self)


class FlatOperator(scipy.sparse.linalg.LinearOperator):
    """A :class:`FlatConv` on flattened padded vectors, as a ``LinearOperator``.

    Only vectors that are zero on the pads (every vector :meth:`FlatConv.pack` makes,
    and every product) are the layer's: a Krylov method started from one stays among
    them. ``matvec_into`` and ``rmatvec_into`` write into a given vector, whose pads
    must be zero; ``matvec_step`` and ``rmatvec_step`` are the fused Lanczos update
    ``out <- scale * A x - coef * out`` with its squared norm, in one pass over ``out``.
    """

    def __init__(self, flat: FlatConv) -> None:
        self.flat = flat
        super().__init__(np.float64, (flat.length * flat.cout, flat.length * flat.cin))

    def matvec_into(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        f = self.flat
        f.forward(x.reshape(f.length, f.cin), out.reshape(f.length, f.cout))
        return out

    def rmatvec_into(self, y: np.ndarray, out: np.ndarray) -> np.ndarray:
        f = self.flat
        f.adjoint(y.reshape(f.length, f.cout), out.reshape(f.length, f.cin))
        return out

    def matvec_step(self, x: np.ndarray, out: np.ndarray, scale: float, coef: float) -> float:
        """``out <- scale * A x - coef * out`` in one pass; returns ``||out||^2``."""
        f = self.flat
        return f._apply(x.reshape(f.length, f.cin), out.reshape(f.length, f.cout),
                        f._w_fwd, 1, scale, coef)

    def rmatvec_step(self, y: np.ndarray, out: np.ndarray, scale: float, coef: float) -> float:
        """``out <- scale * A^T y - coef * out`` in one pass; returns ``||out||^2``."""
        f = self.flat
        return f._apply(y.reshape(f.length, f.cout), out.reshape(f.length, f.cin),
                        f._w_adj, -1, scale, coef)

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).ravel()
        return self.matvec_into(x, np.zeros(self.shape[0]))

    def _rmatvec(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64).ravel()
        return self.rmatvec_into(y, np.zeros(self.shape[1]))
