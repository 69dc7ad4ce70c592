"""PyTorch modules: every ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` as a
:class:`LayerSpec`, with the input sizes from one forward pass.

Forward hooks record each convolution's input size on one zero input of the given
shape, under ``torch.no_grad()``. Nothing is loaded from disk here: the caller loads
their own checkpoint into their own module. torch is imported only by this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .chain import TORCH_ONE_LIPSCHITZ
from .spec import LayerSpec

CONV_CLASSES = (
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
)
BATCHNORM_CLASSES = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")


def is_module(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` (without importing torch otherwise)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _pads(module: Any, size: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    d = len(size)
    pad = module.padding
    if isinstance(pad, str):
        if pad == "valid":
            return ((0, 0),) * d
        # PyTorch's 'same' (stride 1): total dilation*(k-1), the smaller half before
        totals = [dl * (k - 1) for k, dl in zip(module.kernel_size, module.dilation, strict=True)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((int(p), int(p)) for p in pad)


def _spec(name: str, module: Any, size: tuple[int, ...] | None, out: Any) -> LayerSpec:
    cls = type(module).__name__
    transposed = cls.startswith("ConvTranspose")
    d = len(module.kernel_size)
    weight = module.weight.detach().to("cpu").double().numpy().copy()
    spec = LayerSpec(
        name=name,
        op=cls,
        weight=weight,
        stride=tuple(int(v) for v in module.stride),
        dilation=tuple(int(v) for v in module.dilation),
        groups=int(module.groups),
        padding=((0, 0),) * d,
        output_padding=tuple(int(v) for v in getattr(module, "output_padding", (0,) * d)),
        transposed=transposed,
    )
    if size is None:
        spec.reason = "the module was not called in the forward pass"
        return spec
    spec.input_size = size
    spec.padding = _pads(module, size)
    if out is not None:
        spec.output_size = tuple(int(v) for v in out.shape[2:])
    if module.padding_mode != "zeros":
        spec.reason = (
            f"padding_mode={module.padding_mode!r}: not a zero-padded convolution"
        )
    return spec


def _fold(spec: LayerSpec, bn: Any) -> None:
    """Scale the convolution's output channels by an eval-mode BatchNorm's factors."""
    var = bn.running_var.detach().to("cpu").double().numpy()
    gamma = (
        bn.weight.detach().to("cpu").double().numpy() if bn.weight is not None
        else np.ones_like(var)
    )
    scale = gamma / np.sqrt(var + bn.eps)
    assert spec.weight is not None
    w = spec.weight
    if spec.transposed:
        g = spec.groups
        cin, per = w.shape[0], w.shape[1]
        view = w.reshape(g, cin // g, per, *w.shape[2:])
        view = view * scale.reshape(g, 1, per, *([1] * (w.ndim - 2)))
        spec.weight = view.reshape(w.shape)
    else:
        spec.weight = w * scale.reshape(-1, *([1] * (w.ndim - 1)))
    spec.notes.append("BatchNorm folded")


def torch_layers(
    module: Any, input_shape: tuple[int, ...], *, fold_batchnorm: bool = False
) -> tuple[list[LayerSpec], str]:
    """The convolutions of a module in call order, and why it is not a plain chain
    (empty when it is)."""
    import torch

    params = [p for p in module.parameters()]
    dtype = params[0].dtype if params and params[0].is_floating_point() else torch.float32
    device = params[0].device if params else torch.device("cpu")
    names = {id(m): n for n, m in module.named_modules()}
    calls: list[tuple[Any, Any, Any]] = []  # (module, input, output) of every leaf call

    def hook(mod: Any, args: Any, out: Any) -> None:
        calls.append((mod, args[0] if args else None, out))

    handles = [
        m.register_forward_hook(hook)
        for m in module.modules()
        if next(iter(m.children()), None) is None
    ]
    x = torch.zeros(input_shape, dtype=dtype, device=device)
    try:
        with torch.no_grad():
            result = module(x)
    except RuntimeError as exc:
        raise ValueError(
            f"the module's forward pass fails on an input of shape {tuple(input_shape)}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    finally:
        for h in handles:
            h.remove()

    specs: list[LayerSpec] = []
    seen: set[int] = set()
    by_output: dict[int, LayerSpec] = {}
    for mod, inp, out in calls:
        cls = type(mod).__name__
        if cls in CONV_CLASSES:
            size = tuple(int(v) for v in inp.shape[2:])
            name = names.get(id(mod), cls)
            if id(mod) in seen:
                name = f"{name} (call {sum(s.name.startswith(name) for s in specs) + 1})"
            seen.add(id(mod))
            spec = _spec(name, mod, size, out)
            specs.append(spec)
            by_output[id(out)] = spec
        elif fold_batchnorm and cls in BATCHNORM_CLASSES and id(inp) in by_output:
            if mod.training:
                raise ValueError(
                    f"fold_batchnorm needs eval-mode BatchNorm; {names.get(id(mod))!r} is in "
                    "training mode (call model.eval())"
                )
            if mod.track_running_stats and mod.running_var is not None:
                _fold(by_output[id(inp)], mod)
                by_output[id(out)] = by_output.pop(id(inp))
    called = {id(m) for m, _, _ in calls}
    for n, m in module.named_modules():
        if type(m).__name__ in CONV_CLASSES and id(m) not in called:
            specs.append(_spec(n, m, None, None))
    return specs, _chain(calls, x, result, fold_batchnorm, names)


def _chain(calls: list[Any], x: Any, result: Any, folded: bool, names: dict[int, str]) -> str:
    """Empty when every leaf call is a convolution or a 1-Lipschitz map feeding the next
    and the module returns the last one's output, else why not."""
    current = x
    for mod, inp, out in calls:
        cls = type(mod).__name__
        label = names.get(id(mod), cls)
        if cls == "LeakyReLU":
            if abs(mod.negative_slope) > 1:
                return f"{label!r} is LeakyReLU with slope {mod.negative_slope}"
        elif folded and cls in BATCHNORM_CLASSES:
            pass
        elif cls not in (*CONV_CLASSES, *TORCH_ONE_LIPSCHITZ):
            return f"{label!r} ({cls}) is not a convolution or a 1-Lipschitz map"
        if inp is not current:
            return f"{label!r} ({cls}) does not take the previous module's output"
        current = out
    if result is not current:
        return "the module's output is not the last module's output (operations in forward())"
    return ""
