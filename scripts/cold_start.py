"""Cold start of the fast path: the first call in a fresh process against a later call.

Each of ``--processes`` fresh Python processes imports convbench, makes the weights
(PyTorch-default 3x3, seed 0), then times ``convbench.singular_values(w, n,
method="fast")`` once (the first call) and ``--later`` more times. The first call pays
what a process pays once: numba loading the compiled kernels from its cache (and
initialising its own typing and target context), the sort choice
(:func:`convbench.ordering.sort_method`, read from disk once measured), the first touches
of fresh memory. The report gives, over the processes, the median first call, the
median of the later calls and the median of the per-process differences, with the
machine's load average before and after.

BLAS, OpenMP and MKL threads are 1 in the children; the fast path's own pool has
``--threads`` workers (default: its default, every core).

Usage::

    python scripts/cold_start.py                    # 9 processes, c = 16, n = 64
    python scripts/cold_start.py --processes 15 --json cold.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

#: Environment of every child: one BLAS/OpenMP thread, as in the other target scripts.
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def child(c: int, n: int, later: int, threads: int | None) -> dict:
    """Run inside the fresh process: import, first call, later calls (seconds)."""
    t0 = time.perf_counter()
    import convbench as cb

    imported = time.perf_counter() - t0
    w = cb.pytorch_default(c, c, 3, seed=0)
    times = []
    for _ in range(1 + later):
        start = time.perf_counter()
        cb.singular_values(w, n, method="fast", threads=threads)
        times.append(time.perf_counter() - start)
    return {"import_s": imported, "first_s": times[0], "later_s": times[1:]}


def measure(processes: int = 9, c: int = 16, n: int = 64, later: int = 5,
            threads: int | None = None) -> dict:
    """Run ``processes`` fresh children one after the other; their raw numbers and medians.

    Returns
    -------
    dict
        ``runs`` (one :func:`child` result per process), ``first_s``, ``later_s`` (the
        medians over processes of the first call and of each process's later-call
        median), ``extra_s`` (median over processes of first minus later), ``loadavg``
        before and after, and the parameters.
    """
    if processes < 1 or later < 1:
        raise ValueError("processes and later must be at least 1")
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--channels", str(c),
           "--n", str(n), "--later", str(later)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    env = {**os.environ, **CHILD_ENV}
    load_before = os.getloadavg()
    runs = []
    for _ in range(processes):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    load_after = os.getloadavg()
    later_medians = [statistics.median(r["later_s"]) for r in runs]
    return {
        "c": c, "n": n, "threads": threads, "processes": processes, "later": later,
        "runs": runs,
        "first_s": statistics.median(r["first_s"] for r in runs),
        "later_s": statistics.median(later_medians),
        "extra_s": statistics.median(r["first_s"] - m for r, m in zip(runs, later_medians,
                                                                     strict=True)),
        "import_s": statistics.median(r["import_s"] for r in runs),
        "loadavg": [list(load_before), list(load_after)],
    }


def report_line(res: dict) -> str:
    """One line: the medians and the load."""
    load = res["loadavg"]
    return (f"cold start c={res['c']} n={res['n']}: first call {res['first_s']:.3f} s, "
            f"later {res['later_s']:.3f} s, first - later {res['extra_s']:.3f} s "
            f"(median of {res['processes']} fresh processes; import "
            f"{res['import_s']:.2f} s; load {load[0][0]:.2f} -> {load[1][0]:.2f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=9)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--later", type=int, default=5, help="later calls per process")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", metavar="PATH", help="also write the raw numbers (a new file)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.channels, args.n, args.later, args.threads)))
        return 0
    if args.json and os.path.exists(args.json):
        raise OSError(f"--json {args.json!r} exists; choose a new name")
    res = measure(args.processes, args.channels, args.n, args.later, args.threads)
    print(report_line(res))
    if args.json:
        with open(args.json, "x") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
