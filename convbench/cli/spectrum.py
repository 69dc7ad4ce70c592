"""``convbench spectrum``: singular values of one layer."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..blas import check_threads
from ..memory import format_bytes
from ..spectrum import METHODS, singular_values
from ..svd import block_singular_values
from ..symbols import PLANNER_EFFORTS, SYMBOL_METHODS, symbol
from .common import layer_arguments, layer_line, read_layer

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]


#: One line of ``convbench --help``.
HELP = "singular values of one layer"
#: The first paragraph of ``convbench spectrum --help``.
DESCRIPTION = (
    "Compute the singular values of a convolutional layer on an input of "
    "size --n and print a summary."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``convbench spectrum``."""
    layer_arguments(parser, need_size=True)
    parser.add_argument("--boundary", choices=("periodic", "zero"), default="periodic",
                        help="the torus, or the layer's own zero padding (default: periodic)")
    parser.add_argument("--method", choices=METHODS, default="lfa", help="computation path")
    parser.add_argument("--top-k", type=int, help="only the k largest singular values")
    parser.add_argument("--threads", type=int, help="FFTW threads (fftw) or thread pool (fast)")
    parser.add_argument("--planner-effort", choices=PLANNER_EFFORTS, default="FFTW_ESTIMATE")
    parser.add_argument("--memory-budget", help="memory budget, e.g. 8G (default: see docs)")
    parser.add_argument("--save", type=Path, help="write the spectrum (descending) to this .npy")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --save file")


def run(args: argparse.Namespace) -> int:
    """Run ``convbench spectrum`` on the parsed ``args``; the exit status (0)."""
    if args.save is not None and args.save.exists() and not args.force:
        raise FileExistsError(f"{args.save} exists; pass --force to overwrite it")
    layer = read_layer(args, args.boundary)
    threads = None if args.threads is None else check_threads(args.threads)
    options = {"memory_budget": args.memory_budget}
    stages: list[tuple[str, float]] = []
    start = time.perf_counter()
    if args.method in SYMBOL_METHODS and args.top_k is None and args.boundary == "periodic":
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
