"""Compute and store zero-padded vs periodic spectra that are too slow to recompute live.

Two studies, each written to its own file under ``results/spectra/`` with the
parameters, seed, commit and machine that made it:

``paper``
    The paper's largest boundary panel: n = 32, 16 input and 16 output channels,
    3x3 kernel, PyTorch default initialisation (seed 0). The zero-padded spectrum is
    the dense SVD of the 16384 x 16384 unrolled operator (17 min on 2 cores); the periodic one
    comes from LFA.
``grid``
    Zero-padded vs periodic spectra over n for several kernel sizes, channel counts
    and seeds, for the error-against-n study. Cells whose unrolled operator has more
    than ``--max-dim`` columns are left out.

Existing files are never overwritten unless ``--force`` is given; ``--skip-existing``
leaves them alone and computes only what is missing.

Usage::

    python scripts/boundary_spectra.py [paper] [grid] [--skip-existing | --force]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import convbench as cb
from convbench.results import save_spectra

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "results" / "spectra"

PAPER = {"n": 32, "channels": 16, "kernel": 3, "seed": 0}
GRID_KERNELS = (3, 5, 7)
GRID_CHANNELS = (1, 4, 16)
GRID_NS = (4, 6, 8, 11, 16, 22, 32, 45, 64)
GRID_SEEDS = (0, 1, 2)


def paper_path(out_dir: Path = OUT_DIR) -> Path:
    p = PAPER
    return out_dir / f"boundary_paper_n{p['n']}_c{p['channels']}_k{p['kernel']}_seed{p['seed']}.npz"


def grid_path(max_dim: int, out_dir: Path = OUT_DIR) -> Path:
    seeds = f"{GRID_SEEDS[0]}-{GRID_SEEDS[-1]}"
    return out_dir / f"boundary_grid_maxdim{max_dim}_seeds{seeds}.npz"


def one_cell(n: int, channels: int, kernel: int, seed: int) -> dict:
    """Both spectra of one configuration, with the seconds each took."""
    w = cb.pytorch_default(channels, channels, kernel, seed=seed)
    t0 = time.perf_counter()
    zero = cb.singular_values(w, n, method="explicit", boundary="zero")
    t1 = time.perf_counter()
    periodic = cb.singular_values(w, n, method="lfa")
    t2 = time.perf_counter()
    return {
        "params": {
            "n": n,
            "m": n,
            "cout": channels,
            "cin": channels,
            "kh": kernel,
            "kw": kernel,
            "seed": seed,
            "init": "pytorch_default",
        },
        "spectra": {"zero": zero, "periodic": periodic},
        "seconds": {"zero": t1 - t0, "periodic": t2 - t1},
    }


EXTRA = {
    "methods": {
        "zero": "singular_values(method='explicit', boundary='zero'): dense LAPACK gesdd",
        "periodic": "singular_values(method='lfa')",
    },
    "weights": "convbench.pytorch_default(cout, cin, kernel, seed), layout oihw",
}


def run_paper(target: Path, force: bool) -> Path:
    p = PAPER
    print(f"paper: n={p['n']}, {p['channels']} channels, {p['kernel']}x{p['kernel']}", flush=True)
    cell = one_cell(p["n"], p["channels"], p["kernel"], p["seed"])
    print(f"  zero padding {cell['seconds']['zero']:.1f} s", flush=True)
    return save_spectra(
        target,
        [cell],
        study="boundary-paper",
        description=(
            "Sorted singular values of Conv2d(16, 16, 3, padding='same') on a 32x32 input "
            "with zero padding (dense SVD of the unrolled operator) and periodic boundary "
            "(LFA); the largest panel of the paper's boundary-condition figure."
        ),
        overwrite=force,
        extra=EXTRA,
    )


def run_grid(target: Path, force: bool, max_dim: int) -> Path:
    cells = []
    for kernel in GRID_KERNELS:
        for channels in GRID_CHANNELS:
            for n in GRID_NS:
                if n < kernel or channels * n * n > max_dim:
                    continue
                for seed in GRID_SEEDS:
                    cell = one_cell(n, channels, kernel, seed)
                    cells.append(cell)
                print(
                    f"grid: k={kernel} c={channels} n={n}: "
                    f"{cell['seconds']['zero']:.2f} s per zero-padded SVD",
                    flush=True,
                )
    return save_spectra(
        target,
        cells,
        study="boundary-grid",
        description=(
            "Sorted singular values with zero padding (dense SVD of the unrolled operator) "
            "and periodic boundary (LFA) over n, kernel sizes, channel counts "
            f"(cout = cin) and seeds; cells with cin*n*n > {max_dim} are left out."
        ),
        overwrite=force,
        extra={
            **EXTRA,
            "grid": {
                "kernels": GRID_KERNELS,
                "channels": GRID_CHANNELS,
                "n": GRID_NS,
                "seeds": GRID_SEEDS,
                "max_dim": max_dim,
            },
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "studies", nargs="*", metavar="{paper,grid}", help="studies to compute (default: both)"
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--force", action="store_true", help="overwrite existing files")
    group.add_argument(
        "--skip-existing", action="store_true", help="leave existing files alone, say so"
    )
    parser.add_argument(
        "--max-dim",
        type=int,
        default=4096,
        help="largest unrolled operator (cin*n*n columns) in the grid study",
    )
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="default: results/spectra")
    args = parser.parse_args(argv)
    # validated here: argparse rejects an empty list against choices (Python < 3.12)
    unknown = sorted(set(args.studies) - {"paper", "grid"})
    if unknown:
        parser.error(f"unknown studies {unknown}; choose from 'paper', 'grid'")
    studies = args.studies or ["paper", "grid"]
    targets = {
        "paper": paper_path(args.out_dir),
        "grid": grid_path(args.max_dim, args.out_dir),
    }
    status = 0
    for study in studies:
        target = targets[study]
        if target.exists() and not args.force:
            rel = _rel(target)
            if args.skip_existing:
                print(f"{study}: {rel} exists, left as it is")
                continue
            print(
                f"{study}: refusing to overwrite {rel}; pass --force to replace it "
                "or --skip-existing to keep it",
                file=sys.stderr,
            )
            status = 1
            continue
        if study == "paper":
            written = run_paper(target, args.force)
        else:
            written = run_grid(target, args.force, args.max_dim)
        print(f"{study}: wrote {_rel(written)}")
    return status


def _rel(path: Path) -> Path:
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


if __name__ == "__main__":
    sys.exit(main())
