"""Weight layouts and seeded generators.

Weights are validated once, with the rest of the layer, by
:func:`convbench.layer.as_layer`; :func:`as_shape` validates a 2-D size (the
generators' ``kernel``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "LAYOUTS",
    "as_shape",
    "he_normal",
    "pytorch_default",
]

#: Accepted weight layouts: PyTorch ``(cout, cin, kh, kw)`` and TensorFlow/Keras
#: ``(kh, kw, cin, cout)``.
LAYOUTS = ("oihw", "hwio")


def as_shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    """Validate an input size and return it as ``(n, m)``.

    Parameters
    ----------
    shape : int or tuple of two ints
        ``n`` for a square ``n x n`` input or ``(n, m)`` for a rectangular one.
    name : str
        Argument name used in error messages.

    Returns
    -------
    tuple of int
        ``(n, m)``, both positive Python ints.
    """
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        dims = (shape, shape)
    elif isinstance(shape, (tuple, list)) or (
        isinstance(shape, np.ndarray) and shape.ndim == 1
    ):
        dims = tuple(shape)
        if len(dims) != 2:
            raise ValueError(f"{name} must be an int n or a pair (n, m); got {len(dims)} values")
    else:
        raise TypeError(
            f"{name} must be an int n or a pair (n, m) of ints; got {type(shape).__name__}"
        )
    first, second = _positive_ints(dims, name)
    return first, second


def _positive_ints(values: Any, name: str) -> tuple[int, ...]:
    """``values`` as Python ints, each a positive integer, or a clear error naming them."""
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)):
            raise TypeError(f"{name} entries must be integers; got {v!r}")
        if v <= 0:
            raise ValueError(f"{name} entries must be positive; got {v}")
        out.append(int(v))
    return tuple(out)


def _kernel(kernel: Any) -> tuple[int, ...]:
    """``k`` (a 2-D ``k x k`` kernel) or a tuple of 1 to 3 positive sizes."""
    if isinstance(kernel, (tuple, list)) and len(kernel) in (1, 3):
        return _positive_ints(kernel, "kernel")
    if isinstance(kernel, (tuple, list)) and len(kernel) not in (1, 2, 3):
        raise ValueError(f"kernel must have 1 to 3 sizes; got {tuple(kernel)!r}")
    return as_shape(kernel, "kernel")


def pytorch_default(
    cout: int,
    cin: int,
    kernel: int | tuple[int, ...] = 3,
    seed: int | None = 0,
    layout: str = "oihw",
) -> np.ndarray:
    """Random weights as PyTorch's default ``Conv2d`` initialisation draws them.

    PyTorch uses Kaiming-uniform with ``a = sqrt(5)``, which amounts to
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = cin * prod(kernel)``. For a
    grouped layer pass ``cin/groups`` as ``cin``; for a transposed layer PyTorch's
    ``ConvTranspose`` weight is ``(cin, cout/groups, *kernel)`` with ``fan_in`` taken
    from its second axis, so pass ``(cin, cout/groups)`` as ``(cout, cin)``.

    Parameters
    ----------
    cout, cin : int
        Output and input channels.
    kernel : int or tuple of int
        Kernel size: ``k`` (a 2-D ``k x k`` kernel), or one size per spatial dimension
        (1 to 3 of them).
    seed : int or None
        Seed for :func:`numpy.random.default_rng`.
    layout : {"oihw", "hwio"}
        Layout of the returned array.

    Returns
    -------
    numpy.ndarray
        float64 weights in the requested layout.
    """
    ks = _kernel(kernel)
    cout, cin = _channels(cout, cin)
    bound = 1.0 / math.sqrt(cin * math.prod(ks))
    w = np.random.default_rng(seed).uniform(-bound, bound, size=(cout, cin, *ks))
    return _to_layout(w, layout)


def he_normal(
    cout: int,
    cin: int,
    kernel: int | tuple[int, ...] = 3,
    seed: int | None = 0,
    layout: str = "oihw",
) -> np.ndarray:
    """Random weights from He (Kaiming) normal initialisation, ``N(0, 2 / fan_in)``.

    Parameters are as for :func:`pytorch_default`.
    """
    ks = _kernel(kernel)
    cout, cin = _channels(cout, cin)
    std = math.sqrt(2.0 / (cin * math.prod(ks)))
    w = np.random.default_rng(seed).normal(0.0, std, size=(cout, cin, *ks))
    return _to_layout(w, layout)


def _channels(cout: Any, cin: Any) -> tuple[int, int]:
    for name, c in (("cout", cout), ("cin", cin)):
        if isinstance(c, bool) or not isinstance(c, (numbers.Integral, np.integer)):
            raise TypeError(f"{name} must be an integer; got {c!r}")
        if c <= 0:
            raise ValueError(f"{name} must be positive; got {c}")
    return int(cout), int(cin)


def _to_layout(w: np.ndarray, layout: str) -> np.ndarray:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    d = w.ndim - 2
    return w if layout == "oihw" else np.ascontiguousarray(w.transpose(*range(2, 2 + d), 1, 0))
