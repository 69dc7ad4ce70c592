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

``CONVBENCH_BENCH_NETWORK_PATHS`` (default ``fast``) lists the paths
:class:`TimeNetworkPeriodic` runs; the others are skipped with that reason. A whole
network's full spectrum takes minutes on the paper's paths (ResNet-18 at 224 x 224 on
``lfa``: 271 s on one thread of the 2-core reference machine, beside other work),
which for five networks and three paths would take ``make bench`` far past its half
hour; the per-layer comparison of the paths is ``make targets``'
(``scripts/layer_targets.py``). Set it to ``fast,lfa,fft,fftw`` for the whole comparison.

``CONVBENCH_BENCH_NETWORKS`` (default every architecture but the U-Net) lists the
architectures both benchmarks run. ``CONVBENCH_BENCH_ZERO_NETWORKS`` (default
``mobilenet_v2``; ConvNeXt-T took 109.6 s, one sample, at ba996cf, when ``make bench``
ran 37.7 minutes, and is opt-in since) narrows :class:`TimeNetworkZero` further: in the full
run on the reference machine, ResNet-18 and ResNet-50 each ran past asv's 30-minute cell timeout
(MobileNetV2 took 18.0 s and ConvNeXt-T 45.3 s, each one sample). Alone on one thread
of the same machine, the first 11 of ResNet-18's 20 layers took 207 s and the twelfth
(256 channels, 14 x 14) had not finished after 4 minutes, so either ResNet would take
``make bench`` past its half hour. Set it to ``resnet18,resnet50,mobilenet_v2,convnext_tiny``
for the whole comparison. The U-Net's 64-channel layers at 256 x 256 take
minutes each: its periodic spectrum on ``fast`` ran for more than 9 minutes at 16b13b9
(the run was stopped), and the exact zero-padded ``sigma_max`` of one such layer takes
299 s (n = 256, 64 channels, 2 threads, at e06de2f).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

import convbench
from convbench.models.compute import zero_sigma_max

from .common import SEED, check, check_tier, limit_threads, resolve_threads, tier_cells


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


def yolov8n(size: int = 320, width: int = 1) -> list[Layer]:
    """Ultralytics YOLOv8n (depth 0.33, width 0.25, 80 classes): its 63 trained
    convolutions in graph order, every one ``Conv2d`` with padding ``k // 2``.

    Backbone: 3x3 stride-2 convolutions down to 1/32, C2f blocks (a 1x1 split, pairs
    of 3x3 bottleneck convolutions, a 1x1 merge of every branch) and SPPF (a 1x1 each
    side of its max pools). Neck: C2f blocks on the upsampled and concatenated maps,
    3x3 stride-2 convolutions back down. Head: per scale (1/8, 1/16, 1/32), a box
    branch (3x3 to 64, 3x3, 1x1) and a class branch (3x3 to 80, 3x3, 1x1). The
    64th convolution of the exported graph, the distribution-focal-loss decoder (a
    fixed 1x1 from 16 channels to 1 over the anchors), is left out: its input is not
    square and its weights are not trained.
    """
    c = lambda v: _div(v, width)  # noqa: E731
    layers: list[Layer] = []

    def conv(cout: int, cin: int, k: int, stride: int, s: int) -> int:
        layers.append(Layer(cout, cin, k, stride, k // 2, s))
        return -(-s // stride)

    def c2f(cin: int, cout: int, n: int, s: int) -> None:
        h = max(1, cout // 2)
        conv(cout, cin, 1, 1, s)
        for _ in range(n):
            conv(h, h, 3, 1, s)
            conv(h, h, 3, 1, s)
        conv(cout, (2 + n) * h, 1, 1, s)

    s = conv(c(16), 3, 3, 2, size)
    s = conv(c(32), c(16), 3, 2, s)
    c2f(c(32), c(32), 1, s)
    s8 = s = conv(c(64), c(32), 3, 2, s)
    c2f(c(64), c(64), 2, s)
    s16 = s = conv(c(128), c(64), 3, 2, s)
    c2f(c(128), c(128), 2, s)
    s32 = s = conv(c(256), c(128), 3, 2, s)
    c2f(c(256), c(256), 1, s)
    conv(c(128), c(256), 1, 1, s)  # SPPF
    conv(c(256), c(512), 1, 1, s)
    c2f(c(256) + c(128), c(128), 1, s16)  # upsampled P5 with P4
    c2f(c(128) + c(64), c(64), 1, s8)  # upsampled with P3: the 1/8 output
    conv(c(64), c(64), 3, 2, s8)
    c2f(c(64) + c(128), c(128), 1, s16)  # the 1/16 output
    conv(c(128), c(128), 3, 2, s16)
    c2f(c(128) + c(256), c(256), 1, s32)  # the 1/32 output
    for ch, s in ((c(64), s8), (c(128), s16), (c(256), s32)):
        for out in (64, 80):  # box (4 x 16 bins), classes
            conv(out, ch, 3, 1, s)
            conv(out, out, 3, 1, s)
            conv(out, out, 1, 1, s)
    return layers


#: The paths of the whole-network periodic benchmark (its parameter, for stable lines).
NETWORK_PATHS_ALL = ("fast", "lfa", "fft", "fftw")
#: The paths it runs (``CONVBENCH_BENCH_NETWORK_PATHS``, comma-separated).
NETWORK_PATHS = tuple(
    p.strip() for p in os.environ.get("CONVBENCH_BENCH_NETWORK_PATHS", "fast").split(",")
    if p.strip()
)
if not NETWORK_PATHS or set(NETWORK_PATHS) - set(NETWORK_PATHS_ALL):
    raise ValueError(f"CONVBENCH_BENCH_NETWORK_PATHS must list paths of "
                     f"{', '.join(NETWORK_PATHS_ALL)}; got {NETWORK_PATHS!r}")

#: The architectures both network benchmarks run (``CONVBENCH_BENCH_NETWORKS``).
NETWORKS = tuple(
    a.strip() for a in os.environ.get(
        "CONVBENCH_BENCH_NETWORKS", "resnet18,resnet50,mobilenet_v2,convnext_tiny"
    ).split(",") if a.strip()
)

#: architecture -> (table builder, standard input size)
ARCHITECTURES = {
    "resnet18": (resnet18, 224),
    "resnet50": (resnet50, 224),
    "mobilenet_v2": (mobilenet_v2, 224),
    "convnext_tiny": (convnext_tiny, 224),
    "unet": (unet, 256),
}


if not NETWORKS or set(NETWORKS) - set(ARCHITECTURES):
    raise ValueError(f"CONVBENCH_BENCH_NETWORKS must list architectures of "
                     f"{', '.join(ARCHITECTURES)}; got {NETWORKS!r}")


#: The architectures :class:`TimeNetworkZero` runs (``CONVBENCH_BENCH_ZERO_NETWORKS``,
#: within ``CONVBENCH_BENCH_NETWORKS``).
ZERO_NETWORKS = tuple(
    a.strip() for a in os.environ.get(
        "CONVBENCH_BENCH_ZERO_NETWORKS", "mobilenet_v2"
    ).split(",") if a.strip()
)

if not ZERO_NETWORKS or set(ZERO_NETWORKS) - set(ARCHITECTURES):
    raise ValueError(f"CONVBENCH_BENCH_ZERO_NETWORKS must list architectures of "
                     f"{', '.join(ARCHITECTURES)}; got {ZERO_NETWORKS!r}")


def zero_network_reason(architecture: str) -> str | None:
    """Why :class:`TimeNetworkZero` leaves a network out of this run, or ``None``."""
    reason = network_reason(architecture)
    if reason is not None or architecture in ZERO_NETWORKS:
        return reason
    return (f"zero-padded networks run: {', '.join(ZERO_NETWORKS)} "
            f"(CONVBENCH_BENCH_ZERO_NETWORKS); {architecture} is opt-in, its exact "
            f"zero-padded sigma_max too long for make bench's half hour")


def network_reason(architecture: str) -> str | None:
    """Why a network is left out of this run (``CONVBENCH_BENCH_NETWORKS``), or ``None``."""
    if architecture in NETWORKS:
        return None
    return (f"networks run: {', '.join(NETWORKS)} (CONVBENCH_BENCH_NETWORKS); "
            f"{architecture}'s large layers take minutes each")


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

    params = (list(ARCHITECTURES), list(NETWORK_PATHS_ALL))
    param_names = ("architecture", "path")
    version = "1"
    tracked = tier_cells(architecture=("resnet18",))
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0
    timeout = 1800

    def skip_reason(self, architecture: str, path: str) -> str | None:
        if network_reason(architecture) is not None:
            return network_reason(architecture)
        if path not in NETWORK_PATHS:
            return (f"whole networks run on {', '.join(NETWORK_PATHS)} "
                    f"(CONVBENCH_BENCH_NETWORK_PATHS); {path} takes minutes a network")
        return None

    def setup(self, architecture: str, path: str) -> None:
        check_tier(self, architecture, path)
        check(self.skip_reason(architecture, path))
        self.layers = _layers(architecture, "periodic")
        check(None if self.layers else "no layer has a periodic version")
        self._threads = limit_threads(resolve_threads(1))
        self._threads.__enter__()

    def teardown(self, architecture: str, path: str) -> None:
        # asv tears a skipped cell down too, before setup set the limiter
        limiter = getattr(self, "_threads", None)
        if limiter is not None:
            limiter.__exit__(None, None, None)
            self._threads = None

    def time_network(self, architecture: str, path: str) -> None:
        threads = {"threads": 1} if path in ("fast", "fftw") else {}
        for layer in self.layers:
            convbench.singular_values(layer, layer.shape, method=path, **threads)


class TimeNetworkZero:
    """Exact zero-padded ``sigma_max`` and the certified bound of every layer."""

    params = (list(ARCHITECTURES),)
    param_names = ("architecture",)
    version = "1"
    # No cell in the tracking tier: before f7f58fe (the bound's maximiser starts Lanczos)
    # ResNet-18's exact zero-padded sigma_max took more than 7 minutes a commit at
    # fc874fc, longer than the tier's whole budget; the full runs track it.
    tracked = tier_cells(architecture=())
    untracked = "whole-network zero-padded sigma_max took over 7 min a commit before f7f58fe"
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0
    timeout = 1800

    def skip_reason(self, architecture: str) -> str | None:
        return zero_network_reason(architecture)

    def setup(self, architecture: str) -> None:
        check_tier(self, architecture)
        check(self.skip_reason(architecture))
        self.layers = _layers(architecture, "zero")
        self._threads = limit_threads(resolve_threads(1))
        self._threads.__enter__()

    def teardown(self, architecture: str) -> None:
        # asv tears a skipped cell down too, before setup set the limiter
        limiter = getattr(self, "_threads", None)
        if limiter is not None:
            limiter.__exit__(None, None, None)
            self._threads = None

    def time_sigma_max_and_bound(self, architecture: str) -> None:
        for layer in self.layers:
            zero_sigma_max(layer)
            convbench.spectral_norm_bound(layer)
