"""``convbench model``: exact per-layer spectra of every convolution of an ONNX model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..estimates import ESTIMATE_METHODS
from .common import CommandError, cluster, input_shape

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "run"]


#: One line of ``convbench --help``.
HELP = "exact per-layer spectra of every convolution of an ONNX model"
#: The first paragraph of ``convbench model --help``.
DESCRIPTION = (
    "sigma_max (exact, the layer's own zero padding), the certified bound "
    "and the periodic extremes of every Conv/ConvTranspose node of an ONNX model, read "
    "as data (PyTorch checkpoints are pickles and are never loaded: export to ONNX, or "
    "call convbench.model_spectra on your module)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``convbench model``."""
    parser.add_argument("model", type=Path, help="the .onnx file")
    parser.add_argument("--input", type=input_shape, required=True, metavar="SHAPE",
                        help="the full input shape, batch and channels included: 1x3x224x224")
    parser.add_argument("--boundary", choices=("zero", "periodic"), default="zero",
                        help="sigma_max as the layers compute (zero, default) or on the torus")
    parser.add_argument("--threads", type=int,
                        help="threads in all (default: every core): that many layers at once, "
                        "one BLAS thread each")
    parser.add_argument("--csv", type=Path, help="write the table as CSV")
    parser.add_argument("--json", type=Path, help="write the report as JSON")
    parser.add_argument("--force", action="store_true", help="overwrite existing --csv/--json")
    parser.add_argument("--progress", choices=("auto", "yes", "no"), default="auto",
                        help="progress bar on stderr (auto: models of 10 or more convolutions)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="compute the layers on the dask cluster of this scheduler")
    parser.add_argument("--estimates", nargs="*", metavar="METHOD",
                        help="add a column per sigma_max bound or estimate of the field "
                        f"(default: {' '.join(DEFAULT_ESTIMATES)}; any of "
                        "convbench.ESTIMATE_METHODS but exact), and their products")


#: The columns of a bare ``--estimates``: every method but the exact value (the
#: ``sigma_max`` column) and ``spectral_norm_bound`` (minutes per wide layer; ask for it
#: by name).
DEFAULT_ESTIMATES = tuple(m for m in ESTIMATE_METHODS
                          if m not in ("exact", "spectral_norm_bound"))

#: Pickle-based formats that ``convbench model`` refuses without reading them.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


def run(args: argparse.Namespace) -> int:
    """Run ``convbench model`` on the parsed ``args``; the exit status (0)."""
    from ..models import model_spectra
    from ..models.table import format_table

    if args.model.suffix.lower() in PICKLE_SUFFIXES:
        raise CommandError(
            f"{args.model}: {args.model.suffix} files are pickles and are never loaded; "
            "export the model to ONNX (torch.onnx.export), or call "
            "convbench.model_spectra(module, shape) on your own module"
        )
    for out in (args.csv, args.json):
        if out is not None and out.exists() and not args.force:
            raise FileExistsError(f"{out} exists; pass --force to overwrite it")
    estimates = args.estimates
    if estimates is not None and not estimates:
        estimates = DEFAULT_ESTIMATES
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
        with cluster(args) as client:
            report = model_spectra(args.model, args.input, boundary=args.boundary,
                                   threads=args.threads, progress=progress, client=client,
                                   estimates=estimates)
    finally:
        if bar is not None:
            bar.close()
    print(format_table(report))
    if args.csv is not None:
        print(f"saved      {report.to_csv(args.csv, force=args.force)}")
    if args.json is not None:
        print(f"saved      {report.to_json(args.json, force=args.force)}")
    return 0
