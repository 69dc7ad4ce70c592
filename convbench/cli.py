"""Command line: ``convbench spectrum | summarize | bound | init`` (also ``python -m convbench``).

Every layer PyTorch's ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d`` compute can be
named on the command line: ``--stride``, ``--dilation``, ``--groups``, ``--padding``,
``--output-padding``, ``--transposed``, and a kernel of any dimension. Sizes are an int
or one int per dimension, written ``3x3x3`` (or ``3,3,3``). The number of spatial
dimensions comes from ``--dim``, a weight file, or any size given per dimension
(``--kernel 3x3x3``, ``--n 64x64x64``); by default it is 2.

Examples
--------
A seeded random layer::

    convbench spectrum --cin 16 --cout 16 --kernel 3 --n 64 --method lfa

A strided, depthwise or 3-D layer::

    convbench spectrum --cin 16 --kernel 3 --stride 2 --n 64
    convbench spectrum --cin 16 --groups depthwise --kernel 3 --n 64 --method fast
    convbench spectrum --cin 4 --kernel 3x3x3 --n 16 --padding 1:1,0:2,1:1 --boundary zero \
        --method explicit --top-k 1

A weight file written by ``convbench init`` (or by PyTorch: ``oihw``, 3-D to 5-D;
``--layout hwio`` for TensorFlow/Keras), the spectrum written to disk::

    convbench init weights.npy --cin 16 --cout 32 --kernel 3 --seed 1
    convbench spectrum weights.npy --n 224 --save spectrum.npy

Streamed statistics of a spectrum too large to hold, with a progress bar::

    convbench summarize --cin 4 --kernel 3 --n 16384

A certified upper bound on the spectral norm, valid for every input size and both
boundaries::

    convbench bound weights.npy --stride 2
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .bounds import spectral_norm_bound
from .budget import BudgetError, format_bytes
from .fast import check_threads
from .layer import Conv, as_layer
from .spectrum import METHODS, singular_values
from .stream import summarize
from .svd import block_singular_values
from .symbols import PLANNER_EFFORTS, symbol
from .weights import LAYOUTS

__all__ = ["INITS", "build_parser", "main", "random_weight"]

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
    values = tuple(_int(p, 1) for p in _split(text))
    if len(values) > 3:
        raise argparse.ArgumentTypeError(f"{text!r} has {len(values)} sizes; at most 3")
    return values


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
    values = tuple(_int(p, 0) for p in _split(text))
    if len(values) > 3:
        raise argparse.ArgumentTypeError(f"{text!r} has {len(values)} values; at most 3")
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


# ---------------------------------------------------------------------------------------
# the parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``convbench`` command."""
    parser = argparse.ArgumentParser(
        prog="convbench",
        description="Singular values of convolutional layers (PyTorch's conv1d/2d/3d and "
        "conv_transpose1d/2d/3d, bias off).",
    )
    parser.add_argument("--version", action="version", version=f"convbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser(
        "spectrum",
        help="singular values of one layer",
        description="Compute the singular values of a convolutional layer on an input of "
        "size --n and print a summary.",
    )
    _layer_arguments(sp, need_size=True)
    sp.add_argument("--boundary", choices=("periodic", "zero"), default="periodic",
                    help="the torus, or the layer's own zero padding (default: periodic)")
    sp.add_argument("--method", choices=METHODS, default="lfa", help="computation path")
    sp.add_argument("--top-k", type=int, help="only the k largest singular values")
    sp.add_argument("--threads", type=int, help="FFTW threads (fftw) or thread pool (fast)")
    sp.add_argument("--planner-effort", choices=PLANNER_EFFORTS, default="FFTW_ESTIMATE")
    sp.add_argument("--memory-budget", help="memory budget, e.g. 8G (default: see docs)")
    sp.add_argument("--save", type=Path, help="write the spectrum (descending) to this .npy")
    sp.add_argument("--force", action="store_true", help="overwrite an existing --save file")

    su = sub.add_parser(
        "summarize",
        help="streamed statistics of the periodic spectrum (any size)",
        description="sigma_max, sigma_min and quantiles of all singular values of the "
        "periodic operator, computed chunk by chunk in bounded memory (ungrouped 1-D and "
        "2-D layers, any stride, dilation or padding, transposed or not).",
    )
    _layer_arguments(su, need_size=True)
    su.add_argument(
        "--one-pass",
        action="store_true",
        help="one pass with bounded quantile error instead of exact quantiles",
    )
    su.add_argument("--threads", type=int, help="thread pool size (default: all cores)")
    su.add_argument(
        "--progress",
        choices=("auto", "yes", "no"),
        default="auto",
        help="progress bar on stderr (auto: for runs predicted to last over 10 s)",
    )
    su.add_argument("--scheduler", metavar="ADDRESS",
                    help="run on the dask cluster of this scheduler (tcp://host:8786)")

    bd = sub.add_parser(
        "bound",
        help="certified upper bound on the spectral norm (any n, both boundaries)",
        description="An upper bound on sigma_max of the layer for every input size, every "
        "padding and both boundaries: the maximum over the frequency torus of its "
        "(polyphase) symbol, certified.",
    )
    _layer_arguments(bd, need_size=False)
    bd.add_argument("--rtol", type=float, default=1e-9, help="relative tightness")

    it = sub.add_parser(
        "init",
        help="write seeded random weights to a .npy file",
        description="Write the weights of a seeded random layer, as convbench spectrum "
        "draws them, to a .npy file (never over an existing file unless --force).",
    )
    it.add_argument("path", type=Path, help="the .npy file to write")
    _random_arguments(it)
    it.add_argument("--dim", type=int, choices=(1, 2, 3), help="spatial dimensions")
    it.add_argument("--groups", type=groups, default=1, metavar="G",
                    help="channel groups, or depthwise (one per input channel)")
    it.add_argument("--transposed", action="store_true",
                    help="a ConvTranspose weight (cin, cout/groups, *kernel)")
    it.add_argument("--layout", choices=LAYOUTS, default="oihw", help="layout to write")
    it.add_argument("--force", action="store_true", help="overwrite an existing file")
    md = sub.add_parser(
        "model",
        help="exact per-layer spectra of every convolution of an ONNX model",
        description="sigma_max (exact, the layer's own zero padding), the certified bound "
        "and the periodic extremes of every Conv/ConvTranspose node of an ONNX model, read "
        "as data (PyTorch checkpoints are pickles and are never loaded: export to ONNX, or "
        "call convbench.model_spectra on your module).",
    )
    md.add_argument("model", type=Path, help="the .onnx file")
    md.add_argument("--input", type=input_shape, required=True, metavar="SHAPE",
                    help="the full input shape, batch and channels included: 1x3x224x224")
    md.add_argument("--boundary", choices=("zero", "periodic"), default="zero",
                    help="sigma_max as the layers compute (zero, default) or on the torus")
    md.add_argument("--threads", type=int,
                    help="threads in all (default: every core): that many layers at once, "
                    "one BLAS thread each")
    md.add_argument("--csv", type=Path, help="write the table as CSV")
    md.add_argument("--json", type=Path, help="write the report as JSON")
    md.add_argument("--force", action="store_true", help="overwrite existing --csv/--json")
    md.add_argument("--progress", choices=("auto", "yes", "no"), default="auto",
                    help="progress bar on stderr (auto: models of 10 or more convolutions)")
    md.add_argument("--scheduler", metavar="ADDRESS",
                    help="compute the layers on the dask cluster of this scheduler")
    return parser


@contextlib.contextmanager
def _cluster(args: argparse.Namespace) -> Iterator[Any]:
    """The client of ``--scheduler`` (closed afterwards), or ``None`` without it; dask is
    imported only when the flag is given."""
    if args.scheduler is None:
        yield None
        return
    if args.threads is not None:
        raise CommandError("--threads applies to a run on this machine; with --scheduler "
                           "the workers' threads are the parallelism")
    from .distributed import connect

    client = connect(args.scheduler)
    try:
        yield client
    finally:
        client.close()


def _random_arguments(parser: argparse.ArgumentParser) -> None:
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


def _layer_arguments(parser: argparse.ArgumentParser, need_size: bool) -> None:
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
    _random_arguments(parser)
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


def _weight(args: argparse.Namespace) -> tuple[np.ndarray, int, int]:
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


def _options(args: argparse.Namespace, d: int) -> dict[str, Any]:
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


def _layer(args: argparse.Namespace, boundary: str) -> Conv:
    """The validated layer of the command's arguments."""
    w, d, g = _weight(args)
    shape = _per_dim(args.n, d, "--n")
    if args.m is not None:
        if len(args.n) != 1:
            raise CommandError("give the width either in --n (e.g. 64x32) or in --m")
        shape = (shape[0], args.m)
    return as_layer(
        w, shape, layout=args.layout, groups=g, boundary=boundary, **_options(args, d)
    )


def _x(values: Sequence[int]) -> str:
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
        f"kernel={_x(layer.kernel)}",
        f"stride={_x(layer.stride)}",
        f"dilation={_x(layer.dilation)}",
        f"groups={layer.groups}",
        f"padding={pads}",
    ]
    if layer.transposed:
        parts.append(f"output_padding={_x(layer.output_padding)}")
    if sizes:
        parts += [f"input={_x(layer.shape)}", f"output={_x(layer.out_shape)}"]
    return "layer      " + " ".join(parts)


# ---------------------------------------------------------------------------------------
# the commands


def _spectrum(args: argparse.Namespace) -> int:
    if args.save is not None and args.save.exists() and not args.force:
        raise FileExistsError(f"{args.save} exists; pass --force to overwrite it")
    layer = _layer(args, args.boundary)
    threads = None if args.threads is None else check_threads(args.threads)
    options = {"memory_budget": args.memory_budget}
    stages: list[tuple[str, float]] = []
    start = time.perf_counter()
    if args.method in ("lfa", "fft", "fftw") and args.top_k is None and args.boundary == "periodic":
        # the two stages separately, through the same public functions
        extra = {"threads": threads, "planner_effort": args.planner_effort}
        blocks = symbol(layer, method=args.method, **options, **extra)
        mid = time.perf_counter()
        values = block_singular_values(blocks)
        stages = [("transform", mid - start), ("svd + sort", time.perf_counter() - mid)]
    else:
        values = singular_values(
            layer,
            method=args.method,
            top_k=args.top_k,
            threads=threads,
            planner_effort=args.planner_effort,
            **options,
        )
        stages = [("total", time.perf_counter() - start)]
    smax, smin = float(values[0]), float(values[-1])
    print(layer_line(layer))
    print(f"operator   {layer.rows} x {layer.cols}, {args.boundary} boundary")
    print(f"method     {args.method}")
    what = "largest " if args.top_k is not None else ""
    print(f"values     {values.size} {what}singular values ({format_bytes(values.nbytes)})")
    print(f"sigma_max  {smax:.10g}")
    if args.top_k is None:
        cond = smax / smin if smin > 0 else float("inf")
        print(f"sigma_min  {smin:.10g}")
        print(f"condition  {cond:.6g}")
    else:
        print(f"sigma_{values.size:<4d} {smin:.10g}")
    for name, seconds in stages:
        print(f"time       {name:<11s}{seconds:.4f} s")
    if args.save is not None:
        np.save(args.save, values)
        print(f"saved      {args.save}")
    return 0


def _summarize(args: argparse.Namespace) -> int:
    layer = _layer(args, "periodic")
    if layer.d == 3 or layer.groups > 1:
        what = "3-D layers" if layer.d == 3 else f"groups={layer.groups}"
        raise CommandError(
            f"summarize streams ungrouped 1-D and 2-D layers; for {what} use "
            "`convbench spectrum --method fast`"
        )
    if layer.is_plain:
        weight, shape = layer.weight, layer.shape
    else:
        # the periodic layer is one stride-1 2-D convolution on its coarse grid, with the
        # stride's phases as input channels: the same singular values
        poly = layer.polyphase()
        weight, shape = poly.kernel[0], poly.grid
        if layer.d == 1:
            weight, shape = weight[..., None], (*shape, 1)
    progress = {"auto": None, "yes": True, "no": False}[args.progress]
    start = time.perf_counter()
    with _cluster(args) as client:
        s = summarize(weight, shape, exact=not args.one_pass, threads=args.threads,
                      progress=progress, client=client)
    seconds = time.perf_counter() - start
    print(layer_line(layer))
    print(f"values     {s.count} singular values (periodic boundary), {s.passes} pass(es)")
    print(f"sigma_max  {s.sigma_max:.10g}")
    print(f"sigma_min  {s.sigma_min:.10g}")
    for q, v in zip(s.quantiles, s.quantile_values, strict=True):
        print(f"quantile   {q:<8.4g} {v:.10g}")
    print(f"time       {seconds:.2f} s")
    return 0


def _bound(args: argparse.Namespace) -> int:
    w, d, g = _weight(args)
    # the layer on a torus where no polyphase tap wraps: its input size is not used
    layer = Conv.build(w, None, layout=args.layout, groups=g, **_options(args, d))
    start = time.perf_counter()
    b = spectral_norm_bound(layer, rtol=args.rtol)
    seconds = time.perf_counter() - start
    where = f"theta = ({', '.join(f'{t:.6f}' for t in b.theta)})"
    if layer.phases > 1:
        where += f" of the polyphase symbol (stride {_x(layer.stride)})"
    print(layer_line(layer, sizes=False))
    print(f"bound      {b.upper:.12g}  (sigma_max <= bound for every n, either boundary)")
    print(f"attained   {b.lower:.12g}  at {where}")
    print(f"work       {b.evaluations} symbol evaluations, {seconds:.3f} s")
    return 0


def _init(args: argparse.Namespace) -> int:
    args.weights = None
    if args.path.exists() and not args.force:
        raise FileExistsError(f"{args.path} exists; pass --force to overwrite it")
    w, d, g = _weight(args)
    layer = as_layer(w, w.shape[2:], groups=g, transposed=args.transposed)
    out = w if args.layout == "oihw" else w.transpose(*range(2, d + 2), 1, 0)
    with open(args.path, "wb" if args.force else "xb") as fh:
        np.save(fh, np.ascontiguousarray(out))
    print(layer_line(layer, sizes=False))
    print(
        f"weight     {out.shape} {args.layout}, {args.init or 'pytorch'} init, "
        f"seed {0 if args.seed is None else args.seed}"
    )
    print(f"saved      {args.path}")
    return 0


#: Pickle-based formats that ``convbench model`` refuses without reading them.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


def _model(args: argparse.Namespace) -> int:
    from .models import model_spectra
    from .models.table import format_table

    if args.model.suffix.lower() in PICKLE_SUFFIXES:
        raise CommandError(
            f"{args.model}: {args.model.suffix} files are pickles and are never loaded; "
            "export the model to ONNX (torch.onnx.export), or call "
            "convbench.model_spectra(module, shape) on your own module"
        )
    for out in (args.csv, args.json):
        if out is not None and out.exists() and not args.force:
            raise FileExistsError(f"{out} exists; pass --force to overwrite it")
    bar: Any = None
    show = {"auto": None, "yes": True, "no": False}[args.progress]

    def progress(done: int, total: int, name: str) -> None:
        nonlocal bar
        if bar is None and (show or (show is None and total >= 10)):
            from tqdm import tqdm

            bar = tqdm(total=total, unit="layer", file=sys.stderr, leave=False)
        if bar is not None:
            bar.set_postfix_str(name, refresh=False)
            bar.update(1)

    try:
        with _cluster(args) as client:
            report = model_spectra(args.model, args.input, boundary=args.boundary,
                                   threads=args.threads, progress=progress, client=client)
    finally:
        if bar is not None:
            bar.close()
    print(format_table(report))
    if args.csv is not None:
        print(f"saved      {report.to_csv(args.csv, force=args.force)}")
    if args.json is not None:
        print(f"saved      {report.to_json(args.json, force=args.force)}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "model": _model,
    "spectrum": _spectrum,
    "summarize": _summarize,
    "bound": _bound,
    "init": _init,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``convbench`` command; returns the exit status.

    Bad input (argparse's checks, the layer's validation, an unreadable or existing
    file, a memory budget too small) is reported on stderr in one line, with status 2
    and no traceback.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and argparse's own errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    try:
        return COMMANDS[args.command](args)
    except (ValueError, TypeError, BudgetError, OSError) as exc:
        print(f"convbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
