"""The exact zero-padded sigma_max against what a user would write today, interleaved.

Two cells of the zero-padding work, each timed in one run on one machine:

1. A YOLOv8n detector layer (64 x 32 x 3 x 3, stride 2, padding 1, at 80 x 80),
   exact zero-padded ``sigma_max``, one thread: ``cb.singular_values(...,
   method="explicit", boundary="zero", top_k=1)`` against ARPACK
   (``scipy.sparse.linalg.svds``) on a ``LinearOperator`` built from
   ``torch.nn.functional.conv2d`` and its autograd adjoint, at ``tol=1e-10``. The two
   alternate, ``--repeats`` times each; medians and their ratio, and the two values.
2. ``top_k=1`` at n = 256 with 64 channels (3x3, stride 1, padding 1), rtol 1e-9, on
   ``--threads`` threads (default 2), once.

BLAS, OpenMP and torch threads are set explicitly; the BLAS kernel (threadpoolctl),
the commit and the load average are recorded in
``measurements/targets/topk-<commit>.json`` (a new name if taken)::

    python scripts/topk_targets.py [--repeats 3] [--threads 2] [--skip-large]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from provenance import commit, write_record  # noqa: E402

from benchmarks.torch_peer import arpack_sigma_max  # noqa: E402
from benchmarks.zero_padding import ARPACK_TOL, TARGET_CELLS  # noqa: E402

OUT = ROOT / "measurements" / "targets"
#: The detector layer: (cout, cin, k), stride, padding, input size.
_cout, _cin, _n, _stride, _threads = TARGET_CELLS["detector"]  # the suite's cell
DETECTOR = {"cout": _cout, "cin": _cin, "k": 3, "stride": _stride, "padding": 1, "n": _n}


def timed(func: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="threads of the n = 256 cell")
    ap.add_argument("--skip-large", action="store_true", help="only the detector layer")
    ap.add_argument("--out-dir", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        ap.error("--repeats and --threads must be positive")

    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    import convbench as cb

    record: dict[str, Any] = {"commit": commit(ROOT), "node": platform.node(),
                              "cpu_count": os.cpu_count(), "load": [os.getloadavg()]}
    d = DETECTOR
    w = cb.pytorch_default(d["cout"], d["cin"], d["k"], seed=0)
    opts = {"stride": d["stride"], "padding": d["padding"]}
    samples: dict[str, list[float]] = {"convbench": [], "arpack": []}
    values: dict[str, float] = {}
    with threadpool_limits(1):
        torch.set_num_threads(1)
        record["threadpoolctl_one"] = threadpool_info()
        for r in range(args.repeats):
            t, v = timed(lambda: cb.singular_values(
                w, d["n"], method="explicit", boundary="zero", top_k=1, **opts)[0])
            samples["convbench"].append(t)
            values["convbench"] = float(v)
            t, v = timed(lambda: arpack_sigma_max(w, d["n"], d["stride"], d["padding"],
                                                  ARPACK_TOL))
            samples["arpack"].append(t)
            values["arpack"] = v
            print(f"detector {r + 1}/{args.repeats}: convbench {samples['convbench'][-1]:.2f} s, "
                  f"ARPACK on torch {samples['arpack'][-1]:.2f} s", flush=True)
            record["load"].append(os.getloadavg())
    medians = {k: statistics.median(v) for k, v in samples.items()}
    record["detector"] = {
        "layer": d, "threads": 1, "samples": samples, "medians": medians, "values": values,
        "arpack_over_convbench": medians["arpack"] / medians["convbench"],
        "relative_difference": abs(values["convbench"] - values["arpack"]) / values["arpack"],
    }
    print(f"detector: ARPACK / convbench = {record['detector']['arpack_over_convbench']:.2f}x "
          f"(target >= 3); values differ by {record['detector']['relative_difference']:.1e}")
    if not args.skip_large:
        w = cb.pytorch_default(64, 64, 3, seed=0)
        with threadpool_limits(args.threads):
            torch.set_num_threads(args.threads)
            record["threadpoolctl_large"] = threadpool_info()
            t, v = timed(lambda: cb.singular_values(
                w, 256, method="explicit", boundary="zero", top_k=1)[0])
        bound = cb.size_bound(cb.as_layer(w, 256, boundary="zero")).upper
        record["large"] = {"c": 64, "n": 256, "k": 3, "threads": args.threads,
                           "seconds": t, "value": float(v), "size_bound": float(bound)}
        record["load"].append(os.getloadavg())
        print(f"n = 256, 64 channels, {args.threads} threads: {t:.1f} s (target <= 60 s); "
              f"sigma_max {v:.10g} <= bound {bound:.10g}: {v <= bound}")
    record["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    write_record(args.out_dir, f"topk-{record['commit']}", record, ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
