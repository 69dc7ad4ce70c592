"""``convbench bound``: the certified upper bound on the spectral norm."""

from __future__ import annotations

import argparse
import time

from ..bounds import spectral_norm_bound
from ..layer import Conv
from .common import format_sizes, layer_arguments, layer_line, layer_options, read_weight

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]


#: One line of ``convbench --help``.
HELP = "certified upper bound on the spectral norm (any n, both boundaries)"
#: The first paragraph of ``convbench bound --help``.
DESCRIPTION = (
    "An upper bound on sigma_max of the layer for every input size, every "
    "padding and both boundaries: the maximum over the frequency torus of its "
    "(polyphase) symbol, certified."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``convbench bound``."""
    layer_arguments(parser, need_size=False)
    parser.add_argument("--rtol", type=float, default=1e-9, help="relative tightness")


def run(args: argparse.Namespace) -> int:
    """Run ``convbench bound`` on the parsed ``args``; the exit status (0)."""
    w, d, g = read_weight(args)
    # the layer on a torus where no polyphase tap wraps: its input size is not used
    layer = Conv.build(w, None, layout=args.layout, groups=g, **layer_options(args, d))
    start = time.perf_counter()
    b = spectral_norm_bound(layer, rtol=args.rtol)
    seconds = time.perf_counter() - start
    where = f"theta = ({', '.join(f'{t:.6f}' for t in b.theta)})"
    if layer.phases > 1:
        where += f" of the polyphase symbol (stride {format_sizes(layer.stride)})"
    print(layer_line(layer, sizes=False))
    print(f"bound      {b.upper:.12g}  (sigma_max <= bound for every n, either boundary)")
    print(f"attained   {b.lower:.12g}  at {where}")
    print(f"work       {b.evaluations} symbol evaluations, {seconds:.3f} s")
    return 0
