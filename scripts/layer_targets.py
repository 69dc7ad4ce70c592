"""The fast path against lfa on the layers real networks have, and the plain targets
against the library of an earlier commit, timed interleaved in one run.

Every timing runs in a worker process with one thread everywhere (OpenBLAS, OpenMP, MKL
and numba threads 1, ``threads=1``), started with this file's ``--worker`` flag:

* the *current* worker imports the library of this working tree, or with
  ``--current <commit>`` that commit's, exported like the base's;
* the *base* worker (``--base``, default ``93cd84c``, the commit before the layer
  redesign) imports that commit's ``convbench/``, exported once with ``git archive``
  into a cache directory (``~/.cache/convbench/base-<commit>``, or under
  ``$XDG_CACHE_HOME``) and compiled into its own numba cache there.

Within each repeat the cases are run in turn and the sides of a case (lfa and fast;
with ``--base`` also the base library's lfa and fast on the plain layers) in an order
that rotates every repeat. Every sample is timed by the wall clock and by the worker's
CPU time (``time.process_time``: with one thread it is the time the computation ran,
which other work sharing the machine inflates far less); the tables use the CPU time
unless ``--clock wall``. Times are the medians of the repeats; a ratio is the median of
the repeats' own ratios, whose samples were taken seconds apart, so that the drift of a
shared machine (its load average is recorded) cancels out. Every side
delivers the full spectrum sorted descending, the weights are PyTorch's default
initialisation
(:func:`convbench.pytorch_default` for 2-D layers, a seeded uniform of the same scale,
``1/sqrt(fan_in)``, otherwise) and each case's kernels are compiled before any timing.

The first table is the layers (``fast`` against ``lfa``); the second the plain layers of
``make targets`` (``scripts/fast_targets.py``) in both libraries, with whether the two
``fast`` spectra are bit for bit the same. The raw samples, the order they were taken
in, the machine, the commit and the library versions go to
``measurements/targets/layers-<commit>.json`` (an existing file is never overwritten:
``-2``, ``-3``, ... are tried).

Usage::

    python scripts/layer_targets.py                 # both tables, 7 repeats (~12 min)
    python scripts/layer_targets.py --current HEAD  # the last commit, not the working tree
    python scripts/layer_targets.py --no-base       # the layer table only
    python scripts/layer_targets.py --quick         # tiny sizes, a smoke run
    python scripts/layer_targets.py --table-from measurements/targets/layers-<c>.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
ROOT = Path(__file__).resolve().parent.parent
BASE = "93cd84c"
MARK = "@@layer-targets "  # prefix of the workers' replies on stdout

# (name, weight shape (oihw), n, layer arguments, target lfa/fast or None)
LAYERS: list[tuple[str, tuple[int, ...], int, dict[str, Any], float | None]] = [
    ("Conv2d 64->128, 3x3, stride 2", (128, 64, 3, 3), 56, {"stride": 2}, 2.0),
    ("depthwise 7x7, 256 channels", (256, 1, 7, 7), 56, {"groups": 256}, 5.0),
    ("grouped 3x3, 128 channels, groups 32", (128, 4, 3, 3), 28, {"groups": 32}, None),
    ("Conv1d 64->64, k 3, dilation 2", (64, 64, 3), 4096, {"dilation": 2}, None),
    ("Conv3d 16->16, 3x3x3", (16, 16, 3, 3, 3), 16, {}, None),
]
QUICK_N = [8, 8, 4, 32, 4]
# the plain layers of scripts/fast_targets.py (make targets): (channels, n)
PLAIN = [(1, 4096), (4, 1024), (16, 256), (64, 64)]
QUICK_PLAIN = [(1, 32), (4, 16), (16, 8), (64, 4)]
#: The plain ratios lfa/fast may be at most this much below the base commit's.
PLAIN_TOLERANCE = 0.10


# ---------------------------------------------------------------------------------------
# the worker: one library, one thread, commands on stdin


def _weights(cb: Any, shape: list[int], seed: int) -> Any:
    import numpy as np

    if len(shape) == 4:
        return cb.pytorch_default(shape[0], shape[1], tuple(shape[2:]), seed=seed)
    fan_in = int(np.prod(shape[1:]))
    bound = 1.0 / np.sqrt(fan_in)
    return np.random.default_rng(seed).uniform(-bound, bound, tuple(shape))


def worker() -> int:
    """Answer ``{"op": ...}`` lines on stdin with ``MARK + json`` lines on stdout."""
    for var in THREAD_VARS:
        if os.environ.get(var) != "1":
            raise SystemExit(f"worker: {var} must be 1")
    import gc

    import numpy as np

    import convbench as cb

    cases: dict[str, dict[str, Any]] = {}
    held: dict[str, dict[str, np.ndarray]] = {}
    checks: dict[str, dict[str, Any]] = {}

    def run(name: str, method: str, n: int | None = None) -> np.ndarray:
        case = cases[name]
        return cb.singular_values(
            case["w"], case["n"] if n is None else n, method=method, threads=1, **case["kwargs"]
        )

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(MARK + json.dumps(obj) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "hello":
            import numba
            import scipy

            reply({
                "convbench_file": cb.__file__,
                "versions": {
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                    "scipy": scipy.__version__,
                    "numba": numba.__version__,
                },
                "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
            })
        elif op == "case":
            kwargs = dict(cmd["kwargs"])
            if kwargs:  # the layer arguments exist since the redesign only
                kwargs["boundary"] = "periodic"
            cases[cmd["name"]] = {
                "w": _weights(cb, cmd["shape"], cmd["seed"]), "n": cmd["n"], "kwargs": kwargs,
            }
            # compiled kernels loaded (or compiled) outside the timings
            run(cmd["name"], "fast", n=None if cmd["n"] <= 64 else 16 * kwargs.get("stride", 1))
            reply({"ok": True})
        elif op == "time":
            name, method = cmd["name"], cmd["method"]
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            values = run(name, method)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            if name not in checks:
                held.setdefault(name, {})[method] = values
                both = held[name]
                if "lfa" in both and "fast" in both:
                    lfa, fast = both.pop("lfa"), both.pop("fast")
                    ok = lfa.shape == fast.shape and bool(np.all(np.diff(fast) <= 0))
                    checks[name] = {
                        "values": int(fast.size),
                        "sigma_max": float(lfa[0]),
                        "max_dev": float(np.max(np.abs(fast - lfa)) / lfa[0]) if ok else None,
                        "fast_sha256": hashlib.sha256(fast.tobytes()).hexdigest(),
                    }
            del values
            reply({"seconds": seconds, "cpu_seconds": cpu})
        elif op == "checks":
            reply({"checks": checks})
        elif op == "quit":
            return 0
        else:
            raise SystemExit(f"worker: unknown op {op!r}")
    return 0


class Worker:
    """A worker process and its pipe."""

    def __init__(self, label: str, pythonpath: Path, numba_cache: Path | None) -> None:
        env = dict(os.environ)
        for var in THREAD_VARS:
            env[var] = "1"
        env["PYTHONPATH"] = str(pythonpath)
        if numba_cache is not None:
            env["NUMBA_CACHE_DIR"] = str(numba_cache)
        self.label = label
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            cwd=tempfile.gettempdir(),
        )
        self.hello = self.ask({"op": "hello"})
        got = Path(self.hello["convbench_file"]).resolve()
        if not got.is_relative_to(pythonpath.resolve()):
            self.close()
            raise RuntimeError(f"{label} worker imported {got}, not the library under {pythonpath}")

    def ask(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        raise RuntimeError(f"{self.label} worker ended (exit {self.proc.wait()}) during {cmd}")

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except BrokenPipeError:
                pass
        self.proc.wait(timeout=60)


# ---------------------------------------------------------------------------------------
# the base library


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def library(commit: str) -> tuple[str, Path]:
    """The full hash of ``commit`` and a directory holding its ``convbench/`` in ``src``
    (exported once, reused by later runs) and its numba cache in ``numba``."""
    full = _git("rev-parse", "--verify", f"{commit}^{{commit}}")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    where = cache / "convbench" / f"base-{full[:12]}"
    src = where / "src"
    if not (src / "convbench" / "__init__.py").exists():
        src.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", full, "convbench"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return full, where


# ---------------------------------------------------------------------------------------
# the run


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cores": (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                  else os.cpu_count()),
    }
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
        info["simd"] = sorted({f for f in flags.split() if f.startswith(("avx", "fma"))})
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()
        info["memory_gib"] = round(int(mem[1]) / 2**20, 1)
    except OSError:
        pass
    return info


def commit_state() -> dict[str, Any]:
    """This working tree's commit and whether the measured files differ from it."""
    try:
        head = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--", "convbench", "scripts/layer_targets.py"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": dirty}


def free_path(directory: Path, stem: str) -> Path:
    """``directory/stem.json``, or ``stem-2.json``, ``stem-3.json``, ... if it exists."""
    path, i = directory / f"{stem}.json", 2
    while path.exists():
        path, i = directory / f"{stem}-{i}.json", i + 1
    return path


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else 0.5 * (s[mid - 1] + s[mid])


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run every case interleaved and return the raw record."""
    layers = [
        {"name": name, "kind": "layer", "shape": list(shape), "n": quick if args.quick else n,
         "kwargs": kwargs, "target": target, "seed": 0}
        for (name, shape, n, kwargs, target), quick in zip(LAYERS, QUICK_N, strict=True)
    ]
    plain = [
        {"name": f"plain c={c} n={n}", "kind": "plain", "c": c, "shape": [c, c, 3, 3], "n": n,
         "kwargs": {}, "seed": 0}
        for c, n in ([] if args.no_base else QUICK_PLAIN if args.quick else PLAIN)
    ]
    record: dict[str, Any] = {
        "script": "scripts/layer_targets.py",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "repeats": args.repeats,
        "quick": args.quick,
        "clock": args.clock,
        "threads": {var: "1" for var in THREAD_VARS} | {"threads": 1},
        "machine": machine(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        **commit_state(),
        "working_tree": commit_state(),  # where the script ran
        "layers": layers,
        "plain": plain,
        "order": [],
    }
    if args.current:  # a committed library, exported like the base
        full, where = library(args.current)
        record.update(commit=full, dirty=False)
        workers = {"current": Worker("current", where / "src", where / "numba")}
    else:
        workers = {"current": Worker("current", ROOT, None)}
    try:
        record["versions"] = workers["current"].hello["versions"]
        if plain:
            full, where = library(args.base)
            record["base"] = {"commit": full}
            workers["base"] = Worker("base", where / "src", where / "numba")
            record["base"]["versions"] = workers["base"].hello["versions"]
        # (worker, case) pairs and their sides
        cases = [("current", c) for c in layers]
        for c in plain:
            cases += [("current", c), ("base", c)]
        for side, case in cases:
            workers[side].ask({"op": "case", **{k: case[k] for k in ("name", "shape", "n",
                                                                      "kwargs", "seed")}})
        samples: dict[str, dict[str, list[float]]] = {}
        cpu: dict[str, dict[str, list[float]]] = {}
        for r in range(args.repeats):
            for case in [*layers, *plain]:
                sides = [("current", "lfa"), ("current", "fast")]
                if case["kind"] == "plain":
                    sides += [("base", "lfa"), ("base", "fast")]
                shift = r % len(sides)
                for side, method in sides[shift:] + sides[:shift]:
                    got = workers[side].ask({"op": "time", "name": case["name"], "method": method})
                    key = f"{side} {method}"
                    samples.setdefault(case["name"], {}).setdefault(key, []).append(got["seconds"])
                    cpu.setdefault(case["name"], {}).setdefault(key, []).append(got["cpu_seconds"])
                    record["order"].append([case["name"], key])
            print(f"repeat {r + 1}/{args.repeats} done", file=sys.stderr, flush=True)
        checks = {side: w.ask({"op": "checks"})["checks"] for side, w in workers.items()}
        record["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    finally:
        for w in workers.values():
            w.close()
    for case in [*layers, *plain]:
        case["samples_s"] = samples[case["name"]]
        case["samples_cpu_s"] = cpu[case["name"]]
        case["clock"] = args.clock
        case["check"] = checks["current"][case["name"]]
        if case["kind"] == "plain":
            case["base_check"] = checks["base"][case["name"]]
    return record


# ---------------------------------------------------------------------------------------
# the tables


def _times(case: dict[str, Any]) -> dict[str, list[float]]:
    """The samples the tables use: process CPU time (``samples_cpu_s``) where the record
    was made with ``--clock cpu``, else wall time (``samples_s``)."""
    return case["samples_cpu_s"] if case.get("clock") == "cpu" else case["samples_s"]


def _ratios(case: dict[str, Any], side: str) -> list[float]:
    """lfa/fast of each repeat (the two samples were taken seconds apart)."""
    times = _times(case)
    return [a / b for a, b in zip(times[f"{side} lfa"], times[f"{side} fast"], strict=True)]


def _ratio(case: dict[str, Any], side: str) -> float:
    return _median(_ratios(case, side))


def table_lines(record: dict[str, Any]) -> list[str]:
    """The printed tables of a record."""
    m = record["machine"]
    about = ", ".join(str(x) for x in (m.get("cpu"), f"{m.get('cores')} cores",
                                       f"numpy {record['versions']['numpy']}") if x)
    commit = (record.get("commit") or "?")[:8] + (" (uncommitted changes)" if record.get("dirty")
                                                   else "")
    load = record.get("load_average")
    shared = f", load average {load[0]:.1f} at the start" if load else ""
    clock = "CPU" if record.get("clock") == "cpu" else "wall"
    lines = [
        f"# fast against lfa: {about}{shared}, one thread everywhere, times: {clock} seconds, "
        f"medians of {record['repeats']} interleaved repeats, ratios: medians of the repeats' "
        f"ratios, commit {commit}",
        "| layer | n | lfa s | fast s | lfa/fast | target | max dev / sigma_max |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in record["layers"]:
        med = {k: _median(v) for k, v in _times(case).items()}
        target = f">= {case['target']:g}x" if case["target"] else "-"
        dev = case["check"]["max_dev"]
        lines.append(
            f"| {case['name']} | {case['n']} | {med['current lfa']:.4f} | "
            f"{med['current fast']:.4f} | {_ratio(case, 'current'):.1f}x | {target} | "
            + (f"{dev:.1e} |" if dev is not None else "shapes or order differ |")
        )
    if record["plain"]:
        base = record["base"]["commit"][:8]
        lines += [
            "",
            f"# plain layers (make targets) against {base}, in the same run (now / {base}: "
            "medians of the repeats' quotients)",
            f"| c | n | lfa s ({base}) | fast s ({base}) | lfa/fast ({base}) | lfa s | fast s "
            f"| lfa/fast | lfa/fast now / {base} | target | fast s now / {base} "
            f"| lfa s now / {base} | fast values as {base} | max dev / sigma_max |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for case in record["plain"]:
            med = {k: _median(v) for k, v in _times(case).items()}
            now, before = _ratio(case, "current"), _ratio(case, "base")
            times = _times(case)
            change = _median([a / b for a, b in zip(_ratios(case, "current"),
                                                    _ratios(case, "base"), strict=True)])
            fast, lfa = (
                _median([a / b for a, b in zip(times[f"current {m}"], times[f"base {m}"],
                                               strict=True)])
                for m in ("fast", "lfa")
            )
            same = case["check"]["fast_sha256"] == case["base_check"]["fast_sha256"]
            dev = case["check"]["max_dev"]
            lines.append(
                f"| {case['c']} | {case['n']} | {med['base lfa']:.3f} | {med['base fast']:.3f} "
                f"| {before:.1f}x | {med['current lfa']:.3f} | {med['current fast']:.3f} | "
                f"{now:.1f}x | {change:.2f} | >= {1 - PLAIN_TOLERANCE:.2f} | {fast:.2f} | "
                f"{lfa:.2f} | {'bit for bit' if same else 'differ'} | "
                + (f"{dev:.1e} |" if dev is not None else "shapes or order differ |")
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="the time the tables use: the worker's CPU time (default) or the "
                         "wall clock; both are recorded")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    ap.add_argument("--base", default=BASE, help=f"commit to compare with (default {BASE})")
    ap.add_argument("--no-base", action="store_true", help="skip the plain-layer comparison")
    ap.add_argument("--current", metavar="COMMIT",
                    help="measure this commit's library instead of the working tree's "
                         "(exported like the base: other uncommitted work stays out)")
    ap.add_argument("--out-dir", default=str(ROOT / "measurements" / "targets"),
                    help="where the JSON record goes")
    ap.add_argument("--table-from", metavar="JSON", help="print the tables of a stored record")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker()
    if args.table_from:
        print("\n".join(table_lines(json.loads(Path(args.table_from).read_text()))))
        return 0
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    record = measure(args)
    print("\n".join(table_lines(record)), flush=True)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "layers-" + ((record.get("commit") or "unknown")[:8]
                        + ("-dirty" if record.get("dirty") else ""))
    path = free_path(out_dir, stem)
    with open(path, "x") as fh:  # never overwrite
        json.dump(record, fh, indent=1)
    print(f"raw samples written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
