"""``convbench summarize``: streamed statistics of the periodic spectrum."""

from __future__ import annotations

import argparse
import time

from ..stream import summarize
from .common import CommandError, cluster, layer_arguments, layer_line, read_layer

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]


#: One line of ``convbench --help``.
HELP = "streamed statistics of the periodic spectrum (any size)"
#: The first paragraph of ``convbench summarize --help``.
DESCRIPTION = (
    "sigma_max, sigma_min and quantiles of all singular values of the "
    "periodic operator, computed chunk by chunk in bounded memory (ungrouped 1-D and "
    "2-D layers, any stride, dilation or padding, transposed or not)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``convbench summarize``."""
    layer_arguments(parser, need_size=True)
    parser.add_argument(
        "--one-pass",
        action="store_true",
        help="one pass with bounded quantile error instead of exact quantiles",
    )
    parser.add_argument("--threads", type=int, help="thread pool size (default: all cores)")
    parser.add_argument(
        "--progress",
        choices=("auto", "yes", "no"),
        default="auto",
        help="progress bar on stderr (auto: for runs predicted to last over 10 s)",
    )
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the dask cluster of this scheduler (tcp://host:8786)")


def run(args: argparse.Namespace) -> int:
    """Run ``convbench summarize`` on the parsed ``args``; the exit status (0)."""
    layer = read_layer(args, "periodic")
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
    with cluster(args) as client:
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
