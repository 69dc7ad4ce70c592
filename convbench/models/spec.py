"""One convolution as a model holds it: the weight, the layer's options and its input size.

The ONNX reader and the PyTorch reader both turn a model into a list of
:class:`LayerSpec`; :mod:`convbench.models.compute` turns each into a record. A layer
whose input size (or weight) could not be found keeps ``reason`` and no size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerSpec:
    """A convolution found in a model, in PyTorch's conventions.

    Attributes
    ----------
    name : str
        The ONNX node's name (its first output's when it has none), or the PyTorch
        qualified module name.
    op : str
        ``Conv``/``ConvTranspose`` (ONNX) or the PyTorch class name (``Conv2d``, ...).
    weight : numpy.ndarray or None
        float64, ``(cout, cin/groups, *k)``, transposed ``(cin, cout/groups, *k)``.
    stride, dilation : tuple of int
    groups : int
    padding : tuple of (int, int)
        ``(before, after)`` per spatial dimension.
    output_padding : tuple of int
        Transposed layers, PyTorch's meaning (extra outputs at the end).
    transposed : bool
    input_size, output_size : tuple of int or None
        Spatial sizes; ``None`` where they could not be found.
    reason : str
        Why the layer cannot be computed; empty when it can.
    notes : list of str
        What was changed on the way (a folded BatchNorm, ...).
    """

    name: str
    op: str
    weight: np.ndarray | None
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    padding: tuple[tuple[int, int], ...]
    output_padding: tuple[int, ...]
    transposed: bool
    input_size: tuple[int, ...] | None = None
    output_size: tuple[int, ...] | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def options(self) -> dict[str, object]:
        """The layer keywords of :func:`convbench.as_layer` (all but the boundary)."""
        from ..layer import LAYER_OPTIONS

        return {key: getattr(self, key) for key in LAYER_OPTIONS}

    @property
    def weight_shape(self) -> tuple[int, ...] | None:
        """The weight's shape (PyTorch order)."""
        return None if self.weight is None else tuple(int(v) for v in self.weight.shape)
