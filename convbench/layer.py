"""The validated layer: :class:`Conv`, built once from the user's arguments.

A :class:`Conv` is exactly the linear map of PyTorch's ``torch.nn.functional.conv1d``,
``conv2d`` or ``conv3d`` (``conv_transpose1d/2d/3d`` when ``transposed=True``) with the
bias off, on an input of spatial size ``shape``, with zero padding (``boundary="zero"``)
or on the torus (``boundary="periodic"``: circular padding, then the strided
convolution). Every public entry point of convbench builds one and hands it down; no
algorithm re-validates its arguments or re-derives sizes, offsets or counts.

**The canonical forward map.** Every layer is described internally by one forward
strided convolution

    y[o, p] = sum_{i, a} W[o, i, a] * x[i, s*p + dilation*a - before]

from an input of size :attr:`Conv.fwd_in` to an output of size :attr:`Conv.fwd_out`
(reads outside the input are zero, or wrap around on the torus), block-diagonal over
``groups``. A forward layer *is* its canonical map. A transposed layer is its adjoint:
PyTorch's ``conv_transpose`` with weight ``W`` is the adjoint of ``conv`` with the same
``W``, so the canonical map reads the transposed layer's output and writes its input,
and the two have the same singular values (the operator matrix is transposed).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .weights import LAYOUTS

__all__ = ["BOUNDARIES", "Conv", "as_layer"]

#: Boundary conditions: the layer's own zero padding, or the torus.
BOUNDARIES = ("periodic", "zero")
_PAD_WORDS = ("same", "valid")


def _is_int(v: Any) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)


def _tuple(value: Any, d: int, name: str, *, minimum: int) -> tuple[int, ...]:
    """An int or a d-tuple of ints, each at least ``minimum``, as a d-tuple."""
    if _is_int(value):
        vals: tuple = (value,) * d
    elif isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        vals = tuple(value)
        if len(vals) != d:
            raise ValueError(
                f"{name} must be an int or a tuple of {d} ints for a {d}-D layer; "
                f"got {len(vals)} values {tuple(value)!r}"
            )
    else:
        raise TypeError(f"{name} must be an int or a tuple of {d} ints; got {value!r}")
    for v in vals:
        if not _is_int(v):
            raise TypeError(f"{name} entries must be integers; got {v!r}")
        if v < minimum:
            word = "positive" if minimum == 1 else "non-negative"
            raise ValueError(f"{name} entries must be {word}; got {tuple(vals)!r}")
    return tuple(int(v) for v in vals)


def _weight(weight: Any, layout: str) -> np.ndarray:
    """Real finite float64 weights in PyTorch order ``(w0, w1, *kernel)``, 3 to 5-D."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    try:
        arr = np.asarray(weight)
    except Exception as exc:  # ragged nested lists and similar
        raise TypeError(f"weight must be a numeric array: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.integer)
        or np.issubdtype(arr.dtype, np.floating)
        or arr.dtype == np.bool_
    ):
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise TypeError(f"weight must be real; got complex dtype {arr.dtype}")
        raise TypeError(f"weight must be a real numeric array; got dtype {arr.dtype}")
    if not 3 <= arr.ndim <= 5:
        expected = (
            "(cout, cin/groups, *kernel)" if layout == "oihw" else "(*kernel, cin/groups, cout)"
        )
        raise ValueError(
            f"weight must have 1 to 3 spatial dimensions, {expected} for layout={layout!r} "
            f"(3-D to 5-D); got {arr.ndim}-D with shape {arr.shape}"
        )
    if 0 in arr.shape:
        raise ValueError(f"weight has an empty dimension: shape {arr.shape}")
    if layout == "hwio":
        d = arr.ndim - 2
        arr = arr.transpose(d + 1, d, *range(d))
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("weight contains non-finite values (nan or inf)")
    return arr


def _padding(
    padding: Any, d: int, kernel: tuple[int, ...], dilation: tuple[int, ...], transposed: bool
) -> tuple[tuple[int, int], ...]:
    """Per-dimension ``(before, after)`` pads from the user's ``padding``."""
    if padding is None:
        padding = 0 if transposed else "same"
    if isinstance(padding, str):
        if transposed:
            raise ValueError(
                f"padding={padding!r} is not accepted for transposed layers: use an int or "
                "a tuple, as ConvTranspose does"
            )
        if padding not in _PAD_WORDS:
            raise ValueError(f"padding must be 'same', 'valid', an int or a tuple; got {padding!r}")
        if padding == "valid":
            return ((0, 0),) * d
        totals = [dl * (k - 1) for k, dl in zip(kernel, dilation, strict=True)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if _is_int(padding):
        if padding < 0:
            raise ValueError(f"padding must be non-negative; got {padding}")
        return ((int(padding), int(padding)),) * d
    if not isinstance(padding, (tuple, list)):
        raise TypeError(f"padding must be 'same', 'valid', an int or a tuple; got {padding!r}")
    items = tuple(padding)
    if all(_is_int(p) for p in items):
        sym = _tuple(items, d, "padding", minimum=0)
        return tuple((p, p) for p in sym)
    if len(items) != d or not all(isinstance(p, (tuple, list)) for p in items):
        raise ValueError(
            f"padding must be an int, a tuple of {d} ints, or {d} (before, after) pairs; "
            f"got {padding!r}"
        )
    pairs = []
    for p in items:
        if len(p) != 2:
            raise ValueError(f"padding pairs must be (before, after); got {p!r} in {padding!r}")
        before, after = _tuple(tuple(p), 2, "padding", minimum=0)
        pairs.append((before, after))
    if transposed and any(b != a for b, a in pairs):
        # ONNX ConvTranspose allows it (the full output cropped unevenly); kept general
        pass
    return tuple(pairs)


@dataclass(frozen=True, eq=False)
class Conv:
    """One convolutional layer, validated: the weight and everything derived from it.

    Build it with :func:`as_layer` (or ``Conv.build``); every argument is checked once,
    before anything large is allocated.

    Attributes
    ----------
    weight : numpy.ndarray
        float64 weights in PyTorch order: ``(cout, cin/groups, *kernel)``, or
        ``(cin, cout/groups, *kernel)`` for a transposed layer.
    shape : tuple of int
        The layer's input size, one entry per spatial dimension.
    stride, dilation : tuple of int
        Per spatial dimension.
    groups : int
        Channel groups; the operator is block-diagonal over them.
    padding : tuple of (int, int)
        ``(before, after)`` per dimension. On the torus it only shifts the input.
    output_padding : tuple of int
        Transposed layers: extra outputs at the end of each dimension.
    transposed : bool
        ``conv_transpose`` instead of ``conv``.
    boundary : {"periodic", "zero"}
        Zero padding (the layer as PyTorch computes it) or the torus.
    """

    weight: np.ndarray
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    padding: tuple[tuple[int, int], ...]
    output_padding: tuple[int, ...]
    transposed: bool
    boundary: str

    # -- construction ---------------------------------------------------------------

    @classmethod
    def build(
        cls,
        weight: Any,
        shape: Any,
        *,
        layout: str = "oihw",
        stride: Any = 1,
        dilation: Any = 1,
        groups: Any = 1,
        padding: Any = None,
        output_padding: Any = 0,
        transposed: bool = False,
        boundary: str = "periodic",
    ) -> Conv:
        """Validate the user's arguments and build the layer (see :func:`as_layer`)."""
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}; got {boundary!r}")
        if not isinstance(transposed, (bool, np.bool_)):
            raise TypeError(f"transposed must be True or False; got {transposed!r}")
        w = _weight(weight, layout)
        d = w.ndim - 2
        size = _tuple(shape, d, "shape", minimum=1)
        stride_t = _tuple(stride, d, "stride", minimum=1)
        dil_t = _tuple(dilation, d, "dilation", minimum=1)
        if not _is_int(groups):
            raise TypeError(f"groups must be a positive integer; got {groups!r}")
        if groups < 1:
            raise ValueError(f"groups must be a positive integer; got {groups}")
        groups = int(groups)
        kernel = tuple(int(k) for k in w.shape[2:])
        first = "cin" if transposed else "cout"
        if w.shape[0] % groups:
            raise ValueError(
                f"groups={groups} must divide the weight's first axis ({first}={w.shape[0]})"
            )
        pads = _padding(padding, d, kernel, dil_t, bool(transposed))
        out_pad = _tuple(output_padding, d, "output_padding", minimum=0)
        if not transposed and any(out_pad):
            raise ValueError("output_padding applies to transposed layers only")
        for op, s, dl in zip(out_pad, stride_t, dil_t, strict=True):
            if op >= max(s, dl):
                raise ValueError(
                    f"output_padding {out_pad} must be smaller than the stride {stride_t} "
                    f"or the dilation {dil_t} in each dimension"
                )
        layer = cls(
            w, size, stride_t, dil_t, groups, pads, out_pad, bool(transposed), boundary
        )
        layer._check_sizes()
        return layer

    def _check_sizes(self) -> None:
        extent = self.extent
        if self.boundary == "periodic":
            if not self.transposed:
                for n, s in zip(self.shape, self.stride, strict=True):
                    if n % s:
                        raise ValueError(
                            f"boundary='periodic' needs the stride to divide the input size: "
                            f"shape {self.shape}, stride {self.stride}"
                        )
            torus = self.fwd_in
            if any(e > n for e, n in zip(extent, torus, strict=True)):
                kernel = "x".join(map(str, self.kernel))
                size = "x".join(map(str, torus))
                dilated = (
                    f" (dilated extent {'x'.join(map(str, extent))})"
                    if any(dl > 1 for dl in self.dilation)
                    else ""
                )
                raise ValueError(
                    f"weight kernel {kernel}{dilated} is larger than the input {size}; on the "
                    "torus kernels may be at most the input size"
                )
        else:
            for n, (b, a), e in zip(self.shape, self.padding, extent, strict=True):
                if not self.transposed and n + b + a < e:
                    raise ValueError(
                        f"the dilated kernel (extent {extent}) is longer than the padded "
                        f"input (shape {self.shape}, padding {self.padding}): empty output"
                    )
            if any(L < 1 for L in self.out_shape):
                raise ValueError(
                    f"padding {self.padding} leaves an empty output for shape {self.shape}"
                )

    # -- facts -----------------------------------------------------------------------

    @property
    def d(self) -> int:
        """Number of spatial dimensions (1, 2 or 3)."""
        return self.weight.ndim - 2

    @property
    def kernel(self) -> tuple[int, ...]:
        return tuple(int(k) for k in self.weight.shape[2:])

    @property
    def extent(self) -> tuple[int, ...]:
        """Dilated kernel extent ``dilation*(k-1) + 1`` per dimension."""
        return tuple(dl * (k - 1) + 1 for k, dl in zip(self.kernel, self.dilation, strict=True))

    @property
    def fwd_cout(self) -> int:
        """Output channels of the canonical forward map (the weight's first axis)."""
        return int(self.weight.shape[0])

    @property
    def fwd_cin(self) -> int:
        """Input channels of the canonical forward map."""
        return int(self.weight.shape[1]) * self.groups

    @property
    def cout(self) -> int:
        """The layer's output channels."""
        return self.fwd_cin if self.transposed else self.fwd_cout

    @property
    def cin(self) -> int:
        """The layer's input channels."""
        return self.fwd_cout if self.transposed else self.fwd_cin

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The layer's output size."""
        out = []
        for n, s, (b, a), e, op in zip(
            self.shape, self.stride, self.padding, self.extent, self.output_padding, strict=True
        ):
            if self.boundary == "periodic":
                out.append(n * s if self.transposed else n // s)
            elif self.transposed:
                out.append((n - 1) * s + e - b - a + op)
            else:
                out.append((n + b + a - e) // s + 1)
        return tuple(out)

    @property
    def fwd_in(self) -> tuple[int, ...]:
        """Input size of the canonical forward map."""
        return self.out_shape if self.transposed else self.shape

    @property
    def fwd_out(self) -> tuple[int, ...]:
        """Output size of the canonical forward map."""
        return self.shape if self.transposed else self.out_shape

    @property
    def before(self) -> tuple[int, ...]:
        """Offset ``before`` of the canonical read ``s*p + dilation*a - before``."""
        return tuple(b for b, _a in self.padding)

    @property
    def offsets(self) -> tuple[np.ndarray, ...]:
        """Per dimension, the stencil offsets ``dilation*a - before`` of the taps."""
        return tuple(
            dl * np.arange(k) - b
            for k, dl, b in zip(self.kernel, self.dilation, self.before, strict=True)
        )

    @property
    def rows(self) -> int:
        """Rows of the operator's matrix (the layer's outputs)."""
        return self.cout * math.prod(self.out_shape)

    @property
    def cols(self) -> int:
        """Columns of the operator's matrix (the layer's inputs)."""
        return self.cin * math.prod(self.shape)

    @property
    def n_values(self) -> int:
        """Number of singular values: ``min(rows, cols)``, exact zeros included."""
        return min(self.rows, self.cols)

    @property
    def group_out(self) -> int:
        """Output channels per group of the canonical map."""
        return self.fwd_cout // self.groups

    @property
    def group_in(self) -> int:
        """Input channels per group of the canonical map."""
        return int(self.weight.shape[1])

    @property
    def phases(self) -> int:
        """``prod(stride)``: the polyphase components of the input."""
        return math.prod(self.stride)

    @property
    def grid(self) -> tuple[int, ...]:
        """The periodic frequency grid: the canonical output size ``fwd_in / stride``."""
        return tuple(n // s for n, s in zip(self.fwd_in, self.stride, strict=True))

    @property
    def block_shape(self) -> tuple[int, int]:
        """Periodic symbol block of one group: ``cout/groups x (cin/groups)*prod(stride)``
        of the canonical map."""
        return self.group_out, self.group_in * self.phases

    @property
    def is_plain(self) -> bool:
        """A forward, stride-1, undilated, ungrouped 2-D layer with 'same' padding: the
        layer the paper's four paths were written for."""
        same = tuple(
            (dl * (k - 1) // 2, dl * (k - 1) - dl * (k - 1) // 2)
            for k, dl in zip(self.kernel, self.dilation, strict=True)
        )
        return (
            self.d == 2
            and not self.transposed
            and self.groups == 1
            and all(s == 1 for s in self.stride)
            and all(dl == 1 for dl in self.dilation)
            and self.padding == same
        )

    def with_boundary(self, boundary: str) -> Conv:
        """The same layer with another boundary (validated again)."""
        return Conv.build(
            self.weight,
            self.shape,
            stride=self.stride,
            dilation=self.dilation,
            groups=self.groups,
            padding=self.padding,
            output_padding=self.output_padding,
            transposed=self.transposed,
            boundary=boundary,
        )

    def describe(self) -> str:
        """One line: the layer as a user would name it."""
        kind = f"ConvTranspose{self.d}d" if self.transposed else f"Conv{self.d}d"
        parts = [
            f"{kind}({self.cin}, {self.cout}, kernel={'x'.join(map(str, self.kernel))}",
        ]
        if any(s != 1 for s in self.stride):
            parts.append(f"stride={self.stride}")
        if any(dl != 1 for dl in self.dilation):
            parts.append(f"dilation={self.dilation}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        parts.append(f"padding={self.padding}")
        return ", ".join(parts) + f") on {'x'.join(map(str, self.shape))}, {self.boundary}"

    # -- the periodic reduction --------------------------------------------------------

    def polyphase(self) -> Polyphase:
        """The periodic layer as ``groups`` stride-1 convolutions on :attr:`grid`.

        Each input index ``s*r + phi`` is split into its phase ``phi < s`` and its
        coarse index ``r``; tap ``a`` reads phase ``(dilation*a - before) mod s`` at the
        coarse offset ``floor((dilation*a - before) / s)``. The result is a dense
        stride-1 kernel ``(groups, cout/groups, (cin/groups)*prod(s), *taps)`` whose input
        channels are ordered ``(i, phi_1, ..., phi_d)``; its symbol on the coarse grid
        gives the periodic spectrum (the phase split is a permutation).
        """
        g, co, ci = self.groups, self.group_out, self.group_in
        d = self.d
        phase_of, coarse_of, origin, size = [], [], [], []
        for off, s, n in zip(self.offsets, self.stride, self.grid, strict=True):
            phi = off % s
            u = (off - phi) // s
            lo, hi = int(u.min()), int(u.max())
            if hi - lo + 1 > n:  # taps wrap around the coarse torus: fold them
                u, lo, hi = u % n, 0, n - 1
            phase_of.append(phi)
            coarse_of.append(u - lo)
            origin.append(lo)
            size.append(hi - lo + 1)
        w = self.weight.reshape(g, co, ci, *self.kernel)
        kernel = np.zeros((g, co, ci, *self.stride, *size))
        taps = np.indices(self.kernel).reshape(d, -1).T
        for tap in taps:
            idx = (
                *(int(phase_of[k][a]) for k, a in enumerate(tap)),
                *(int(coarse_of[k][a]) for k, a in enumerate(tap)),
            )
            kernel[(slice(None), slice(None), slice(None), *idx)] += w[
                (slice(None), slice(None), slice(None), *tap)
            ]
        kernel = kernel.reshape(g, co, ci * self.phases, *size)
        return Polyphase(kernel, tuple(origin), self.grid, self.transposed)


@dataclass(frozen=True, eq=False)
class Polyphase:
    """A periodic layer as ``groups`` stride-1 dense convolutions on a coarse grid.

    Attributes
    ----------
    kernel : numpy.ndarray
        float64 ``(groups, rows, cols, *taps)``; tap ``b`` sits at offset
        ``b + origin`` and the symbol of group ``g`` is
        ``B_g(t) = sum_b kernel[g, :, :, b] exp(i <t, b + origin>)``.
    origin : tuple of int
        Offset of tap 0 per dimension.
    grid : tuple of int
        The frequency grid ``t = 2*pi*j/grid``.
    transposed : bool
        The layer is the adjoint of this map (same singular values).
    """

    kernel: np.ndarray
    origin: tuple[int, ...]
    grid: tuple[int, ...]
    transposed: bool

    @property
    def groups(self) -> int:
        return int(self.kernel.shape[0])

    @property
    def block(self) -> tuple[int, int]:
        return int(self.kernel.shape[1]), int(self.kernel.shape[2])

    @property
    def taps(self) -> tuple[int, ...]:
        return tuple(int(k) for k in self.kernel.shape[3:])


def as_layer(
    weight: Any,
    shape: Any,
    *,
    layout: str = "oihw",
    stride: Any = 1,
    dilation: Any = 1,
    groups: Any = 1,
    padding: Any = None,
    output_padding: Any = 0,
    transposed: bool = False,
    boundary: str = "periodic",
) -> Conv:
    """Validate a layer's arguments once and return the :class:`Conv`.

    Parameters
    ----------
    weight : array_like or Conv
        Real weights, 3-D to 5-D: ``(cout, cin/groups, *kernel)`` for ``layout="oihw"``
        (PyTorch; transposed layers ``(cin, cout/groups, *kernel)``), kernel axes first
        then ``(cin/groups, cout)`` for ``"hwio"`` (TensorFlow/Keras). A :class:`Conv` is
        returned as it is, set on ``boundary`` (its other arguments are its own).
    shape : int or tuple of int
        Input size, an int or one entry per spatial dimension.
    layout : {"oihw", "hwio"}
        Weight layout.
    stride, dilation : int or tuple of int
        Per spatial dimension.
    groups : int
        Must divide both channel counts.
    padding : "same", "valid", int, tuple of int, or tuple of (before, after)
        Zero padding of the layer. Default ``"same"``: PyTorch's split of the total
        ``dilation*(k-1)`` as ``(total//2, rest)``, for any stride. Transposed layers
        take ints only, default 0, as ConvTranspose. Ignored by the periodic spectrum
        (on the torus padding only shifts the input).
    output_padding : int or tuple of int
        Transposed layers: as PyTorch's ``output_padding``.
    transposed : bool
        The layer is ``conv_transpose``.
    boundary : {"periodic", "zero"}
        Torus, or the layer's own zero padding.

    Returns
    -------
    Conv
        The validated layer.
    """
    if isinstance(weight, Conv):
        return weight if weight.boundary == boundary else weight.with_boundary(boundary)
    return Conv.build(
        weight,
        shape,
        layout=layout,
        stride=stride,
        dilation=dilation,
        groups=groups,
        padding=padding,
        output_padding=output_padding,
        transposed=transposed,
        boundary=boundary,
    )
