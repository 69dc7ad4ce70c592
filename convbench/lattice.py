"""A dilated zero-padded layer as independent layers on sub-lattices.

With stride 1 and dilation ``d`` along an axis, output ``i`` reads the inputs
``i + d*a - before`` (``a`` the taps): all in the residue class
``q = (i - before) mod d``. Outputs of class ``r`` and inputs of class
``q(r) = (r - before) mod d`` form a dilation-1 layer of their own, on about ``n / d``
points, with its own zero padding; the classes do not meet. After a permutation of rows
and columns the operator is the direct sum of these ``d`` layers per axis, ``prod(d)``
in all, so its singular values are theirs together (with the zeros of unused rows or
columns). Sub-lattices of the same size and padding are the same layer: each distinct
one is solved once and its values counted that many times. When ``d`` divides the
padded grid every class is the same layer, which is why such layers repeat their top
value ``prod(d)`` times.

A grouped layer is block-diagonal over its groups in the same way: each group is a
layer of its own (:func:`group_layers`), and groups with equal weights (depthwise layers
with equal channels, channels repeated in blocks) are one layer counted that many times.

:func:`sublattices` and :func:`group_layers` return the distinct layers with their
multiplicities; :func:`merge` joins their values.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np

from .layer import Conv

__all__ = ["group_layers", "merge", "repeated_groups", "sublattices"]


def _axis_classes(
    n: int, m: int, k: int, dilation: int, before: int
) -> Counter[tuple[int, int, int]] | None:
    """Per residue class of one axis, ``(input size, pad before, pad after)`` of its
    dilation-1 layer, counted; ``None`` if a class would need a negative pad."""
    classes: Counter[tuple[int, int, int]] = Counter()
    for r in range(dilation):
        outputs = len(range(r, m, dilation))
        q = (r - before) % dilation
        inputs = len(range(q, n, dilation))
        if outputs == 0 or inputs == 0:  # zero rows or columns only: no nonzero value
            continue
        pad_before = -((r - before - q) // dilation)
        pad_after = outputs - inputs + k - 1 - pad_before
        if pad_before < 0 or pad_after < 0:
            return None
        classes[(inputs, pad_before, pad_after)] += 1
    return classes


def sublattices(layer: Conv) -> list[tuple[Conv, int]] | None:
    """The distinct dilation-1 layers of a dilated layer, each with its multiplicity.

    Parameters
    ----------
    layer : Conv
        A validated layer.

    Returns
    -------
    list of (Conv, int) or None
        ``None`` unless the layer is zero-padded, not transposed, of stride 1 and
        dilated along some axis. Otherwise the layers whose singular values, each
        counted its multiplicity of times, are the layer's nonzero ones (with zeros for
        the rest). Their sizes add up to at most the layer's.
    """
    if (layer.boundary != "zero" or layer.transposed or any(s != 1 for s in layer.stride)
            or all(dl == 1 for dl in layer.dilation)):
        return None
    axes = []
    for n, m, k, dl, (b, _a) in zip(layer.shape, layer.out_shape, layer.kernel,
                                     layer.dilation, layer.padding, strict=True):
        classes = _axis_classes(n, m, k, dl, b)
        if classes is None:
            return None
        axes.append(list(classes.items()))
    out = []
    for combo in itertools.product(*axes):
        size = tuple(c[0][0] for c in combo)
        pads = tuple((c[0][1], c[0][2]) for c in combo)
        count = math.prod(c[1] for c in combo)
        out.append((layer.replace(shape=size, padding=pads, dilation=1), count))
    return out


def group_layers(layer: Conv) -> list[tuple[Conv, int]]:
    """The distinct groups of a layer, each as an ungrouped layer, with the number of
    groups whose weights are the same, in the order of their first group.

    Parameters
    ----------
    layer : Conv
        A validated layer (a single group gives itself, counted once).

    Returns
    -------
    list of (Conv, int)
        Layers whose singular values, each counted its multiplicity of times, are the
        layer's.
    """
    if layer.groups == 1:
        return [(layer, 1)]
    per = layer.weight.shape[0] // layer.groups  # axis 0 is split into groups
    seen: dict[bytes, int] = {}
    out: list[tuple[Conv, int]] = []
    for g in range(layer.groups):
        weight = np.ascontiguousarray(layer.weight[g * per:(g + 1) * per])
        key = weight.tobytes()
        if key in seen:
            sub, count = out[seen[key]]
            out[seen[key]] = (sub, count + 1)
        else:
            seen[key] = len(out)
            out.append((layer.replace(weight=weight, groups=1), 1))
    return out


def repeated_groups(layer: Conv) -> list[tuple[Conv, int]] | None:
    """:func:`group_layers` where some groups share their weights, else ``None`` (a
    grouped operator of distinct groups is solved whole)."""
    if layer.groups == 1:
        return None
    parts = group_layers(layer)
    return parts if len(parts) < layer.groups else None


def merge(parts: list[tuple[np.ndarray, int]], total: int, top_k: int | None) -> np.ndarray:
    """The layer's values from its sub-lattices' values.

    Parameters
    ----------
    parts : list of (numpy.ndarray, int)
        Each distinct layer's values (its largest, at least ``top_k`` or all of them)
        and its multiplicity.
    total : int
        The layer's number of singular values, ``min(rows, cols)``: the rest are zeros.
    top_k : int or None
        How many to return (``None``: all ``total``).

    Returns
    -------
    numpy.ndarray
        Descending.
    """
    values = np.concatenate([np.repeat(np.asarray(v, dtype=np.float64), c)
                             for v, c in parts] or [np.zeros(0)])
    values = -np.sort(-values)
    want = total if top_k is None else top_k
    if values.size < want:
        values = np.concatenate([values, np.zeros(want - values.size)])
    return values[:want].copy()
