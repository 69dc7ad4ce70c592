"""Per-block costs behind the fast path's wide-channel routes (``fast.GRAM_SQUARE_MAX``).

For square complex blocks of 64 to 512 channels, on one BLAS thread: LAPACK's SVD
(what ``lfa`` and, past ``GRAM_SQUARE_MAX``, ``fast`` pay per block) against the Gram
route (``zherk`` then ``heevd``), medians of interleaved repeats; and, for PyTorch-default
3x3 weights at the sizes of real networks, the share of half-plane blocks the Gram
certificate accepts. Prints a table; ``--out PATH`` also writes the numbers as JSON (an
existing file is refused).

    python scripts/block_costs.py [--repeats 5] [--out measurements/targets/blocks-<commit>.json]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import convbench as cb  # noqa: E402
from convbench.fast import factor, plane  # noqa: E402

TIMED = [(64, 64), (128, 16), (256, 6), (512, 3)]  # (channels, blocks per sample)
CERTIFIED = [(48, 64), (64, 56), (96, 40), (128, 28), (192, 20), (256, 14), (512, 7)]


def _median_seconds(fns: dict, repeats: int) -> dict:
    samples: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: float(np.median(v)) for name, v in samples.items()}


def per_block(repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for k, nb in TIMED:
        blocks = rng.standard_normal((nb, k, k)) + 1j * rng.standard_normal((nb, k, k))
        med = _median_seconds({
            "svd": lambda b=blocks: np.linalg.svd(b, compute_uv=False),
            "gram": lambda b=blocks: np.linalg.eigvalsh(factor.gram_products(b), UPLO="U"),
        }, repeats)
        rows.append({"k": k, "svd_ms": 1e3 * med["svd"] / nb,
                     "gram_ms": 1e3 * med["gram"] / nb})
    return rows


def certified(seed: int = 0) -> list[dict]:
    rows = []
    u = float(np.finfo(np.float64).eps) / 2
    for c, n in CERTIFIED:
        w = cb.pytorch_default(c, c, 3, seed=seed)
        plan = plane.Plan(w, n, n)
        blocks, _weight, _keep = plan.rows(0, n)
        kappa = math.sqrt(2.0) * (c + 2) + 4 * c
        _values, ok = factor.certified_eigenvalues(factor.gram_products(blocks), kappa * u,
                                                  uplo="U")
        rows.append({"c": c, "n": n, "blocks": int(ok.size), "certified": float(ok.mean())})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.out is not None and args.out.exists():
        ap.error(f"{args.out} exists; choose another name")
    load = os.getloadavg()[0]
    times, rates = per_block(args.repeats), certified()
    print(f"# per block, one thread, median of {args.repeats} interleaved repeats "
          f"(load {load:.2f} -> {os.getloadavg()[0]:.2f})")
    print("| k | SVD ms | zherk + heevd ms | ratio |\n|---|---|---|---|")
    for r in times:
        print(f"| {r['k']} | {r['svd_ms']:.3g} | {r['gram_ms']:.3g} | "
              f"{r['gram_ms'] / r['svd_ms']:.2f} |")
    print("\n# Gram certificate, PyTorch-default 3x3 weights (seed 0), half-plane blocks")
    print("| c | n | blocks | certified |\n|---|---|---|---|")
    for r in rates:
        print(f"| {r['c']} | {r['n']} | {r['blocks']} | {100 * r['certified']:.1f}% |")
    if args.out is not None:
        commit = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("x") as fh:
            json.dump({"commit": commit, "load": load, "repeats": args.repeats,
                       "numpy": np.__version__, "per_block": times, "certified": rates},
                      fh, indent=1)
        print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
