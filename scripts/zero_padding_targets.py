"""Measure the zero-padding targets and print the tables.

1. Models against the dense exact zero-padded spectrum: for c in {1, 4, 16}
   (cin = cout), k in {3, 5}, n in {8, 16, 32} with c * n^2 <= 8192, PyTorch-style
   random weights (seeds given by ``--seeds``): W1 error over sigma_max (mean
   |sorted approximation - sorted exact| / sigma_max) and the relative sigma_max error
   of every model, and their geometric means over the cases.
2. ``top_k=1`` of the zero-padded operator at n = 256 with 64 channels (matrix-free
   Lanczos), its time, and checks: the same route against a dense SVD at a size where
   that is feasible, and the value against the certified bound (it must lie below it).
   ``--arpack`` also runs ARPACK (``scipy.sparse.linalg.svds``) on the same operator, an
   independent Lanczos implementation (slow: several minutes).

Usage::

    python scripts/zero_padding_targets.py [--seeds 0 1 2] [--threads 2] [--arpack]
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    ap.add_argument("--arpack", action="store_true", help="cross-check with ARPACK")
    ap.add_argument("--skip-models", action="store_true")
    ap.add_argument("--skip-top", action="store_true")
    args = ap.parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import time

    import numpy as np
    import scipy.sparse.linalg

    import convbench as cb
    from convbench.boundary import BEST, compare_models, geometric_mean
    from convbench.operators import conv_operator

    print(f"# zero-padding targets: BLAS threads {args.threads}, numpy {np.__version__}")
    if not args.skip_models:
        print(f"\n## Models against the dense zero-padded spectrum (best = {BEST!r})\n")
        print(
            "| c | k | n | seed | W1 circular | W1 best | circular / best "
            "| sigma_max err circular | sigma_max err best |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        ratios, circ_s, best_s, worse = [], [], [], []
        for c in (1, 4, 16):
            for k in (3, 5):
                for n in (8, 16, 32):
                    if c * n * n > 8192:
                        continue
                    for seed in args.seeds:
                        w = cb.pytorch_default(c, c, k, seed=seed)
                        rec = {r["model"]: r for r in compare_models(w, n, ("circular", "best"))}
                        circ, best = rec["circular"], rec["best"]
                        ratio = circ["mean_abs"] / best["mean_abs"]
                        ratios.append(ratio)
                        circ_s.append(abs(circ["rel_sigma_max"]))
                        best_s.append(abs(best["rel_sigma_max"]))
                        if best["mean_abs"] > circ["mean_abs"]:
                            worse.append((c, k, n, seed))
                        print(
                            f"| {c} | {k} | {n} | {seed} | {circ['mean_abs']:.2e} | "
                            f"{best['mean_abs']:.2e} | {ratio:.1f}x | "
                            f"{circ['rel_sigma_max']:+.2e} | {best['rel_sigma_max']:+.2e} |",
                            flush=True,
                        )
        print(
            f"\ngeometric mean of circular/best W1: {geometric_mean(ratios):.2f}x "
            f"(target >= 3x); best worse than circular in {len(worse)} case(s) {worse}"
        )
        print(
            f"geometric mean |sigma_max error|: circular {geometric_mean(circ_s):.2e}, "
            f"best {geometric_mean(best_s):.2e} (target: best <= circular)"
        )

    if not args.skip_top:
        print("\n## top_k=1 with zero padding, matrix-free Lanczos\n")
        w = cb.pytorch_default(16, 16, 3, seed=0)
        dense = cb.singular_values(w, 16, method="explicit", boundary="zero")[0]
        free = cb.extremes.top_singular_values(w, 16, 1)[0]
        print(
            f"check at n=16, c=16: matrix-free {free:.12f}, dense SVD {dense:.12f}, "
            f"relative difference {abs(free - dense) / dense:.1e}"
        )
        w = cb.pytorch_default(64, 64, 3, seed=0)
        cb.singular_values(w, 8, method="explicit", boundary="zero", top_k=1)  # warm up
        t0 = time.perf_counter()
        top = cb.singular_values(w, 256, method="explicit", boundary="zero", top_k=1)[0]
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        bound = cb.spectral_norm_bound(w)
        bound_s = time.perf_counter() - t0
        print(
            f"n=256, c=64 ({64 * 256 * 256} unknowns): sigma_max = {top:.12f} in "
            f"{seconds:.1f} s (target < 60 s)"
        )
        print(
            f"certified bound {bound.upper:.12f} in {bound_s:.2f} s "
            f"({bound.evaluations} symbol evaluations); bound - sigma_max = "
            f"{(bound.upper - top) / top:.2e} relative (must be >= 0)"
        )
        if args.arpack:
            op = conv_operator(w, 256, "zero")
            v0 = np.random.default_rng(0).standard_normal(op.shape[1])
            t0 = time.perf_counter()
            ref = scipy.sparse.linalg.svds(op, k=1, tol=1e-10, v0=v0, return_singular_vectors=False)
            print(
                f"ARPACK svds on the same operator: {ref[0]:.12f} in "
                f"{time.perf_counter() - t0:.1f} s; relative difference "
                f"{abs(ref[0] - top) / ref[0]:.1e}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
