"""Command line: ``convbench spectrum | summarize | bound | estimates | init | model``
(also ``python -m convbench``).

One module per subcommand (:mod:`convbench.cli.spectrum`, ``summarize``, ``bound``,
``estimates``, ``init``, ``model``: each its parser and its ``run``), and
:mod:`convbench.cli.common` for what they share.

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

The field's published bounds and estimates of sigma_max against the exact value, one
row per method::

    convbench estimates weights.npy --n 32 --stride 2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..memory import BudgetError
from . import bound, estimates, init, model, spectrum, summarize
from .common import INITS, CommandError, padding, random_weight, sizes

__all__ = ["COMMANDS", "INITS", "CommandError", "build_parser", "main", "padding",
           "random_weight", "sizes"]

#: The subcommands, in the order ``--help`` lists them: each module's ``HELP``,
#: ``DESCRIPTION``, ``add_arguments`` and ``run``.
COMMANDS = {"spectrum": spectrum, "summarize": summarize, "bound": bound,
            "estimates": estimates, "init": init, "model": model}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``convbench`` command."""
    parser = argparse.ArgumentParser(
        prog="convbench",
        description="Singular values of convolutional layers (PyTorch's conv1d/2d/3d and "
        "conv_transpose1d/2d/3d, bias off).",
    )
    parser.add_argument("--version", action="version", version=f"convbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.add_arguments(
            sub.add_parser(name, help=command.HELP, description=command.DESCRIPTION)
        )
    return parser


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
        return COMMANDS[args.command].run(args)
    except (ValueError, TypeError, BudgetError, OSError) as exc:
        print(f"convbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
