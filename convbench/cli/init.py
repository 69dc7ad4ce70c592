"""``convbench init``: seeded random weights written to a .npy file."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..layer import as_layer
from ..weights import LAYOUTS
from .common import groups, layer_line, random_arguments, read_weight

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]


#: One line of ``convbench --help``.
HELP = "write seeded random weights to a .npy file"
#: The first paragraph of ``convbench init --help``.
DESCRIPTION = (
    "Write the weights of a seeded random layer, as convbench spectrum "
    "draws them, to a .npy file (never over an existing file unless --force)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``convbench init``."""
    parser.add_argument("path", type=Path, help="the .npy file to write")
    random_arguments(parser)
    parser.add_argument("--dim", type=int, choices=(1, 2, 3), help="spatial dimensions")
    parser.add_argument("--groups", type=groups, default=1, metavar="G",
                        help="channel groups, or depthwise (one per input channel)")
    parser.add_argument("--transposed", action="store_true",
                        help="a ConvTranspose weight (cin, cout/groups, *kernel)")
    parser.add_argument("--layout", choices=LAYOUTS, default="oihw", help="layout to write")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def run(args: argparse.Namespace) -> int:
    """Run ``convbench init`` on the parsed ``args``; the exit status (0)."""
    args.weights = None
    if args.path.exists() and not args.force:
        raise FileExistsError(f"{args.path} exists; pass --force to overwrite it")
    w, d, g = read_weight(args)
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
