"""Measure the fast path against lfa and fft at the target sizes and print the table.

BLAS, OpenMP and FFT threads are pinned to 1 for every side before numpy is imported.
Each case times ``lfa`` (the paper's path: symbol by two contractions over the full grid,
numpy's batched SVD, sort), ``fft`` and ``fast`` with ``threads=1`` and with all cores,
interleaved (the order rotates every repeat), and reports medians. Every side delivers
the full spectrum sorted descending. ``summarize`` is run in a fresh subprocess so that
its peak resident memory (``VmHWM``) is its own.

The wide-channel table follows, for the widths of real networks (64 channels at n = 56
down to 512 at n = 7, 3x3 PyTorch-default weights, one thread each): ``fast``, ``lfa``
and the suite's torch peer (:mod:`benchmarks.torch_peer`: ``torch.fft.fft2`` of the
padded kernel, ``torch.linalg.svdvals``, sorted; ``torch.set_num_threads(1)``),
interleaved, with ``fast`` on two threads against one, every value of ``fast`` and
torch checked within 1e-8 sigma_max of ``lfa``; beside them the LAPACK floor, the
half plane's blocks factorized by LAPACK alone (the cheaper of their SVDs and their
``zherk`` plus Hermitian eigenvalues, uncertified, without transform or ordering), and
``lfa`` over that floor: the most that any path factorizing each half-plane block with
this LAPACK can gain over ``lfa``. Then the cold-start row
(``scripts/cold_start.py``: a fresh process's first call minus a later call, c = 16,
n = 64). The load average is recorded before and after each table.

Usage::

    python scripts/fast_targets.py                 # the tables (several minutes)
    python scripts/fast_targets.py --only wide     # the wide-channel table alone
    python scripts/fast_targets.py --quick         # smaller sizes, a smoke run
    python scripts/fast_targets.py --summarize-only 16384   # one streamed run, its time and RSS
    make targets                                            # the table, raw numbers kept
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import cold_start  # noqa: E402

import convbench as cb  # noqa: E402
from convbench.blas import default_threads  # noqa: E402
from convbench.fast.factor import gram_products  # noqa: E402

# (channels, n, target speed-up over lfa and fft)
CASES = [(1, 4096, 30.0), (4, 1024, 4.0), (16, 256, 2.5), (64, 64, 2.0)]
QUICK = [(1, 512, 30.0), (4, 128, 4.0), (16, 32, 2.5), (64, 8, 2.0)]
# the wide-channel table: (channels, n, target fast vs lfa, target fast vs torch)
WIDE_CASES = [(64, 56, 3.0, 4.0), (128, 28, 3.0, 4.0), (256, 14, 2.5, 3.0), (512, 7, 2.0, 3.0)]
WIDE_QUICK = [(64, 8, 3.0, 4.0), (128, 4, 3.0, 4.0)]
#: target of fast on two threads against one, on the wide cells
WIDE_THREADS_TARGET = 1.7
#: target of a fresh process's first call minus a later call (s), c = 16, n = 64
COLD_START_TARGET = 0.05
#: largest deviation of any value from lfa's, relative to sigma_max
WIDE_TOLERANCE = 1e-8


def _time(fn) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _interleaved(sides: dict, repeats: int) -> tuple[dict[str, list[float]], dict]:
    """Every side ``repeats`` times, the order rotated each repeat; the times and each
    side's last result."""
    names = list(sides)
    times: dict[str, list[float]] = {k: [] for k in names}
    results: dict[str, np.ndarray] = {}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            dt, out = _time(sides[name])
            times[name].append(dt)
            results[name] = out
            del out
    return times, results


def run_case(c: int, n: int, repeats: int, cores: int) -> dict:
    w = cb.pytorch_default(c, c, 3, seed=0)
    cb.singular_values(w, 8, method="fast", threads=1)  # compile once, outside the timing
    sides = {
        "lfa": lambda: cb.singular_values(w, n, method="lfa"),
        "fft": lambda: cb.singular_values(w, n, method="fft"),
        "fast1": lambda: cb.singular_values(w, n, method="fast", threads=1),
        "fastN": lambda: cb.singular_values(w, n, method="fast", threads=cores),
    }
    times, results = _interleaved(sides, repeats)
    med = {k: float(np.median(v)) for k, v in times.items()}
    smax = results["lfa"][0]
    dev_lfa = float(np.max(np.abs(results["fast1"] - results["lfa"])) / smax)
    dev_fft = float(np.max(np.abs(results["fast1"] - results["fft"])) / smax)
    same = bool(np.array_equal(results["fast1"], results["fastN"]))
    return {
        "c": c, "n": n, "median_s": med, "times_s": times,
        "dev_vs_lfa": dev_lfa, "dev_vs_fft": dev_fft, "threads_identical": same,
    }


def run_wide_case(c: int, n: int, repeats: int) -> dict:
    """One cell of the wide-channel table: fast (1 and 2 threads), lfa, torch, and the
    LAPACK floor of the half plane's blocks (their SVDs; their Gram eigenvalues),
    interleaved."""
    from benchmarks.torch_peer import TorchPeer

    w = cb.pytorch_default(c, c, 3, seed=0)
    cb.singular_values(w, 8, method="fast", threads=1)  # compile once, outside the timing
    cb.singular_values(w, 8, method="lfa")
    peer = TorchPeer(w, n, "torch", threads=1)
    TorchPeer(w, 8, "torch", threads=1).singular_values()  # torch's LAPACK, untimed
    # the LAPACK floor: the half plane's blocks, factorized by LAPACK alone (the SVD,
    # and zherk with the Hermitian eigenvalues, uncertified), no transform, no ordering
    half = np.concatenate([b for b, _ in cb.fast.half_plane_symbol(w, n).chunks])
    sides = {
        "fast1": lambda: cb.singular_values(w, n, method="fast", threads=1),
        "fast2": lambda: cb.singular_values(w, n, method="fast", threads=2),
        "lfa": lambda: cb.singular_values(w, n, method="lfa"),
        "torch": peer.singular_values,
        "half_svd": lambda: np.linalg.svd(half, compute_uv=False),
        "half_eig": lambda: np.linalg.eigvalsh(gram_products(half), UPLO="U"),
    }
    try:
        times, results = _interleaved(sides, repeats)
    finally:
        peer.restore()
    smax = results["lfa"][0]
    dev = {k: float(np.max(np.abs(results[k] - results["lfa"])) / smax)
           for k in ("fast1", "fast2", "torch")}
    return {"c": c, "n": n, "median_s": {k: float(np.median(v)) for k, v in times.items()},
            "times_s": times, "dev_vs_lfa": dev, "torch_threads": peer.threads}


def wide_table(repeats: int, quick: bool, cold_processes: int) -> dict:
    """Measure the wide-channel table and the cold-start row, printing each row."""
    import torch

    load = [list(os.getloadavg())]
    out: dict = {"repeats": repeats, "cases": [], "torch": torch.__version__,
                 "tolerance": WIDE_TOLERANCE}
    print("\n".join(wide_lines({**out, "loadavg": load})), flush=True)
    for c, n, lfa_target, torch_target in WIDE_QUICK if quick else WIDE_CASES:
        res = run_wide_case(c, n, repeats)
        res["target_lfa"], res["target_torch"] = lfa_target, torch_target
        out["cases"].append(res)
        print(wide_line(res), flush=True)
    cold = cold_start.measure(processes=cold_processes, c=4 if quick else 16,
                              n=16 if quick else 64, later=5)
    out["cold_start"] = cold
    load.append(list(os.getloadavg()))
    out["loadavg"] = load
    print(cold_line(cold), flush=True)
    return out


def wide_lines(wide: dict) -> list[str]:
    """The wide-channel table of a run (its header alone while there are no cases)."""
    load = wide.get("loadavg") or []
    loads = " -> ".join(f"{x[0]:.2f}" for x in load)
    lines = [
        f"# wide channels: 3x3 PyTorch-default weights, one thread each (fast also on 2), "
        f"median of {wide['repeats']} interleaved repeats, torch {wide.get('torch', '?')}"
        + (f", load average {loads}" if loads else ""),
        "| c | n | fast s | lfa s | torch s | lfa/fast | target | torch/fast | target "
        "| max dev / sigma_max | fast 1 -> 2 threads | target | LAPACK floor s "
        "| lfa/floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [wide_line(res) for res in wide["cases"]]
    if wide.get("cold_start"):
        lines.append(cold_line(wide["cold_start"]))
    return lines


def wide_line(res: dict) -> str:
    """One row of the wide-channel table (each target with whether it is met)."""
    med = res["median_s"]
    lfa, torch_ratio = med["lfa"] / med["fast1"], med["torch"] / med["fast1"]
    threads = med["fast1"] / med["fast2"]
    dev = max(res["dev_vs_lfa"].values())

    def mark(value: float, target: float) -> str:
        return f">= {target:g}x " + ("met" if value >= target else "missed")

    return (f"| {res['c']} | {res['n']} | {med['fast1']:.3f} | {med['lfa']:.3f} | "
            f"{med['torch']:.3f} | {lfa:.2f}x | {mark(lfa, res['target_lfa'])} | "
            f"{torch_ratio:.2f}x | {mark(torch_ratio, res['target_torch'])} | {dev:.1e} "
            f"{'ok' if dev <= WIDE_TOLERANCE else 'FAILS'} | {threads:.2f}x | "
            f"{mark(threads, WIDE_THREADS_TARGET)} |" + _floor_cells(med))


def _floor_cells(med: dict) -> str:
    """The LAPACK floor of a wide row (runs stored before it was measured: blank):
    the cheaper of the half plane's SVDs and Gram eigenvalues, and lfa over it, the
    most any path factorizing each half-plane block by LAPACK can gain over lfa."""
    if "half_svd" not in med:
        return " | |"
    floor = min(med["half_svd"], med["half_eig"])
    return f" {floor:.3f} | {med['lfa'] / floor:.2f}x |"


def cold_line(cold: dict) -> str:
    """The cold-start row under the wide table."""
    met = "met" if cold["extra_s"] <= COLD_START_TARGET else "missed"
    return (cold_start.report_line(cold)
            + f"; target first - later <= {COLD_START_TARGET:g} s: {met}")


def summarize_child(n: int, c: int, threads: int | None, progress: bool) -> dict:
    w = cb.pytorch_default(c, c, 3, seed=0)
    t0 = time.perf_counter()
    s = cb.summarize(w, n, threads=threads, progress=progress)
    dt = time.perf_counter() - t0
    return {
        "n": n, "c": c, "seconds": dt, "passes": s.passes, "count": s.count,
        "sigma_max": s.sigma_max, "sigma_min": s.sigma_min,
        "median": s.quantile(0.5),
        "peak_rss_mib": peak_rss_mib(),
    }


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB.

    ``VmHWM`` of the process's own address space where Linux offers it: ``ru_maxrss``
    survives ``execve`` and so also counts the memory of the parent the process was
    forked from (a parent holding a 16M-value spectrum made a 200 MiB run read 1.3 GiB).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summarize_in_subprocess(n: int, c: int, threads: int | None) -> dict:
    cmd = [sys.executable, __file__, "--summarize-only", str(n), "--channels", str(c)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def free_pair(path: str, other_ext: str) -> tuple[str, str]:
    """``path`` and its sibling with ``other_ext``, under one stem that neither file has."""
    stem, ext = os.path.splitext(path)
    candidate, i = stem, 2
    while os.path.exists(candidate + ext) or os.path.exists(candidate + other_ext):
        candidate, i = f"{stem}-{i}", i + 1
    return candidate + ext, candidate + other_ext


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--summarize-n", type=int, default=8192)
    ap.add_argument("--skip-summarize", action="store_true")
    ap.add_argument("--summarize-only", type=int, metavar="N")
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--only", choices=("targets", "wide"),
                    help="only the first table (targets) or only the wide-channel table")
    ap.add_argument("--cold-processes", type=int, default=9,
                    help="fresh processes of the cold-start row (default 9)")
    ap.add_argument("--table-from", metavar="JSON",
                    help="print the table of a stored run and exit (nothing is measured)")
    ap.add_argument("--json", metavar="PATH",
                    help="also write the raw numbers here (an existing file is kept: the "
                         "new one gets -2, -3, ... before the suffix)")
    args = ap.parse_args(argv)

    if args.summarize_only:
        res = summarize_child(args.summarize_only, args.channels, args.threads, args.progress)
        print(json.dumps(res))
        return 0

    if args.table_from:
        with open(args.table_from) as fh:
            print("\n".join(table_lines(json.load(fh))))
        return 0

    cores = default_threads()
    out: dict = {"cases": [], "cores": cores, "repeats": args.repeats,
                 "platform": platform.processor() or platform.machine(),
                 "numpy": np.__version__, "loadavg": [list(os.getloadavg())]}
    if args.only != "wide":
        lines = table_lines(out)
        print("\n".join(lines), flush=True)
        for c, n, target in QUICK if args.quick else CASES:
            res = run_case(c, n, args.repeats, cores)
            res["target"] = target
            out["cases"].append(res)
            print(case_line(res, cores), flush=True)
        if not args.skip_summarize:
            sn = 1024 if args.quick else args.summarize_n
            out["summarize"] = summarize_in_subprocess(sn, args.channels, args.threads)
            print("\n" + summarize_line(out["summarize"]), flush=True)
    if args.only != "targets":
        print()
        out["wide"] = wide_table(args.repeats, args.quick, args.cold_processes)
    out["loadavg"].append(list(os.getloadavg()))
    if args.json:
        path, table = free_pair(args.json, ".txt")
        out["commit"] = _commit()
        with open(path, "w") as fh:
            json.dump(out, fh, indent=1)
        with open(table, "w") as fh:
            fh.write("\n".join(table_lines(out)) + "\n")
        print(f"raw numbers written to {path}, the table to {table}")
    return 0


def table_lines(out: dict) -> list[str]:
    """The printed table of a run (its header alone while ``out["cases"]`` is empty)."""
    if not out["cases"] and not out.get("summarize") and out.get("wide"):
        return wide_lines(out["wide"])  # a run of the wide table alone (--only wide)
    cores = out["cores"]
    about = ", ".join(x for x in (out.get("platform"), f"{cores} cores",
                                  out.get("numpy") and f"numpy {out['numpy']}") if x)
    if out.get("repeats"):
        repeats = out["repeats"]
    elif out["cases"]:  # runs stored before "repeats" was recorded
        repeats = len(out["cases"][0]["times_s"]["lfa"])
    else:
        repeats = "?"
    lines = [
        f"# fast path targets: {about}, BLAS/OMP/FFT threads 1, median of {repeats} "
        "interleaved repeats" + (f", commit {out['commit'][:8]}" if out.get("commit") else ""),
        "| c | n | lfa s | fft s | fast s (1 thread) | fast s "
        f"({cores} threads) | lfa/fast | fft/fast | target | max dev / sigma_max "
        "| 1 -> all threads |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [case_line(res, cores) for res in out["cases"]]
    if out.get("summarize"):
        lines += ["", summarize_line(out["summarize"])]
    if out.get("wide"):
        lines += ["", *wide_lines(out["wide"])]
    return lines


def case_line(res: dict, cores: int) -> str:
    """One row of the table."""
    med = res["median_s"]
    dev = max(res["dev_vs_lfa"], res["dev_vs_fft"])
    return (f"| {res['c']} | {res['n']} | {med['lfa']:.3f} | {med['fft']:.3f} | "
            f"{med['fast1']:.3f} | {med['fastN']:.3f} | {med['lfa'] / med['fast1']:.1f}x | "
            f"{med['fft'] / med['fast1']:.1f}x | {res['target']:g}x | {dev:.1e} | "
            f"{med['fast1'] / med['fastN']:.2f}x |")


def summarize_line(summ: dict) -> str:
    """The summarize line under the table."""
    return (f"summarize n={summ['n']} c={summ['c']}: {summ['seconds']:.1f} s, "
            f"{summ['passes']} passes, peak RSS {summ['peak_rss_mib']:.0f} MiB "
            f"(target < 1024 MiB), {summ['count']} values")


if __name__ == "__main__":
    raise SystemExit(main())
