"""``convbench estimates``: the field's sigma_max bounds and estimates for one layer."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..estimates import ESTIMATE_METHODS, sigma_max_estimates
from .common import layer_arguments, layer_line, read_layer

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]

#: One line of ``convbench --help``.
HELP = "the published sigma_max bounds and estimates of one layer, against the exact value"
#: The first paragraph of ``convbench estimates --help``.
DESCRIPTION = (
    "One row per method: the exact zero-padded sigma_max, the library's certified "
    "bounds and the field's published bounds and estimates (Gram iteration, Araujo et "
    "al., Singla & Feizi, Grishina et al., power iteration, the reshaped-matrix norm), "
    "each with its kind (exact, upper bound, estimate), its gap to the exact value and "
    "its time."
)


def _method(text: str) -> str:
    if text not in ESTIMATE_METHODS:
        raise argparse.ArgumentTypeError(
            f"unknown method {text!r}; known: {', '.join(ESTIMATE_METHODS)}"
        )
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``convbench estimates``."""
    layer_arguments(parser, need_size=True)
    parser.add_argument("--boundary", choices=("zero", "periodic"), default="zero",
                        help="the operator the values refer to (default: zero, as "
                             "networks compute)")
    parser.add_argument("--methods", type=_method, nargs="+", metavar="METHOD",
                        help=f"only these rows (default: all: {', '.join(ESTIMATE_METHODS)})")
    parser.add_argument("--csv", type=Path, help="also write the table as CSV")
    parser.add_argument("--force", action="store_true", help="overwrite the --csv file")


def _number(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.8g}"


def _gap(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:+.3f}%"


def run(args: argparse.Namespace) -> int:
    """Run ``convbench estimates`` on the parsed ``args``; the exit status (0)."""
    if args.csv is not None and args.csv.exists() and not args.force:
        raise FileExistsError(f"{args.csv} exists; pass --force to overwrite it")
    layer = read_layer(args, args.boundary)
    frame = sigma_max_estimates(layer, methods=args.methods)
    print(layer_line(layer))
    print(f"operator   {layer.rows} x {layer.cols}, {args.boundary} boundary")
    width = max(len(m) for m in frame["method"])
    kinds = max(len(k) for k in frame["kind"])
    print(f"{'method':<{width}}  {'value':>14}  {'gap':>10}  {'kind':<{kinds}}  "
          f"{'seconds':>8}  reference")
    for row in frame.itertuples(index=False):
        note = row.reference if row.applies else f"not applicable: {row.reason}"
        print(f"{row.method:<{width}}  {_number(row.value):>14}  {_gap(row.relative_gap):>10}"
              f"  {row.kind:<{kinds}}  {row.seconds:>8.3f}  {note}")
    print("gap: value / exact - 1; an upper bound is never below the exact value")
    if args.csv is not None:
        frame.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0
