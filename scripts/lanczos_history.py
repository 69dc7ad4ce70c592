"""How the exact zero-padded sigma_max converges: the value against the residual, per step.

Runs :func:`convbench.extremes.layer_top_certified` (single-vector Golub-Kahan from
the smooth start, on the tap-GEMM operator where the layer takes it) on a 64-channel
3x3 layer (``cb.pytorch_default(c, c, 3, seed=0)``, zero padding, as
``topk_targets.py``) at ``--n``, on ``--threads`` BLAS threads, with its ``history``:
the estimate and the Ritz pair's residual every ten steps. It runs on to a residual of
``--reference-rtol`` times the value, and the final estimate is the reference for the
error of every earlier one. From the history it reports where the library's stopping
rule at ``--rtol`` (residual below ``rtol / 4`` and the value steady over ten steps)
stops, and the first check at which the value itself was within ``rtol``.

``--gaps N ...`` adds the ``--top`` largest values at those (small) sizes, certified by
block Lanczos (``top_k``), to show how the top values cluster: the gap a quadratic
stopping rule would need. Writes ``measurements/targets/history-<commit>.json`` (a new
name if taken)::

    python scripts/lanczos_history.py [--n 256] [--threads 2] [--gaps 32 64]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from provenance import commit, write_record  # noqa: E402

OUT = ROOT / "measurements" / "targets"


def rule_stop(history: list[tuple[int, float, float]], rtol: float) -> int | None:
    """The step at which :func:`convbench.extremes.golub_kahan_top` at ``rtol`` stops,
    replayed on a longer run's checks (the same rule on the same numbers)."""
    previous = 0.0
    for step, estimate, rho in history:
        if rho <= rtol * estimate / 4 and abs(estimate - previous) <= rtol * estimate:
            return step
        previous = estimate
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="input size (n x n)")
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rtol", type=float, default=1e-9, help="the stopping rule studied")
    ap.add_argument("--reference-rtol", type=float, default=1e-13,
                    help="run on to this relative residual for the reference value")
    ap.add_argument("--gaps", type=int, nargs="*", default=[],
                    help="sizes at which to certify the top values (block Lanczos)")
    ap.add_argument("--top", type=int, default=4, help="how many values at each --gaps size")
    ap.add_argument("--out-dir", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if min(args.n, args.channels, args.threads, args.top) < 1:
        ap.error("--n, --channels, --threads and --top must be positive")
    if not 0 < args.reference_rtol < args.rtol:
        ap.error("--reference-rtol must be positive and below --rtol")

    from threadpoolctl import threadpool_info, threadpool_limits

    import convbench as cb
    from convbench.extremes import layer_top_certified
    from convbench.layer import Conv

    c = args.channels
    w = cb.pytorch_default(c, c, 3, seed=0)
    record: dict[str, Any] = {
        "commit": commit(ROOT), "node": platform.node(), "cpu_count": os.cpu_count(),
        "layer": {"cout": c, "cin": c, "k": 3, "n": args.n, "boundary": "zero", "seed": 0},
        "threads": args.threads, "rtol": args.rtol, "reference_rtol": args.reference_rtol,
        "load": [os.getloadavg()],
    }
    history: list[tuple[int, float, float]] = []
    with threadpool_limits(args.threads):
        record["threadpoolctl"] = threadpool_info()
        layer = Conv.build(w, (args.n, args.n), boundary="zero")
        start = time.perf_counter()
        value, _ = layer_top_certified(layer, rtol=args.reference_rtol,
                                       maxiter=20 * args.n, history=history)
        seconds = time.perf_counter() - start
    record["load"].append(os.getloadavg())
    checks = [{"step": s, "estimate": e, "residual": r / e, "error": (value - e) / value}
              for s, e, r in history]
    stop = rule_stop(history, args.rtol)
    reached = next((ch["step"] for ch in checks if abs(ch["error"]) <= args.rtol), None)
    record["history"] = checks
    record["reference"] = {"value": value, "steps": history[-1][0] if history else 0,
                           "seconds": seconds}
    record["rule_stop_step"] = stop
    record["value_within_rtol_step"] = reached
    print(f"n = {args.n}, {c} channels, {args.threads} threads: reference {value!r} after "
          f"{record['reference']['steps']} steps ({seconds:.1f} s)")
    print(f"the rule at rtol {args.rtol:g} stops at step {stop}; the value was within "
          f"rtol from step {reached}")
    print(f"{'step':>6} {'value error':>12} {'residual':>10}")
    for ch in checks[:: max(1, len(checks) // 20)]:
        print(f"{ch['step']:>6} {ch['error']:>12.2e} {ch['residual']:>10.2e}")

    gaps = {}
    for size in args.gaps:
        with threadpool_limits(args.threads):
            start = time.perf_counter()
            top = cb.singular_values(w, (size, size), method="explicit", boundary="zero",
                                     top_k=args.top)
            took = time.perf_counter() - start
        rel = [(float(top[0]) - float(t)) / float(top[0]) for t in top[1:]]
        gaps[str(size)] = {"values": [float(t) for t in top], "relative_gaps": rel,
                           "seconds": took}
        print(f"n = {size}: top {args.top} values {[f'{t:.12f}' for t in top]}, "
              f"relative gaps to the first {[f'{g:.2e}' for g in rel]} ({took:.0f} s)")
    record["gaps"] = gaps
    record["load"].append(os.getloadavg())
    record["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    write_record(args.out_dir, f"history-{record['commit']}", record, ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
