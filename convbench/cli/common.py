"""What the ``convbench`` subcommands share: the argument types, the layer and weight
arguments, the seeded random weights, the one-line layer description and the dask
client of ``--scheduler``."""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..layer import Conv, as_layer
from ..weights import LAYOUTS

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_KERNEL",
    "INITS",
    "CommandError",
    "cluster",
    "format_sizes",
    "groups",
    "input_shape",
    "layer_arguments",
    "layer_line",
    "layer_options",
    "offsets",
    "padding",
    "random_arguments",
    "random_weight",
    "read_layer",
    "read_weight",
    "sizes",
]

#: Random initialisations of ``--init``.
INITS = ("pytorch", "he")
#: Defaults of a random layer.
DEFAULT_CHANNELS = 16
DEFAULT_KERNEL = 3


class CommandError(ValueError):
    """A command-line combination the command refuses (reported like argparse's errors)."""


# ---------------------------------------------------------------------------------------
# argument types: each raises argparse.ArgumentTypeError, so bad input gets argparse's
# usage line and exit status 2


def _int(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        word = "positive" if minimum == 1 else "non-negative"
        raise argparse.ArgumentTypeError(f"{text!r} must be {word}")
    return value


def _split(text: str) -> list[str]:
    parts = text.lower().replace(",", "x").split("x")
    if not text.strip() or any(not p.strip() for p in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size: give an int or one per dimension, e.g. 3 or 3x3x3"
        )
    return parts


def sizes(text: str) -> tuple[int, ...]:
    """``"3"``, ``"3x5"`` or ``"3,3,3"``: positive ints, 1 to 3 of them."""
    return _up_to_three(text, 1, "sizes")


def input_shape(text: str) -> tuple[int, ...]:
    """``"1x3x224x224"``: batch, channels and 1 to 3 spatial sizes, positive ints."""
    values = tuple(_int(p, 1) for p in _split(text))
    if not 3 <= len(values) <= 5:
        raise argparse.ArgumentTypeError(
            f"{text!r} has {len(values)} sizes; an input shape is batch x channels x 1 to 3 "
            "spatial sizes, e.g. 1x3x224x224"
        )
    return values


def offsets(text: str) -> tuple[int, ...]:
    """Like :func:`sizes`, non-negative (``--output-padding``)."""
    return _up_to_three(text, 0, "values")


def _up_to_three(text: str, low: int, what: str) -> tuple[int, ...]:
    """1 to 3 ints of at least ``low`` from ``text``, or an error counting ``what``."""
    values = tuple(_int(p, low) for p in _split(text))
    if len(values) > 3:
        raise argparse.ArgumentTypeError(f"{text!r} has {len(values)} {what}; at most 3")
    return values


def padding(text: str) -> Any:
    """``same``, ``valid``, an int, comma-separated ints, or ``before:after`` pairs
    (``1:2,0:1``), one entry per dimension."""
    word = text.strip().lower()
    if word in ("same", "valid"):
        return word
    entries = [e.strip() for e in word.split(",")]
    if not word or any(not e for e in entries):
        raise argparse.ArgumentTypeError(f"{text!r} is not a padding: {_PADDING_HELP}")
    if len(entries) > 3:
        raise argparse.ArgumentTypeError(f"{text!r} has {len(entries)} entries; at most 3")
    pairs = []
    for entry in entries:
        parts = entry.split(":")
        if len(parts) > 2:
            where = "" if entry == text.strip() else f" in {text!r}"
            raise argparse.ArgumentTypeError(f"{entry!r}{where}: a pair is before:after, e.g. 1:2")
        try:
            values = [_int(p, 0) for p in parts]
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a padding ({exc}): {_PADDING_HELP}"
            ) from None
        pairs.append((values[0], values[-1]) if len(values) == 2 else values[0])
    if any(isinstance(p, tuple) for p in pairs):
        return tuple(p if isinstance(p, tuple) else (p, p) for p in pairs)
    return pairs[0] if len(pairs) == 1 else tuple(pairs)


def groups(text: str) -> int | str:
    """A positive int, or ``depthwise`` (one group per input channel)."""
    if text.strip().lower() == "depthwise":
        return "depthwise"
    return _int(text, 1)


_PADDING_HELP = (
    "same, valid, an int, comma-separated ints (one per dimension) or before:after "
    "pairs per dimension, e.g. 1:2,0:1"
)


@contextlib.contextmanager
def cluster(args: argparse.Namespace) -> Iterator[Any]:
    """The client of ``--scheduler`` (closed afterwards), or ``None`` without it; dask is
    imported only when the flag is given."""
    if args.scheduler is None:
        yield None
        return
    if args.threads is not None:
        raise CommandError("--threads applies to a run on this machine; with --scheduler "
                           "the workers' threads are the parallelism")
    from ..distributed import connect

    client = connect(args.scheduler)
    try:
        yield client
    finally:
        client.close()


def random_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cin", type=int, help=f"input channels of a random layer (default: {DEFAULT_CHANNELS})"
    )
    parser.add_argument(
        "--cout", type=int, help="output channels of a random layer (default: cin)"
    )
    parser.add_argument(
        "--kernel",
        type=sizes,
        nargs="+",
        metavar="K",
        help=f"kernel size of a random layer: k, or one per dimension as 3x3x3 or kh kw "
        f"(default: {DEFAULT_KERNEL})",
    )
    parser.add_argument("--init", choices=INITS, help="random init (default: pytorch)")
    parser.add_argument("--seed", type=int, help="seed of the random layer (default: 0)")


def layer_arguments(parser: argparse.ArgumentParser, need_size: bool) -> None:
    """The arguments that pick the layer (a weight file or a seeded random one)."""
    parser.add_argument(
        "weights",
        nargs="?",
        type=Path,
        help=".npy weight file, 3-D to 5-D (default: a seeded random layer)",
    )
    if need_size:
        parser.add_argument(
            "--n",
            type=sizes,
            required=True,
            metavar="N",
            help="input size: n, or one per dimension as 64x64x64",
        )
        parser.add_argument("--m", type=int, help="input width of a 2-D layer (default: n)")
    random_arguments(parser)
    parser.add_argument("--dim", type=int, choices=(1, 2, 3),
                        help="spatial dimensions (default: from the weights or sizes, else 2)")
    parser.add_argument("--stride", type=sizes, default=(1,), metavar="S",
                        help="stride: s, or one per dimension as 2x1 (default: 1)")
    parser.add_argument("--dilation", type=sizes, default=(1,), metavar="D",
                        help="dilation: d, or one per dimension as 2x1 (default: 1)")
    parser.add_argument("--groups", type=groups, default=1, metavar="G",
                        help="channel groups, or depthwise (one per input channel)")
    parser.add_argument("--padding", type=padding, metavar="P",
                        help=f"zero padding: {_PADDING_HELP} (default: same; transposed: 0)")
    parser.add_argument("--output-padding", type=offsets, default=(0,), metavar="P",
                        help="transposed layers: extra outputs at the end of each dimension")
    parser.add_argument("--transposed", action="store_true",
                        help="ConvTranspose: weights (cin, cout/groups, *kernel)")
    parser.add_argument("--layout", choices=LAYOUTS, default="oihw",
                        help="layout of the weight file (hwio: kernel axes, cin/groups, cout)")


# ---------------------------------------------------------------------------------------
# from the arguments to a layer


def random_weight(
    cout: int,
    cin: int,
    kernel: tuple[int, ...],
    *,
    groups: int = 1,
    transposed: bool = False,
    init: str = "pytorch",
    seed: int | None = 0,
) -> np.ndarray:
    """Seeded random weights of any dimension, as PyTorch lays them out.

    Forward layers get ``(cout, cin/groups, *kernel)``, transposed ones
    ``(cin, cout/groups, *kernel)``. ``init="pytorch"`` draws
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (PyTorch's default Kaiming-uniform with
    ``a = sqrt(5)``), ``"he"`` draws ``N(0, 2/fan_in)``; ``fan_in`` is
    ``weight.shape[1] * prod(kernel)`` as in PyTorch. For a 2-D forward layer with
    ``groups=1`` these are the arrays of :func:`convbench.pytorch_default` and
    :func:`convbench.he_normal` for the same seed.
    """
    for name, c in (("--cin", cin), ("--cout", cout)):
        if c < 1:
            raise CommandError(f"{name} must be positive; got {c}")
    if cin % groups or cout % groups:
        raise CommandError(
            f"--groups {groups} must divide --cin {cin} and --cout {cout}"
        )
    shape = (
        (cin, cout // groups, *kernel) if transposed else (cout, cin // groups, *kernel)
    )
    fan_in = shape[1] * math.prod(kernel)
    rng = np.random.default_rng(seed)
    if init == "pytorch":
        bound = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape)
    if init == "he":
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    raise CommandError(f"--init must be one of {INITS}; got {init!r}")


def _dimension(args: argparse.Namespace, weight_dim: int | None) -> int:
    """The number of spatial dimensions, from every argument that implies one."""
    said: list[tuple[str, int]] = []
    if args.dim is not None:
        said.append((f"--dim {args.dim}", args.dim))
    if weight_dim is not None:
        said.append((f"the weight file ({weight_dim + 2}-D)", weight_dim))
    kernel = _kernel_sizes(args)
    if kernel is not None and len(kernel) > 1:
        said.append((f"--kernel {'x'.join(map(str, kernel))}", len(kernel)))
    for flag, value in (
        ("--n", getattr(args, "n", None)),
        ("--stride", getattr(args, "stride", None)),
        ("--dilation", getattr(args, "dilation", None)),
        ("--output-padding", getattr(args, "output_padding", None)),
    ):
        if value is not None and len(value) > 1:
            said.append((f"{flag} {'x'.join(map(str, value))}", len(value)))
    pad = getattr(args, "padding", None)
    if isinstance(pad, tuple) and len(pad) > 1:
        said.append((f"--padding with {len(pad)} entries", len(pad)))
    if getattr(args, "m", None) is not None:
        said.append(("--m", 2))
    for name, dim in said[1:]:
        if dim != said[0][1]:
            raise CommandError(
                f"{said[0][0]} means a {said[0][1]}-D layer but {name} a {dim}-D one"
            )
    return said[0][1] if said else 2


def _kernel_sizes(args: argparse.Namespace) -> tuple[int, ...] | None:
    if args.kernel is None:
        return None
    flat = tuple(k for token in args.kernel for k in token)
    if len(flat) > 3:
        raise CommandError(
            f"--kernel takes one size k or one per dimension (at most 3); got {len(flat)}"
        )
    return flat


def _per_dim(values: tuple[int, ...], d: int, flag: str) -> tuple[int, ...]:
    if len(values) == 1:
        return values * d
    if len(values) != d:  # pragma: no cover - _dimension has refused it already
        raise CommandError(f"{flag} needs 1 or {d} values for a {d}-D layer")
    return values


def read_weight(args: argparse.Namespace) -> tuple[np.ndarray, int, int]:
    """The weight array as given (file layout or oihw), its dimension, and ``groups``."""
    if args.weights is not None:
        given = [
            flag
            for flag, value in (
                ("--cin", args.cin), ("--cout", args.cout), ("--kernel", args.kernel),
                ("--init", args.init), ("--seed", args.seed),
            )
            if value is not None
        ]
        if given:
            raise CommandError(
                f"{', '.join(given)} describe a random layer; the weight file "
                f"{args.weights} gives its own channels and kernel"
            )
        if not args.weights.exists():
            raise FileNotFoundError(f"weight file not found: {args.weights}")
        w = np.load(args.weights, allow_pickle=False)
        if not 3 <= w.ndim <= 5:
            raise CommandError(
                f"weight file {args.weights} holds a {w.ndim}-D array {w.shape}; a layer's "
                "weight is 3-D to 5-D (channels, channels, *kernel)"
            )
        d = _dimension(args, w.ndim - 2)
        if args.groups != "depthwise":
            return w, d, int(args.groups)
        # (w0, w1/groups, *kernel) in PyTorch order; depthwise: one channel per group
        first, second = (w.shape[0], w.shape[1]) if args.layout == "oihw" else w.shape[:-3:-1]
        if second != 1:
            raise CommandError(
                f"--groups depthwise needs a weight with one input channel per group "
                f"({'(c, 1, *kernel)' if args.layout == 'oihw' else '(*kernel, 1, c)'}); "
                f"{args.weights} has shape {w.shape}"
            )
        return w, d, int(first)
    d = _dimension(args, None)
    cin = DEFAULT_CHANNELS if args.cin is None else args.cin
    cout = cin if args.cout is None else args.cout
    kernel = _kernel_sizes(args)
    kernel = _per_dim((DEFAULT_KERNEL,) if kernel is None else kernel, d, "--kernel")
    g = cin if args.groups == "depthwise" else int(args.groups)
    w = random_weight(
        cout,
        cin,
        kernel,
        groups=g,
        transposed=args.transposed,
        init=args.init or "pytorch",
        seed=0 if args.seed is None else args.seed,
    )
    return w, d, g


def layer_options(args: argparse.Namespace, d: int) -> dict[str, Any]:
    """The layer options of the arguments, one entry per dimension."""
    pad = args.padding
    if isinstance(pad, tuple) and len(pad) == 1:  # one before:after pair for every dimension
        pad = pad * d
    return {
        "stride": _per_dim(args.stride, d, "--stride"),
        "dilation": _per_dim(args.dilation, d, "--dilation"),
        "padding": pad,
        "output_padding": _per_dim(args.output_padding, d, "--output-padding"),
        "transposed": args.transposed,
    }


def read_layer(args: argparse.Namespace, boundary: str) -> Conv:
    """The validated layer of the command's arguments."""
    w, d, g = read_weight(args)
    shape = _per_dim(args.n, d, "--n")
    if args.m is not None:
        if len(args.n) != 1:
            raise CommandError("give the width either in --n (e.g. 64x32) or in --m")
        shape = (shape[0], args.m)
    return as_layer(
        w, shape, layout=args.layout, groups=g, boundary=boundary, **layer_options(args, d)
    )


def format_sizes(values: Sequence[int]) -> str:
    return "x".join(map(str, values))


def layer_line(layer: Conv, *, sizes: bool = True) -> str:
    """One line naming the layer: kind, channels, kernel, stride, dilation, groups,
    padding (``before:after`` per dimension) and, with ``sizes``, input and output."""
    kind = f"ConvTranspose{layer.d}d" if layer.transposed else f"Conv{layer.d}d"
    pads = ",".join(f"{b}:{a}" for b, a in layer.padding)
    parts = [
        kind,
        f"cout={layer.cout}",
        f"cin={layer.cin}",
        f"kernel={format_sizes(layer.kernel)}",
        f"stride={format_sizes(layer.stride)}",
        f"dilation={format_sizes(layer.dilation)}",
        f"groups={layer.groups}",
        f"padding={pads}",
    ]
    if layer.transposed:
        parts.append(f"output_padding={format_sizes(layer.output_padding)}")
    if sizes:
        parts += [f"input={format_sizes(layer.shape)}", f"output={format_sizes(layer.out_shape)}"]
    return "layer      " + " ".join(parts)


# ---------------------------------------------------------------------------------------
# the commands
