"""The layer's arguments one by one: a validator per argument, and their shared docs.

:mod:`convbench.layer` builds a :class:`~convbench.layer.Conv` from these validators
and checks with them the keywords given next to a ``Conv``; :func:`add_layer_docs`
writes the layer parameters into the numpydoc "Parameters" section of every public
function, so that they are documented once (as scipy keeps its solvers' docs apart).
"""

from __future__ import annotations

import inspect
import numbers
import re
from typing import Any

import numpy as np

from .weights import LAYOUTS

#: Boundary conditions: the layer's own zero padding, or the torus.
BOUNDARIES = ("periodic", "zero")
#: The layer keywords every public function takes, in their documented order.
LAYER_KEYWORDS = (
    "layout",
    "stride",
    "dilation",
    "groups",
    "padding",
    "output_padding",
    "transposed",
    "boundary",
)
#: Their annotations in the public signatures.
ANNOTATIONS = {key: "Any" for key in LAYER_KEYWORDS} | {
    "layout": "str",
    "transposed": "bool",
    "boundary": "str",
}
#: Their defaults without a ``Conv`` (``boundary`` is each function's own).
DEFAULTS: dict[str, Any] = {
    "layout": "oihw",
    "stride": 1,
    "dilation": 1,
    "groups": 1,
    "padding": None,
    "output_padding": 0,
    "transposed": False,
}
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
    return tuple(pairs)


def check_layout(layout: Any) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    return layout


def check_boundary(boundary: Any) -> str:
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}; got {boundary!r}")
    return boundary


def check_transposed(transposed: Any) -> bool:
    if not isinstance(transposed, (bool, np.bool_)):
        raise TypeError(f"transposed must be True or False; got {transposed!r}")
    return bool(transposed)


def check_groups(groups: Any) -> int:
    if not _is_int(groups):
        raise TypeError(f"groups must be a positive integer; got {groups!r}")
    if groups < 1:
        raise ValueError(f"groups must be a positive integer; got {groups}")
    return int(groups)


def _torus_size(
    kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...], transposed: bool
) -> tuple[int, ...]:
    """The input size of the smallest torus where no polyphase tap wraps around."""
    # coarse grid extent + 2 > the taps' coarse range, which is at most (extent-1)//s + 2
    coarse = [dl * (k - 1) + 3 for k, dl in zip(kernel, dilation, strict=True)]
    return tuple(coarse if transposed else [c * s for c, s in zip(coarse, stride, strict=True)])


class LayerDefault:
    """A layer keyword's default in a public signature: "not given".

    Without a ``Conv`` it stands for ``value``; with one, for the layer's own setting.
    Its repr is the value's, so that signatures read as the documented defaults.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def refuse_boundary(function: str, boundaries: tuple[str, ...], boundary: str) -> None:
    raise ValueError(
        f"{function}() takes boundary={boundaries[0]!r} only; got a layer with "
        f"boundary={boundary!r}"
    )


def normalise(
    key: str,
    value: Any,
    d: int,
    kernel: tuple[int, ...],
    dilation: tuple[int, ...],
    transposed: bool,
) -> Any:
    """One layer keyword (or ``shape``) validated and in the form a ``Conv`` keeps it,
    for a ``d``-D layer with this kernel, dilation and direction."""
    if key == "layout":
        return check_layout(value)
    if key in ("stride", "dilation", "shape"):
        return _tuple(value, d, key, minimum=1)
    if key == "output_padding":
        return _tuple(value, d, key, minimum=0)
    if key == "groups":
        return check_groups(value)
    if key == "padding":
        return _padding(value, d, kernel, dilation, transposed)
    if key == "transposed":
        return check_transposed(value)
    return check_boundary(value)


# ---------------------------------------------------------------------------------------
# the shared docs

_WEIGHT_DOC = """\
weight : array_like or Conv
    Real weights, 1 to 3 spatial dimensions (3-D to 5-D): ``(cout, cin/groups,
    *kernel)`` for ``layout="oihw"`` (PyTorch; transposed layers ``(cin, cout/groups,
    *kernel)``), the kernel axes first then ``(cin/groups, cout)`` for ``"hwio"``
    (TensorFlow/Keras). Or a :class:`~convbench.Conv` (:func:`~convbench.as_layer`),
    which keeps its own settings: a layer keyword given with it must equal the layer's
    own value, or ``TypeError``.
shape : int or tuple of int, optional
    Input size: an int or one entry per spatial dimension. Required with an array
    ``weight``{torus}; with a ``Conv``, omit it or give the layer's own."""

_TORUS = (
    " (without it the layer sits on the smallest torus where no polyphase tap wraps"
    " around, which does not change this function's result)"
)

_KEYWORDS_DOC = """\
layout : {{"oihw", "hwio"}}, default "oihw"
    Layout of an array ``weight`` (a ``Conv`` holds ``"oihw"``).
stride, dilation : int or tuple of int, default 1
    Per spatial dimension. With ``boundary="periodic"`` the stride must divide
    ``shape``.
groups : int, default 1
    Channel groups (``groups = channels``: depthwise); must divide the channels.
padding : "same", "valid", int, tuple of int, or tuple of (before, after), optional
    Zero padding. Default ``"same"``: PyTorch's split of the total ``dilation*(k-1)``
    as ``(total//2, rest)``, for any stride; transposed layers take ints, default 0,
    as ConvTranspose. On the torus padding only shifts the input and does not change
    the spectrum.
output_padding : int or tuple of int, default 0
    Transposed layers, as PyTorch's (smaller than the stride or the dilation).
transposed : bool, default False
    ``conv_transpose`` (the adjoint of the forward layer with the same weight).
boundary : {{"periodic", "zero"}}, default "{boundary}"
    ``"periodic"``: the torus (circular padding, then the strided convolution);
    ``"zero"``: the layer's own zero padding, as PyTorch computes it.{only} The default
    is ``"periodic"`` except in the functions written for the zero-padded layer (the
    boundary rule of :mod:`convbench.layer`)."""


def layer_docs(boundary: str, boundaries: tuple[str, ...], torus: bool) -> tuple[str, str]:
    """The shared docs: ``weight`` and ``shape`` (first), the layer keywords (last)."""
    only = ""
    if tuple(boundaries) != BOUNDARIES:
        only = f" This function takes ``boundary={boundaries[0]!r}`` only."
    return (
        _WEIGHT_DOC.format(torus=_TORUS if torus else ""),
        _KEYWORDS_DOC.format(boundary=boundary, only=only),
    )


_HEADER = re.compile(r"^[A-Z][A-Za-z ]*$")


def _section_start(lines: list[str], i: int) -> bool:
    return (
        i + 1 < len(lines)
        and bool(_HEADER.match(lines[i]))
        and set(lines[i + 1]) == {"-"}
        and len(lines[i + 1]) == len(lines[i])
    )


def add_layer_docs(
    doc: str | None, boundary: str, boundaries: tuple[str, ...], torus: bool = False
) -> str:
    """``doc`` with the shared layer parameters in its "Parameters" section.

    ``weight`` and ``shape`` go first and the layer keywords last, the order of the
    public signature that :func:`convbench.layer.takes_layer` builds; a docstring
    without a "Parameters" section gets one before its first section.
    """
    first, last = layer_docs(boundary, boundaries, torus)
    lines = inspect.cleandoc(doc or "").splitlines()
    starts = [i for i in range(len(lines)) if _section_start(lines, i)]
    params = next((i for i in starts if lines[i] == "Parameters"), None)
    if params is None:
        at = starts[0] if starts else len(lines)
        block = ["Parameters", "----------", *first.splitlines(), *last.splitlines(), ""]
        return "\n".join([*lines[:at], *block, *lines[at:]])
    end = next((i for i in starts if i > params), len(lines))
    while end > params + 2 and not lines[end - 1].strip():
        end -= 1
    return "\n".join(
        [
            *lines[: params + 2],
            *first.splitlines(),
            *lines[params + 2 : end],
            *last.splitlines(),
            *lines[end:],
        ]
    )
