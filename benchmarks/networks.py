"""Real networks: every convolution of five architectures, at their standard input sizes.

The conv-layer tables of ResNet-18, ResNet-50 (torchvision, stride in the 3x3),
MobileNetV2, ConvNeXt-T and a 2-D U-Net (3 -> 2 channels, padded 3x3 double convs,
2x2 ``ConvTranspose2d`` up-sampling) are written here as data: for each convolution
its weight shape, stride, dilation, groups, padding and input size, in graph order, so
nothing is downloaded and torch is not needed. Weights are seeded, PyTorch-style
(:func:`convbench.pytorch_default`, one seed per layer).

=========================== ============================================================
benchmark                   what it times, per architecture
=========================== ============================================================
``TimeNetworkPeriodic``     the full periodic spectrum of every layer, on each path
``TimeNetworkZero``         exact zero-padded ``sigma_max`` and the certified bound of
                            every layer (:func:`convbench.models.compute.zero_sigma_max`
                            and :func:`convbench.spectral_norm_bound`)
=========================== ============================================================

Each cell is one sample of the whole model (these run for seconds to minutes). Two
environment variables shrink the tables for smoke runs: ``CONVBENCH_BENCH_NETWORK_INPUT``
(the input's height and width instead of each model's standard size) and
``CONVBENCH_BENCH_NETWORK_WIDTH`` (every channel count divided by it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

import convbench
from convbench.models.compute import zero_sigma_max

from .common import SEED, check, limit_threads, resolve_threads


@dataclass(frozen=True)
class Layer:
    """One convolution of a table: PyTorch's weight shape and options, and its input."""

    cout: int
    cin: int  # per group; for a transposed layer the first weight axis is cin (see below)
    kernel: int
    stride: int
    padding: int
    size: int  # square input, height = width
    groups: int = 1
    dilation: int = 1
    transposed: bool = False

    def weight(self, seed: int) -> np.ndarray:
        """PyTorch-default weights: ``(cout, cin/groups, k, k)``, or for a transposed
        layer ``(cin, cout/groups, k, k)`` with PyTorch's fan-in."""
        if self.transposed:
            return convbench.pytorch_default(self.cin, self.cout // self.groups, self.kernel,
                                             seed=seed)
        return convbench.pytorch_default(self.cout, self.cin // self.groups, self.kernel,
                                         seed=seed)

    def options(self) -> dict:
        pad = self.padding
        return {
            "stride": self.stride, "dilation": self.dilation, "groups": self.groups,
            "padding": ((pad, pad), (pad, pad)), "transposed": self.transposed,
        }


def _div(c: int, width: int) -> int:
    return max(1, c // width)


def resnet18(size: int = 224, width: int = 1) -> list[Layer]:
    """torchvision ResNet-18: 20 convolutions."""
    c = lambda v: _div(v, width)  # noqa: E731
    s = size
    layers = [Layer(c(64), 3, 7, 2, 3, s)]
    s = -(-s // 2)
    s = (s + 2 - 3) // 2 + 1  # max pool 3x3, stride 2, padding 1
    cin = c(64)
    for i, planes in enumerate((64, 128, 256, 512)):
        for b in range(2):
            stride = 2 if i > 0 and b == 0 else 1
            out = c(planes)
            layers.append(Layer(out, cin, 3, stride, 1, s))
            s_out = -(-s // stride)
            layers.append(Layer(out, out, 3, 1, 1, s_out))
            if stride != 1 or cin != out:
                layers.append(Layer(out, cin, 1, stride, 0, s))
            cin, s = out, s_out
    return layers


def resnet50(size: int = 224, width: int = 1) -> list[Layer]:
    """torchvision ResNet-50 (v1.5): 53 convolutions."""
    c = lambda v: _div(v, width)  # noqa: E731
    s = size
    layers = [Layer(c(64), 3, 7, 2, 3, s)]
    s = -(-s // 2)
    s = (s + 2 - 3) // 2 + 1
    cin = c(64)
    for i, (planes, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
        for b in range(blocks):
            stride = 2 if i > 0 and b == 0 else 1
            w, out = c(planes), c(planes * 4)
            layers.append(Layer(w, cin, 1, 1, 0, s))
            layers.append(Layer(w, w, 3, stride, 1, s))
            s_out = -(-s // stride)
            layers.append(Layer(out, w, 1, 1, 0, s_out))
            if b == 0:
                layers.append(Layer(out, cin, 1, stride, 0, s))
            cin, s = out, s_out
    return layers


def mobilenet_v2(size: int = 224, width: int = 1) -> list[Layer]:
    """torchvision MobileNetV2: 52 convolutions (17 depthwise)."""
    c = lambda v: _div(v, width)  # noqa: E731
    s = size
    layers = [Layer(c(32), 3, 3, 2, 1, s)]
    s = -(-s // 2)
    cin = c(32)
    for t, ch, n, stride0 in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for b in range(n):
            stride = stride0 if b == 0 else 1
            hidden = cin * t
            if t != 1:
                layers.append(Layer(hidden, cin, 1, 1, 0, s))
            layers.append(Layer(hidden, hidden, 3, stride, 1, s, groups=hidden))
            s = -(-s // stride)
            out = c(ch)
            layers.append(Layer(out, hidden, 1, 1, 0, s))
            cin = out
    layers.append(Layer(c(1280), cin, 1, 1, 0, s))
    return layers


def convnext_tiny(size: int = 224, width: int = 1) -> list[Layer]:
    """ConvNeXt-T: the 4x4 stem, 18 depthwise 7x7 and 3 downsampling 2x2 convolutions
    (its pointwise layers are Linear, not convolutions)."""
    dims = [_div(v, width) for v in (96, 192, 384, 768)]
    s = size
    layers = [Layer(dims[0], 3, 4, 4, 0, s)]
    s //= 4
    for i, depth in enumerate((3, 3, 9, 3)):
        if i > 0:
            layers.append(Layer(dims[i], dims[i - 1], 2, 2, 0, s))
            s //= 2
        for _ in range(depth):
            layers.append(Layer(dims[i], dims[i], 7, 1, 3, s, groups=dims[i]))
    return layers


def unet(size: int = 256, width: int = 1) -> list[Layer]:
    """2-D U-Net, 3 -> 2 channels: padded double 3x3 convolutions, 2x2 max pooling down,
    2x2 stride-2 ``ConvTranspose2d`` up: 23 convolutions."""
    c = [_div(v, width) for v in (64, 128, 256, 512, 1024)]
    layers = [Layer(c[0], 3, 3, 1, 1, size), Layer(c[0], c[0], 3, 1, 1, size)]
    s = size
    for i in range(1, 5):
        s //= 2
        layers += [Layer(c[i], c[i - 1], 3, 1, 1, s), Layer(c[i], c[i], 3, 1, 1, s)]
    for i in range(4, 0, -1):
        layers.append(Layer(c[i - 1], c[i], 2, 2, 0, s, transposed=True))
        s *= 2
        layers += [Layer(c[i - 1], 2 * c[i - 1], 3, 1, 1, s),
                   Layer(c[i - 1], c[i - 1], 3, 1, 1, s)]
    layers.append(Layer(2, c[0], 1, 1, 0, s))
    return layers


#: architecture -> (table builder, standard input size)
ARCHITECTURES = {
    "resnet18": (resnet18, 224),
    "resnet50": (resnet50, 224),
    "mobilenet_v2": (mobilenet_v2, 224),
    "convnext_tiny": (convnext_tiny, 224),
    "unet": (unet, 256),
}


def table(name: str) -> list[Layer]:
    """The architecture's table at its standard input (or the smoke-run settings)."""
    build, size = ARCHITECTURES[name]
    size = int(os.environ.get("CONVBENCH_BENCH_NETWORK_INPUT", size))
    width = int(os.environ.get("CONVBENCH_BENCH_NETWORK_WIDTH", 1))
    return build(size, width)


def _layers(name: str, boundary: str) -> list[convbench.Conv]:
    out = []
    for i, layer in enumerate(table(name)):
        try:
            out.append(convbench.as_layer(layer.weight(SEED + i), layer.size,
                                          boundary=boundary, **layer.options()))
        except ValueError as exc:
            if boundary == "periodic":  # the stride does not divide the size
                continue
            raise NotImplementedError(f"layer {i}: {exc}") from None
    return out


class TimeNetworkPeriodic:
    """The full periodic spectrum of every layer of a network, per path (one thread)."""

    params = (list(ARCHITECTURES), ["fast", "lfa", "fft", "fftw"])
    param_names = ("architecture", "path")
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0
    timeout = 1800

    def setup(self, architecture: str, path: str) -> None:
        self.layers = _layers(architecture, "periodic")
        check(None if self.layers else "no layer has a periodic version")
        self._threads = limit_threads(resolve_threads(1))
        self._threads.__enter__()

    def teardown(self, architecture: str, path: str) -> None:
        self._threads.__exit__(None, None, None)

    def time_network(self, architecture: str, path: str) -> None:
        threads = {"threads": 1} if path in ("fast", "fftw") else {}
        for layer in self.layers:
            convbench.singular_values(layer, layer.shape, method=path, **threads)


class TimeNetworkZero:
    """Exact zero-padded ``sigma_max`` and the certified bound of every layer."""

    params = (list(ARCHITECTURES),)
    param_names = ("architecture",)
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0
    timeout = 1800

    def setup(self, architecture: str) -> None:
        self.layers = _layers(architecture, "zero")
        self._threads = limit_threads(resolve_threads(1))
        self._threads.__enter__()

    def teardown(self, architecture: str) -> None:
        self._threads.__exit__(None, None, None)

    def time_sigma_max_and_bound(self, architecture: str) -> None:
        for layer in self.layers:
            zero_sigma_max(layer)
            convbench.spectral_norm_bound(layer)
