"""summarize on a dask cluster against the same call on this machine, in one run.

The cluster is a :class:`dask.distributed.LocalCluster` of single-threaded worker
processes, standing in for machines: one with ``--workers`` (default ``1,2``) workers
each, all started before any timing. The local side is ``summarize(threads=T)`` with T
the largest worker count, in this process. Each repeat times every side once, in an
order that rotates with the repeat (local, 2 workers, 1 worker, then 2 workers, 1
worker, local, ...), after one untimed warm-up run of each (numba's compiled kernels
loaded, the layer's code paths taken). Times are wall-clock seconds of the call
(cluster start-up excluded), reported as medians; a ratio is the median of the
repeats' own ratios to the local run. Every sample is also timed in CPU seconds of the
whole process tree (this process with the scheduler and the client, the nannies, the
workers): on a machine others share, the wall clock measures the share of the CPU the
run was given, the CPU time the work it did. The load average is recorded before and
after every sample.

Every cluster result is compared with the local one: ``count``, ``sigma_max``,
``sigma_min``, the Frobenius norm, the histogram counts and edges and the exact
quantiles, bit for bit.

What travels: the layer sent once to every worker (its pickle), and, in a separate
untimed run with a worker plugin, the pickled size of every task's result and request
(what the workers send back and receive, per pass).

BLAS, OpenMP and MKL run one thread everywhere; numba's pool has T threads (the
library's own pool supplies the parallelism). The JSON (samples in the order taken,
sizes, machine, load, versions, commit) goes to
``measurements/distributed/summarize-n<N>-c<C>-<commit>.json``, never over an
existing file (``-2``, ``-3``, ... are tried); the table is printed as Markdown.

Usage::

    python scripts/distributed_scaling.py                 # n = 8192, c = 4, 3 repeats
    python scripts/distributed_scaling.py --quick         # n = 512, a smoke run
    python scripts/distributed_scaling.py --table-from measurements/distributed/<f>.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from provenance import commit, new_path

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "measurements" / "distributed"
FIELDS = ("count", "sigma_max", "sigma_min", "frobenius", "histogram", "bin_edges",
          "quantile_values", "passes")
#: No dashboard, and the scheduler's HTTP routes on a free port (8787 may be taken).
NO_HTTP_PORT = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
#: The target: the cluster of as many single-threaded workers as the local run's
#: threads takes at most this multiple of the local run's time.
TARGET = 1.3


def _tree_cpu() -> float:
    """CPU seconds (user + system) of this process and every process under it: the
    workers, their nannies and, in this process, the scheduler and the client."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:  # pragma: no cover - a process that just ended
            continue
        total += times.user + times.system
    return total


def _same(a: Any, b: Any) -> dict[str, bool]:
    import numpy as np

    return {f: bool(np.array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f))))
            for f in FIELDS}


class _Sizes:
    """Worker plugin: the pickled size of each summarize task's request and result."""

    def __init__(self) -> None:
        self.sizes: list[dict[str, Any]] = []

    def setup(self, worker: Any) -> None:
        self.worker = worker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        import pickle

        key = str(key)
        if not key.startswith("convbench-summarize") or finish != "memory":
            return
        ts = self.worker.state.tasks.get(key)
        request = len(pickle.dumps(ts.run_spec, protocol=5)) if ts is not None else None
        result = len(pickle.dumps(self.worker.data[key], protocol=5))
        self.sizes.append({"key": key, "request": request, "result": result})


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    from dask.distributed import Client, LocalCluster, WorkerPlugin

    import convbench as cb

    workers = sorted(args.workers)
    local_threads = max(workers)
    weight = np.random.default_rng(0).standard_normal((args.c, args.c, 3, 3))
    shape = (args.n, args.n)
    layer = cb.as_layer(weight, shape, boundary="periodic")
    clusters, clients = {}, {}
    for w in workers:
        clusters[w] = LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR,
                                   scheduler_kwargs=NO_HTTP_PORT)
        clients[w] = Client(clusters[w])
    try:
        # warm-up: every side once, untimed, at an eighth of the size (the same code)
        small = (max(8, args.n // 8),) * 2
        cb.summarize(weight, small, threads=local_threads, progress=False)
        for w in workers:
            cb.summarize(weight, small, progress=False, client=clients[w])
        warm: Any = None
        sides = ["local", *(f"workers={w}" for w in reversed(workers))]
        samples: list[dict[str, Any]] = []
        results: list[tuple[str, Any]] = []
        for rep in range(args.repeats):
            order = sides[rep % len(sides):] + sides[:rep % len(sides)]
            for side in order:
                load = os.getloadavg()
                cpu0 = _tree_cpu()
                start = time.perf_counter()
                if side == "local":
                    s = cb.summarize(layer, shape, threads=local_threads, progress=False)
                else:
                    s = cb.summarize(layer, shape, progress=False,
                                     client=clients[int(side.split("=")[1])])
                seconds = time.perf_counter() - start
                cpu = _tree_cpu() - cpu0
                samples.append({"repeat": rep, "side": side, "seconds": seconds,
                                "cpu_seconds": cpu, "passes": s.passes,
                                "load_before": load, "load_after": os.getloadavg()})
                if side == "local" and warm is None:
                    warm = s
                results.append((f"{side} #{rep}", s))
                print(f"repeat {rep} {side:>10}: {seconds:7.2f} s wall, {cpu:7.2f} s CPU, "
                      f"load {load[0]:.2f}", flush=True)
        identical = {label: _same(warm, s) for label, s in results}
        # what travels (untimed): per-task request and result sizes, per pass
        big = clients[max(workers)]
        plugin = type("SizePlugin", (_Sizes, WorkerPlugin), {})()
        big.register_plugin(plugin, name="convbench-sizes")
        cb.summarize(layer, shape, progress=False, client=big)
        got = big.run(lambda dask_worker: dask_worker.plugins["convbench-sizes"].sizes)
        big.unregister_worker_plugin("convbench-sizes")
        tasks = [t for per in got.values() for t in per]
    finally:
        for w in workers:
            clients[w].close()
            clusters[w].close()
    import pickle

    return {
        "samples": samples,
        "identical": identical,
        "tasks": tasks,
        "layer_bytes": len(pickle.dumps(layer, protocol=5)),
        "values": int(layer.n_values),
        "spectrum_bytes": int(layer.n_values) * 8,
    }


def _stats(record: dict[str, Any], key: str) -> dict[str, Any]:
    """Medians of ``key`` (``seconds`` or ``cpu_seconds``) per side, and the medians of
    each repeat's own ratio to the local sample."""
    samples = record["samples"]
    sides = sorted({s["side"] for s in samples}, key=lambda s: (s != "local", s))
    median = {side: statistics.median(s[key] for s in samples if s["side"] == side)
              for side in sides}
    ratios = {}
    for side in sides:
        per = []
        for rep in sorted({s["repeat"] for s in samples}):
            mine = [s[key] for s in samples if s["repeat"] == rep and s["side"] == side]
            base = [s[key] for s in samples if s["repeat"] == rep and s["side"] == "local"]
            if mine and base:
                per.append(mine[0] / base[0])
        ratios[side] = statistics.median(per)
    return {"median": median, "ratio": ratios}


def _table(record: dict[str, Any]) -> str:
    wall, cpu = _stats(record, "seconds"), _stats(record, "cpu_seconds")
    meta = record["meta"]
    t = meta["local_threads"]
    lines = [
        f"summarize, n = {meta['n']}, {meta['c']} channels, 3x3, exact "
        f"({record['values']:,} singular values); {meta['repeats']} interleaved repeats, "
        f"commit {meta['commit']}, {meta['cpus']} CPUs, load average "
        f"{meta['load_min']:.2f} to {meta['load_max']:.2f}",
        "",
        "| run | wall s (median) | / local | CPU s (median) | / local |",
        "|---|---:|---:|---:|---:|",
    ]
    for side, sec in wall["median"].items():
        label = (f"this machine, {t} threads" if side == "local" else
                 f"LocalCluster, {side.split('=')[1]} single-threaded worker(s)")
        lines.append(f"| {label} | {sec:.1f} | {wall['ratio'][side]:.2f} | "
                     f"{cpu['median'][side]:.1f} | {cpu['ratio'][side]:.2f} |")
    same = all(all(v.values()) for v in record["identical"].values())
    tasks = record["tasks"]
    lines += ["", f"identical to the local result (count, extremes, Frobenius, histogram, "
                  f"quantiles, bit for bit), every sample: {'yes' if same else 'NO'}"]
    if tasks:
        results = [t["result"] for t in tasks]
        requests = [t["request"] for t in tasks if t["request"] is not None]
        lines.append(
            f"sent once to each worker: the layer, {record['layer_bytes']:,} bytes; "
            f"{len(tasks)} tasks, results {min(results):,} to {max(results):,} bytes "
            f"(total {sum(results):,}), requests up to {max(requests or [0]):,} bytes; "
            f"the spectrum would be {record['spectrum_bytes']:,} bytes"
        )
    target = f"workers={t}"
    if target in wall["ratio"]:
        for what, st in (("wall", wall), ("CPU", cpu)):
            ok = st["ratio"][target] <= TARGET
            lines.append(f"target: {t} workers <= {TARGET}x the local {t}-thread run "
                         f"({what}): {st['ratio'][target]:.2f}x, {'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=8192, help="input size n x n")
    parser.add_argument("--c", type=int, default=4, help="channels in and out")
    parser.add_argument("--workers", type=lambda s: [int(v) for v in s.split(",")],
                        default=[1, 2], help="worker counts of the clusters, e.g. 1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="n = 512, 2 repeats")
    parser.add_argument("--table-from", type=Path, help="print the table of a saved run")
    args = parser.parse_args(argv)
    if args.table_from is not None:
        print(_table(json.loads(args.table_from.read_text())))
        return 0
    if args.quick:
        args.n, args.repeats = 512, 2
    if args.n < 8 or args.c < 1 or args.repeats < 1 or min(args.workers) < 1:
        parser.error("--n >= 8, --c >= 1, --repeats >= 1 and workers >= 1")
    local_threads = max(args.workers)
    for var in THREAD_VARS:
        os.environ[var] = "1"
    os.environ["NUMBA_NUM_THREADS"] = str(local_threads)
    stamp = commit(ROOT)
    path = new_path(OUT, f"summarize-n{args.n}-c{args.c}-{stamp.replace('+', '-')}")
    load0 = os.getloadavg()
    record = _measure(args)
    loads = [v for s in record["samples"] for v in (s["load_before"][0], s["load_after"][0])]
    import dask
    import numba
    import numpy

    record["meta"] = {
        "n": args.n, "c": args.c, "repeats": args.repeats, "workers": sorted(args.workers),
        "local_threads": local_threads, "commit": stamp, "cpus": os.cpu_count(),
        "machine": platform.node(), "platform": platform.platform(),
        "python": platform.python_version(), "numpy": numpy.__version__,
        "numba": numba.__version__, "dask": dask.__version__,
        "threads_env": {v: os.environ[v] for v in (*THREAD_VARS, "NUMBA_NUM_THREADS")},
        "load_at_start": load0, "load_min": min(loads), "load_max": max(loads),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(_table(record))
    print(f"saved {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
