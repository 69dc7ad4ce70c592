"""The load benchmark outside asv: each workload quiet and beside two busy processes.

Runs :func:`benchmarks.load.measure` (the workloads of ``benchmarks/load.py``: YOLOv8n's
convolutions through ``layer_records``, the ``fast`` path at 64 channels, ``summarize``
at n = 8192, c = 4), with the library's default settings and no thread variables set,
and writes every sample, the ratios, the load average, the BLAS libraries and their
thread counts (threadpoolctl) and the versions to
``measurements/load/load-<commit>.json``; an existing file is never replaced (``-2``,
``-3``, ... are tried). The table is printed as Markdown.

The library measured is the one Python imports, or with ``--library DIR`` the
``convbench`` package of another checkout, with this checkout's workloads; the file
records which one ran (``library``)::

    python scripts/load_ratios.py
    git worktree add /tmp/old e06de2f
    python scripts/load_ratios.py --library /tmp/old --quiet-only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from provenance import commit, new_path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "measurements" / "load"
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "OMP_WAIT_POLICY")


def table(record: dict[str, Any]) -> str:
    """Markdown: per workload, the median quiet and loaded times and their ratio."""
    lines = [
        f"library {record['library']['commit']}, {record['cpu_count']} cores, sizes "
        f"{record.get('sizes')}, "
        f"{record['rounds']} rounds, {record['busy']} busy processes, target "
        f"<= {record['target']:g}x",
        "",
        "| workload | quiet (s) | loaded (s) | loaded / quiet |",
        "|---|---|---|---|",
    ]
    for name, samples in record["samples"].items():
        quiet = statistics.median(samples["quiet"])
        if not samples["loaded"]:
            lines.append(f"| {name} | {quiet:.2f} | (not measured) | |")
            continue
        loaded = statistics.median(samples["loaded"])
        lines.append(f"| {name} | {quiet:.2f} | {loaded:.2f} | {loaded / quiet:.2f}x |")
    return "\n".join(lines)


def _import_library(argv: list[str]) -> None:
    """Import ``convbench`` from ``--library DIR`` if given, then put this checkout's
    suite first on the path (its ``benchmarks`` package, not the other checkout's)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--library", type=Path)
    known, _ = pre.parse_known_args(argv)
    if known.library is not None:
        library = known.library.resolve()
        if not (library / "convbench" / "__init__.py").is_file():
            raise SystemExit(f"--library: no convbench package in {library}")
        loaded = sys.modules.get("convbench")
        if loaded is not None and not Path(loaded.__file__).resolve().is_relative_to(library):
            raise SystemExit(f"--library: convbench is already imported from {loaded.__file__}")
        sys.path.insert(0, str(library))
        import convbench  # noqa: F401 - from the given checkout, kept in sys.modules

        sys.path.remove(str(library))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    _import_library(argv)
    from benchmarks import load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=load.ROUNDS,
                        help=f"quiet and loaded samples of each workload (default "
                        f"{load.ROUNDS})")
    parser.add_argument("--workloads", default=",".join(load.WORKLOADS),
                        help="comma-separated subset of " + ", ".join(load.WORKLOADS))
    parser.add_argument("--sizes", default=",".join(map(str, load.REPORTED_SIZES)),
                        help="fast n, summarize n, model input (default: the sizes first "
                        "reported, %(default)s; the asv benchmark runs "
                        + ",".join(map(str, load.SIZES)) + ")")
    parser.add_argument("--library", type=Path, metavar="DIR",
                        help="measure the convbench package of this checkout (default: the "
                        "one Python imports)")
    parser.add_argument("--quiet-only", action="store_true",
                        help="the quiet samples only (a base commit's quiet times)")
    parser.add_argument("--table-from", type=Path, metavar="JSON",
                        help="print the table of a stored file and stop")
    args = parser.parse_args(argv)
    if args.table_from is not None:
        print(table(json.loads(args.table_from.read_text())))
        return 0
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1; got {args.rounds}")
    workloads = tuple(w.strip() for w in args.workloads.split(",") if w.strip())
    unknown = set(workloads) - set(load.WORKLOADS)
    if not workloads or unknown:
        parser.error(f"--workloads must list some of {', '.join(load.WORKLOADS)}; "
                     f"got {args.workloads!r}")
    try:
        sizes = tuple(int(v) for v in args.sizes.split(","))
    except ValueError:
        sizes = ()
    if len(sizes) != 3 or min(sizes) < 1:
        parser.error(f"--sizes must be three positive integers; got {args.sizes!r}")
    set_vars = {v: os.environ[v] for v in THREAD_VARS if v in os.environ}
    if set_vars:
        print(f"note: thread variables set, the defaults are not what is measured: "
              f"{set_vars}", file=sys.stderr)

    import numpy as np
    from threadpoolctl import threadpool_info

    import convbench

    library = Path(convbench.__file__).resolve().parent.parent
    samples = load.measure(workloads, args.rounds, sizes,
                           report=lambda s: print(s, flush=True), loaded=not args.quiet_only)
    record = {
        "library": {"path": str(library), "commit": commit(library)},
        "suite": commit(ROOT),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "thread_variables": set_vars,
        "threadpools": [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                   "architecture")}
            for p in threadpool_info()
        ],
        "sizes": dict(zip(("fast_n", "summarize_n", "model_input"), sizes, strict=True)),
        "rounds": args.rounds,
        "busy": load.BUSY,
        "target": load.TARGET,
        "samples": samples,
        "ratios": {name: load.ratio(s) for name, s in samples.items() if s["loaded"]},
    }
    path = new_path(OUT, f"load-{record['library']['commit'].replace('+', '-')}")
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(table(record))
    print(f"wrote {os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
