"""Whole models at two commits, interleaved: is the newer one slower?

Two workloads, each in a fresh process per commit and repeat, alternating the commits
(old, new, new, old, ...) so that drift in the machine's load hits both alike:

``resnet50``
    :func:`convbench.model_spectra` on ResNet-50 at 224 x 224 (``architectures.py``,
    PyTorch's default initialisation from seed 0), end to end, with each commit's
    defaults: what a user of that commit gets.
``yolov8n``
    the 63 convolutions of a YOLOv8n detector at 320 x 320 as a conv table
    (:func:`benchmarks.networks.yolov8n`, seeded PyTorch-default weights), through
    :func:`convbench.models.compute.layer_records`, what ``model_spectra`` runs on a
    model's convolutions (zero boundary: bounds and the exact ``sigma_max``), with
    each commit's defaults.
``n256``
    the zero-padding target cell: the exact ``sigma_max`` (``top_k=1``, rtol 1e-9) of
    a 64-channel 3x3 layer at 256 x 256 (``cb.pytorch_default(64, 64, 3, seed=0)``, as
    ``topk_targets.py``), on two BLAS threads.

Each commit is a source tree (a ``git worktree``) put first on ``sys.path``; the
script's own ``architectures.py`` and ``benchmarks`` build the workloads, the same for
both. Writes ``measurements/targets/models-ab-<new commit>.json`` (a new name if it
exists) with the medians, their ratio and the 1-minute load around each run::

    python scripts/model_ab.py OLD_TREE NEW_TREE [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provenance import write_record  # noqa: E402

OUT = ROOT / "measurements" / "targets"
WORKLOADS = ("resnet50", "yolov8n", "n256")

# one process, one workload, one commit: prints the seconds and a checksum of the values
CHILD = r"""
import os, sys, time, json
tree, workload, root = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, tree)
import numpy as np
import convbench as cb  # the commit's library, imported first
assert cb.__file__.startswith(tree), cb.__file__
sys.path[:0] = [root, os.path.join(root, "scripts")]  # this script's workloads
if workload == "resnet50":
    import architectures
    module = architectures.build("resnet50", seed=0)
    start = time.perf_counter()
    report = cb.model_spectra(module, (1, 3, 224, 224))
    seconds = time.perf_counter() - start
    check = float(np.prod([r.sigma_max for r in report.layers]) ** (1 / len(report.layers)))
elif workload == "n256":
    from threadpoolctl import threadpool_limits
    w = cb.pytorch_default(64, 64, 3, seed=0)
    with threadpool_limits(2):
        start = time.perf_counter()
        check = float(cb.singular_values(w, 256, method="explicit", boundary="zero",
                                         top_k=1)[0])
        seconds = time.perf_counter() - start
else:
    from benchmarks.networks import yolov8n
    from convbench.models.compute import layer_records
    from convbench.models.spec import LayerSpec
    specs = [LayerSpec(name=f"conv{i}", op="Conv", weight=l.weight(i), stride=(l.stride,) * 2,
                       dilation=(1, 1), groups=l.groups, padding=((l.padding,) * 2,) * 2,
                       output_padding=(0, 0), transposed=False, input_size=(l.size, l.size))
             for i, l in enumerate(yolov8n(320))]
    start = time.perf_counter()
    records = layer_records(specs)
    seconds = time.perf_counter() - start
    check = float(np.sum([r.sigma_max for r in records]))
print(json.dumps({"seconds": seconds, "check": check}))
"""


def run(tree: Path, workload: str) -> dict[str, Any]:
    """One timed workload in a fresh process; the load before and after."""
    before = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), workload, str(ROOT)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        raise SystemExit(f"{workload} at {tree} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**out, "load": [before, os.getloadavg()[0]]}


def head(tree: Path) -> str:
    return subprocess.run(["git", "-C", str(tree), "rev-parse", "--short=8", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path, help="source tree of the older commit")
    ap.add_argument("new", type=Path, help="source tree of the newer commit")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workloads", nargs="+", choices=WORKLOADS,
                    default=["resnet50", "yolov8n"])
    ap.add_argument("--out-dir", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    commits = {k: head(v) for k, v in trees.items()}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        w: {"old": [], "new": []} for w in args.workloads}
    for r in range(args.repeats):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for workload in args.workloads:
            for side in order:
                got = run(trees[side], workload)
                runs[workload][side].append(got)
                print(f"{workload} {r + 1}/{args.repeats} {side} ({commits[side]}): "
                      f"{got['seconds']:.1f} s, load {got['load'][0]:.2f}", flush=True)
    summary = {}
    for workload, sides in runs.items():
        med = {s: statistics.median(x["seconds"] for x in v) for s, v in sides.items()}
        checks = {s: v[0]["check"] for s, v in sides.items()}
        summary[workload] = {"median_seconds": med, "new_over_old": med["new"] / med["old"],
                             "check": checks}
        print(f"{workload}: {commits['old']} {med['old']:.1f} s, {commits['new']} "
              f"{med['new']:.1f} s, new / old = {med['new'] / med['old']:.2f}x; "
              f"values {checks['old']:.12g} / {checks['new']:.12g}")
    record = {"commits": commits, "node": platform.node(), "cpu_count": os.cpu_count(),
              "repeats": args.repeats, "runs": runs, "summary": summary}
    write_record(args.out_dir, f"models-ab-{commits['new']}", record, ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
