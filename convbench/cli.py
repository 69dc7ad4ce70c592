"""Command line: ``convbench spectrum`` (also ``python -m convbench``).

Examples
--------
A seeded random layer::

    convbench spectrum --cin 16 --cout 16 --kernel 3 --n 64 --method lfa

A saved weight array (``oihw`` unless ``--layout hwio``), spectrum written to disk::

    convbench spectrum weights.npy --n 224 --save spectrum.npy

Streamed statistics of a spectrum too large to hold, with a progress bar::

    convbench summarize --cin 4 --kernel 3 --n 16384

A certified upper bound on the spectral norm, valid for every input size and both
boundaries::

    convbench bound weights.npy
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import __version__
from .bounds import spectral_norm_bound
from .budget import BudgetError, format_bytes
from .spectrum import METHODS, singular_values
from .stream import summarize
from .svd import block_singular_values
from .symbols import PLANNER_EFFORTS, symbol
from .weights import LAYOUTS, as_oihw, he_normal, pytorch_default

__all__ = ["build_parser", "main"]

INITS = {"pytorch": pytorch_default, "he": he_normal}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``convbench`` command."""
    parser = argparse.ArgumentParser(
        prog="convbench",
        description="Singular values of 2-D multi-channel convolutional layers.",
    )
    parser.add_argument("--version", action="version", version=f"convbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser(
        "spectrum",
        help="singular values of one layer",
        description="Compute the singular values of a convolution (PyTorch Conv2d, "
        "padding='same') on an n x m input and print a summary.",
    )
    _layer_arguments(sp, need_size=True)
    sp.add_argument("--method", choices=METHODS, default="lfa", help="computation path")
    sp.add_argument("--boundary", choices=("periodic", "zero"), default="periodic")
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
        "periodic operator, computed chunk by chunk in bounded memory.",
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

    bd = sub.add_parser(
        "bound",
        help="certified upper bound on the spectral norm (any n, both boundaries)",
        description="An upper bound on sigma_max of the layer for every input size and "
        "both boundaries: the symbol's maximum over the frequency torus, certified.",
    )
    _layer_arguments(bd, need_size=False)
    bd.add_argument("--rtol", type=float, default=1e-9, help="relative tightness")
    return parser


def _layer_arguments(parser: argparse.ArgumentParser, need_size: bool) -> None:
    """The arguments that pick the layer (a weight file or a seeded random one)."""
    parser.add_argument(
        "weights", nargs="?", type=Path, help=".npy weight file (default: a seeded random layer)"
    )
    if need_size:
        parser.add_argument(
            "--n", type=int, required=True, help="input height (and width unless --m)"
        )
        parser.add_argument("--m", type=int, help="input width (default: n)")
    parser.add_argument("--cin", type=int, default=16, help="input channels of a random layer")
    parser.add_argument("--cout", type=int, help="output channels of a random layer (default: cin)")
    parser.add_argument("--kernel", type=int, nargs="+", default=[3], help="kernel size k or kh kw")
    parser.add_argument("--init", choices=sorted(INITS), default="pytorch", help="random init")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random layer")
    parser.add_argument("--layout", choices=LAYOUTS, default="oihw", help="layout of the weights")


def _weights(args: argparse.Namespace) -> np.ndarray:
    if args.weights is not None:
        if not args.weights.exists():
            raise FileNotFoundError(f"weight file not found: {args.weights}")
        loaded = np.load(args.weights, allow_pickle=False)
        return as_oihw(loaded, args.layout, name=str(args.weights))
    if len(args.kernel) not in (1, 2):
        raise ValueError("--kernel takes one size k or two sizes kh kw")
    kernel = args.kernel[0] if len(args.kernel) == 1 else tuple(args.kernel)
    cout = args.cin if args.cout is None else args.cout
    return INITS[args.init](cout, args.cin, kernel, seed=args.seed)


def _spectrum(args: argparse.Namespace) -> int:
    if args.save is not None and args.save.exists() and not args.force:
        raise FileExistsError(f"{args.save} exists; pass --force to overwrite it")
    w = _weights(args)
    shape = (args.n, args.n if args.m is None else args.m)
    options = {"memory_budget": args.memory_budget}
    stages: list[tuple[str, float]] = []
    start = time.perf_counter()
    if args.method in ("lfa", "fft", "fftw") and args.top_k is None and args.boundary == "periodic":
        # the two stages separately, through the same public functions
        extra = {"threads": args.threads, "planner_effort": args.planner_effort}
        blocks = symbol(w, shape, method=args.method, **options, **extra)
        mid = time.perf_counter()
        values = block_singular_values(blocks)
        stages = [("transform", mid - start), ("svd + sort", time.perf_counter() - mid)]
    else:
        values = singular_values(
            w,
            shape,
            method=args.method,
            boundary=args.boundary,
            top_k=args.top_k,
            threads=args.threads,
            planner_effort=args.planner_effort,
            **options,
        )
        stages = [("total", time.perf_counter() - start)]
    cout, cin, kh, kw = w.shape
    n, m = shape
    smax, smin = float(values[0]), float(values[-1])
    print(f"layer      cout={cout} cin={cin} kernel={kh}x{kw} input={n}x{m}")
    print(f"operator   {cout * n * m} x {cin * n * m}, {args.boundary} boundary")
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


def _describe(w: np.ndarray, shape: tuple[int, int] | None) -> None:
    cout, cin, kh, kw = w.shape
    where = "" if shape is None else f" input={shape[0]}x{shape[1]}"
    print(f"layer      cout={cout} cin={cin} kernel={kh}x{kw}{where}")


def _summarize(args: argparse.Namespace) -> int:
    w = _weights(args)
    shape = (args.n, args.n if args.m is None else args.m)
    progress = {"auto": None, "yes": True, "no": False}[args.progress]
    start = time.perf_counter()
    s = summarize(w, shape, exact=not args.one_pass, threads=args.threads, progress=progress)
    seconds = time.perf_counter() - start
    _describe(w, shape)
    print(f"values     {s.count} singular values (periodic boundary), {s.passes} pass(es)")
    print(f"sigma_max  {s.sigma_max:.10g}")
    print(f"sigma_min  {s.sigma_min:.10g}")
    for q, v in zip(s.quantiles, s.quantile_values, strict=True):
        print(f"quantile   {q:<8.4g} {v:.10g}")
    print(f"time       {seconds:.2f} s")
    return 0


def _bound(args: argparse.Namespace) -> int:
    w = _weights(args)
    start = time.perf_counter()
    b = spectral_norm_bound(w, rtol=args.rtol)
    seconds = time.perf_counter() - start
    _describe(w, None)
    print(f"bound      {b.upper:.12g}  (sigma_max <= bound for every n, either boundary)")
    print(f"attained   {b.lower:.12g}  at theta = ({b.theta[0]:.6f}, {b.theta[1]:.6f})")
    print(f"work       {b.evaluations} symbol evaluations, {seconds:.3f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``convbench`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "spectrum":
            return _spectrum(args)
        if args.command == "summarize":
            return _summarize(args)
        if args.command == "bound":
            return _bound(args)
    except (ValueError, TypeError, BudgetError, OSError) as exc:
        print(f"convbench: error: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2  # pragma: no cover
