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

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .arguments import (
    ANNOTATIONS,
    BOUNDARIES,
    DEFAULTS,
    LAYER_KEYWORDS,
    LayerDefault,
    _padding,
    _torus_size,
    _tuple,
    _weight,
    add_layer_docs,
    check_boundary,
    check_groups,
    check_layout,
    check_transposed,
    normalise,
    refuse_boundary,
)

__all__ = ["BOUNDARIES", "LAYER_KEYWORDS", "Conv", "as_layer", "bind_layer", "takes_layer"]

#: The layer keywords a weight needs besides its layout and boundary, in signature order.
LAYER_OPTIONS = ("stride", "dilation", "groups", "padding", "output_padding", "transposed")

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
        """Validate the user's arguments and build the layer (see :func:`as_layer`).

        ``shape=None`` puts the layer on the smallest torus where no polyphase tap wraps
        around (:meth:`torus`'s size), for results that do not depend on the size.
        """
        boundary = check_boundary(boundary)
        transposed = check_transposed(transposed)
        w = _weight(weight, check_layout(layout))
        d = w.ndim - 2
        stride_t = _tuple(stride, d, "stride", minimum=1)
        dil_t = _tuple(dilation, d, "dilation", minimum=1)
        if shape is None:
            shape = _torus_size(w.shape[2:], stride_t, dil_t, transposed)
        size = _tuple(shape, d, "shape", minimum=1)
        groups = check_groups(groups)
        kernel = tuple(int(k) for k in w.shape[2:])
        first = "cin" if transposed else "cout"
        if w.shape[0] % groups:
            raise ValueError(
                f"groups={groups} must divide the weight's first axis ({first}={w.shape[0]})"
            )
        pads = _padding(padding, d, kernel, dil_t, transposed)
        out_pad = _tuple(output_padding, d, "output_padding", minimum=0)
        if not transposed and any(out_pad):
            raise ValueError("output_padding applies to transposed layers only")
        for op, s, dl in zip(out_pad, stride_t, dil_t, strict=True):
            if op >= max(s, dl):
                raise ValueError(
                    f"output_padding {out_pad} must be smaller than the stride {stride_t} "
                    f"or the dilation {dil_t} in each dimension"
                )
        layer = cls(w, size, stride_t, dil_t, groups, pads, out_pad, transposed, boundary)
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

    @property
    def options(self) -> dict[str, Any]:
        """The layer keywords that rebuild this layer from its weight (layout ``"oihw"``)."""
        return {**{key: getattr(self, key) for key in LAYER_OPTIONS}, "boundary": self.boundary}

    def replace(self, **changes: Any) -> Conv:
        """The same layer with some arguments changed (``weight``, ``shape`` or layer
        keywords), validated again: the one way to change a layer's settings."""
        unknown = set(changes) - {"weight", "shape", *LAYER_KEYWORDS}
        if unknown:
            raise TypeError(f"replace() got unexpected arguments {sorted(unknown)}")
        args = {"weight": self.weight, "shape": self.shape, **self.options, **changes}
        return Conv.build(args.pop("weight"), args.pop("shape"), **args)

    def with_boundary(self, boundary: str) -> Conv:
        """The same layer with another boundary (validated again)."""
        return self if boundary == self.boundary else self.replace(boundary=boundary)

    def torus(self) -> Conv:
        """The periodic layer on the smallest torus where no polyphase tap wraps around:
        its :meth:`polyphase` kernel is the layer's symbol for every input size."""
        return self.replace(shape=None, boundary="periodic")

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


# ---------------------------------------------------------------------------------------
# the seam: every public function binds its layer here, once


def bind_layer(
    weight: Any,
    shape: Any = None,
    *,
    function: str = "as_layer",
    boundaries: tuple[str, ...] = BOUNDARIES,
    torus: bool = False,
    **keywords: Any,
) -> Conv:
    """The :class:`Conv` of one call: the rules of every public function, in one place.

    - A ``Conv`` keeps its own settings. A keyword (or ``shape``) given with it is
      validated as for an array weight and must equal the layer's own value, else
      ``TypeError`` naming both.
    - An array weight needs ``shape`` (unless ``torus``: then the layer sits on
      :meth:`Conv.torus`'s size); keywords left as :class:`LayerDefault` take its value.
    - A function that takes one boundary only (``boundaries``) refuses the other with a
      ``ValueError``, whether asked for or carried by a ``Conv``.
    """
    unknown = set(keywords) - set(LAYER_KEYWORDS)
    if unknown:
        raise TypeError(f"{function}() got unexpected layer keywords {sorted(unknown)}")
    given = {k: v for k, v in keywords.items() if not isinstance(v, LayerDefault)}
    if isinstance(weight, Conv):
        layer = weight
        checks = dict(given, shape=shape) if shape is not None else given
        own_values = {"shape": layer.shape, "layout": "oihw", **layer.options}
        for key, value in checks.items():
            own = own_values[key]
            asked = normalise(key, value, layer.d, layer.kernel, layer.dilation, layer.transposed)
            if asked != own:
                fix = "its weight is held as 'oihw'" if key == "layout" else "layer.replace("
                fix += "" if key == "layout" else f"{key}=...) makes another"
                raise TypeError(
                    f"{function}(): {key}={value!r} conflicts with the layer's own {key} "
                    f"{own!r}; a Conv keeps its settings ({fix})"
                )
    else:
        if shape is None and not torus:
            raise TypeError(f"{function}() needs the input shape unless weight is a Conv")
        options = {k: v.value for k, v in keywords.items() if isinstance(v, LayerDefault)}
        options.update(given)
        boundary = check_boundary(options.get("boundary", "periodic"))
        if boundary not in boundaries:
            refuse_boundary(function, boundaries, boundary)
        layer = Conv.build(weight, shape, **options)
    if layer.boundary not in boundaries:
        refuse_boundary(function, boundaries, layer.boundary)
    return layer


F = TypeVar("F", bound=Callable[..., Any])
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
_KEYWORD = inspect.Parameter.KEYWORD_ONLY


def takes_layer(
    boundary: str = "periodic",
    *,
    boundaries: tuple[str, ...] = BOUNDARIES,
    torus: bool = False,
) -> Callable[[F], F]:
    """Make a function of a :class:`Conv` a public function of the layer's arguments.

    The decorated function is written ``f(layer, <its own arguments>)``. The public
    function is ``f(weight, shape=None, <its own positional arguments>, *, <its own
    keyword arguments>, layout, stride, dilation, groups, padding, output_padding,
    transposed, boundary)``: it binds the layer once with :func:`bind_layer` (defaults:
    ``boundary`` here, the rest as :func:`as_layer`) and calls ``f`` with it. The shared
    parameter docs are added to ``f``'s numpydoc "Parameters" section, ``weight`` and
    ``shape`` first and the layer keywords last, in the signature's order.

    Parameters
    ----------
    boundary : {"periodic", "zero"}
        The function's default boundary (the boundary rule: "zero" only for functions
        written for the zero-padded layer).
    boundaries : tuple of str
        The boundaries the function takes.
    torus : bool
        ``shape`` may be left out with an array weight (results that hold for every
        input size).

    Returns
    -------
    callable
        The decorator.
    """
    check_boundary(boundary)
    defaults = {**DEFAULTS, "boundary": boundary}

    def decorate(func: F) -> F:
        params = list(inspect.signature(func).parameters.values())[1:]
        public = inspect.Signature(
            [
                inspect.Parameter("weight", _POSITIONAL, annotation="Any"),
                inspect.Parameter("shape", _POSITIONAL, default=None, annotation="Any"),
                *(p for p in params if p.kind is _POSITIONAL),
                *(p for p in params if p.kind is _KEYWORD),
                *(
                    inspect.Parameter(
                        key, _KEYWORD, default=LayerDefault(defaults[key]), annotation=hint
                    )
                    for key, hint in ANNOTATIONS.items()
                ),
            ],
            return_annotation=inspect.signature(func).return_annotation,
        )
        name = func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = public.bind(*args, **kwargs).arguments
            except TypeError as exc:  # name the function, as Python does
                raise TypeError(f"{name}(): {exc}") from None
            weight, shape = bound.pop("weight"), bound.pop("shape", None)
            layer_keywords = {
                key: bound.pop(key, LayerDefault(defaults[key])) for key in LAYER_KEYWORDS
            }
            layer = bind_layer(
                weight,
                shape,
                function=name,
                boundaries=boundaries,
                torus=torus,
                **layer_keywords,
            )
            return func(layer, **bound)

        wrapper.__signature__ = public  # type: ignore[attr-defined]
        wrapper.__doc__ = add_layer_docs(func.__doc__, boundary, boundaries, torus)
        return wrapper  # type: ignore[return-value]

    return decorate


@takes_layer()
def as_layer(layer: Conv) -> Conv:
    """Validate a layer's arguments once and return the :class:`Conv`.

    A ``Conv`` is returned as it is: its settings are its own, and a keyword that
    differs from them is a ``TypeError`` (:meth:`Conv.replace` makes another layer).

    **The boundary rule.** Every public function of convbench takes either a ``Conv``
    or ``(weight, shape, **layer keywords)``, in the order ``f(weight, shape, <its
    own arguments>, *, <layer keywords>)``. ``boundary`` defaults to ``"periodic"``,
    the layer every path computes exactly, except in the functions written for the
    zero-padded layer, which default to ``"zero"``: the approximations of
    :mod:`convbench.boundary` (``approximate``, ``compare_models``,
    ``mixture_distribution``, ``sigma_max_estimate``), the bound at one input size
    (``size_bound``) and the matrix-free operators (``conv_operator``,
    ``top_singular_values``, ``smallest_singular_values``). A function that takes one
    boundary only refuses the other, also when a ``Conv`` carries it.

    Returns
    -------
    Conv
        The validated layer.
    """
    return layer
