"""Measure the claims of "LFA applied to CNNs" (arXiv 2506.05617), each in its own regime.

The claims (``notebooks/claims.py`` turns the stored samples into verdicts):

C1, C2
    lfa, fft (numpy) and fftw (pyFFTW) end to end and per stage, for c = 1, 4, 16, 64
    channels and n up to 4096 (c <= 4), 1024 (c = 16), 256 (c = 64): the speed-up
    ``time(fft) / time(lfa)`` against n (C1) and the growth of each path's time with n
    and c (C2). Beside them, in the same rotation, the published codes as references
    (:mod:`benchmarks.published`, :data:`REFERENCES`): the paper's LFA code
    (``paper-lfa``) and Sedghi et al.'s FFT three-liner (``three-liner``), each with a
    descending sort so that every path returns the same values; C1's verdict is taken
    against the fastest FFT arrangement of each cell. Each repeat times, for every
    path in a rotating order, the path's own two steps: the transform (``as_layer`` +
    :func:`convbench.symbols.grid_blocks`, FFTW's planning included) and the SVD step
    (:func:`convbench.svd.block_singular_values`: batched LAPACK and the descending
    sort); their sum is one call of the path, exactly what
    :func:`convbench.singular_values` runs after its budget check. Where a call is
    predicted under :data:`LIBRARY_MAX_SECONDS`, :func:`convbench.singular_values` itself
    is timed in the same rotation, so the sum can be checked against the library call.
C3
    The SVD step's time per path comes from the C1 cells. A control at one n per c
    times the SVD of the same values in each layout: numpy's FFT of the ``(cout, cin,
    kh, kw)`` kernel read through a strided view (``fft-view``,
    :func:`benchmarks.svd_layout.strided_view`), that view copied to C-contiguous blocks
    (``fft-copy``, the copy timed apart), LFA's and the library fft path's contiguous
    blocks, the paper's transposed view (``paper-lfa``) and the three-liner's blocks.
C4
    Peak memory per path, each call in a fresh interpreter (``--memory-child``): the
    growth of the process's resident high-water mark (``VmHWM``, reset through
    ``/proc/self/clear_refs`` after the imports and a tiny warm-up of the same path)
    and ``tracemalloc``'s peak (numpy's buffers, pyFFTW's aligned arrays included;
    LAPACK's workspace and FFTW's plan not). Same imports, same warm-up, one call: the
    number is what that call itself needs.
C5
    lfa against fft with kernel size k = 3 and k = n/16, n/8, n/4.
C6
    The stored zero-padded and periodic spectra of ``results/spectra/`` (referenced by
    name and checksum, not recomputed); kernel size 9 is added at c = 1 (dense SVDs of
    at most 4096 x 4096), with the spectrum error measures of
    :func:`convbench.errors.spectrum_errors`.

Every timing cell takes :data:`REPEATS` interleaved repeats; the largest C1 cells (a
call predicted above :data:`LARGE_SECONDS`) take :data:`LARGE_REPEATS`, and where a call
is predicted above :data:`NO_FFTW_SECONDS` fftw is left out (its SVD step is fft's: the
same values in the same strided layout), so that the study fits in an hour. BLAS,
OpenMP, numba and FFTW run one thread, set before numpy is imported and recorded.

A quiet machine: the load averages are recorded before and after every cell. Before a
cell starts while the 1-minute load is above :data:`QUIET_LOAD` per core, the study waits
(up to ``--quiet-wait`` seconds) for the machine to calm down; the cell records the wait
and whether it started quiet. When the median load over the run is above the same
limit, the run is marked ``"quiet": false`` and says so. The study starts no cell
predicted to end after ``--max-minutes`` and lists what it left out.

Results: ``results/claims/<machine>/<commit>-<UTC time>.json`` (a checkpoint
``.json.partial`` beside it while running). An existing file is never overwritten.

Usage::

    python scripts/claims.py --plan            # the cells, predicted seconds, total
    python scripts/claims.py                   # the study (under an hour on 2 cores)
    python scripts/claims.py --quick --out-dir /tmp/claims   # seconds, a smoke run
"""

from __future__ import annotations

import os

THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
for _var in THREAD_VARIABLES:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import convbench as cb  # noqa: E402
from benchmarks.common import limit_threads, thread_info  # noqa: E402
from benchmarks.published import PUBLISHED, hwio, sorted_values  # noqa: E402
from benchmarks.svd_layout import strided_view  # noqa: E402
from convbench import budget  # noqa: E402
from convbench.errors import spectrum_errors  # noqa: E402
from convbench.svd import block_singular_values  # noqa: E402
from convbench.symbols import grid_blocks  # noqa: E402

OUT_DIR = ROOT / "results" / "claims"
SPECTRA_DIR = ROOT / "results" / "spectra"
PATHS = ("lfa", "fft", "fftw")
#: The published codes timed beside the library's paths (benchmarks.published), and the
#: library path whose cost model predicts each.
REFERENCES = {"paper-lfa": "lfa", "three-liner": "fft"}
#: C3's layouts (see the module docstring); fft-view against fft-copy is the layout effect.
LAYOUTS = ("lfa", "fft-view", "fft-copy", "fft", "paper-lfa", "three-liner")
#: A run (and a cell's start) is quiet while the 1-minute load is at most this per core.
QUIET_LOAD = 1.0
#: Default longest wait for a quiet machine before a cell, seconds.
QUIET_WAIT = 300.0
SEED = 0
THREADS = 1
REPEATS = 7
LARGE_REPEATS = 5
#: A C1 cell whose slowest call is predicted (convbench.budget) above this takes
#: LARGE_REPEATS repeats.
LARGE_SECONDS = 10.0
#: ... and above this, fftw is left out of it (the hour's limit).
NO_FFTW_SECONDS = 10.0
#: singular_values itself is timed beside the stages where a call is predicted below this.
LIBRARY_MAX_SECONDS = 0.5
#: The memory budget of the study's calls (the library's default is half the free memory).
MEMORY_BUDGET = "18GiB"

FULL = {
    "C1": {1: (32, 64, 128, 256, 512, 1024, 2048, 4096),
           4: (32, 64, 128, 256, 512, 1024, 2048, 4096),
           16: (16, 32, 64, 128, 256, 512, 1024),
           64: (8, 16, 32, 64, 128, 256)},
    "C3": {1: (1024,), 4: (512,), 16: (128,), 64: (64,)},
    "C4": {1: (256, 512, 1024, 2048, 4096), 4: (128, 256, 512, 1024, 2048),
           16: (64, 128, 256)},
    "C5": {1: (64, 128, 256, 512, 1024), 4: (64, 128, 256)},
    "C6": {"kernels": (9,), "channels": 1, "n": (11, 16, 22, 32, 45, 64), "seeds": (0, 1, 2)},
}
QUICK = {
    "C1": {1: (16, 32), 4: (16, 32)},
    "C3": {4: (32,)},
    "C4": {1: (32,)},
    "C5": {1: (64,)},
    "C6": {"kernels": (5,), "channels": 1, "n": (8,), "seeds": (0,)},
}
QUICK_REPEATS = 3
C5_RATIOS = (16, 8, 4)  # k = n / ratio, beside k = 3


@dataclass
class Cell:
    """One cell of the study: what it measures and how often."""

    claim: str
    kind: str  # "stages", "layout", "memory", "kernel", "boundary"
    c: int
    n: int
    k: int = 3
    repeats: int = REPEATS
    paths: tuple[str, ...] = PATHS
    predicted_s: float = 0.0
    library: bool = False
    seeds: tuple[int, ...] = ()

    def label(self) -> str:
        return f"{self.claim} {self.kind} c={self.c} n={self.n} k={self.k}"


@dataclass
class Study:
    """The plan and everything measured so far."""

    cells: list[Cell]
    quick: bool
    results: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# the plan


def predict(method: str, c: int, n: int, k: int = 3, stage: str = "all") -> float:
    """The library's predicted seconds of one call (``convbench.budget``)."""
    return budget.estimate(np.zeros((c, c, k, k)), (n, n), method, stage=stage).seconds


def plan(quick: bool = False) -> list[Cell]:
    """Every cell of the study, in the order it runs, with its predicted seconds.

    The short claims run first (C6's extension, C4, C3, C5), then the C1/C2 cells from
    the cheapest to the dearest, so that a run cut short by ``--max-minutes`` loses only
    the largest cells, and says so.
    """
    grid = QUICK if quick else FULL
    base = QUICK_REPEATS if quick else REPEATS
    cells: list[Cell] = []
    for c, ns in grid["C1"].items():
        for n in ns:
            call = {p: predict(p, c, n) for p in PATHS}
            slowest = max(call.values())
            reps = LARGE_REPEATS if slowest > LARGE_SECONDS and not quick else base
            paths = PATHS if slowest <= NO_FFTW_SECONDS else ("lfa", "fft")
            library = slowest <= LIBRARY_MAX_SECONDS
            per_repeat = sum(call[p] for p in paths) * (2 if library else 1)
            per_repeat += sum(call[lib] for lib in REFERENCES.values())
            paths = (*paths, *REFERENCES)
            cells.append(Cell("C1", "stages", c, n, repeats=reps, paths=paths,
                              library=library, predicted_s=reps * per_repeat))
    for c, ns in grid["C3"].items():
        for n in ns:
            svd = predict("lfa", c, n, stage="svd")
            cells.append(Cell("C3", "layout", c, n, repeats=base, paths=("lfa", "fft"),
                              predicted_s=2 * predict("lfa", c, n) + 3 * predict("fft", c, n)
                              + base * len(LAYOUTS) * svd))
    for c, ns in grid["C5"].items():
        for n in ns:
            for k in sorted({3, *(n // r for r in C5_RATIOS)}):
                call = predict("lfa", c, n, k) + predict("fft", c, n, k)
                cells.append(Cell("C5", "kernel", c, n, k, repeats=base,
                                  paths=("lfa", "fft"), predicted_s=base * call))
    for c, ns in grid["C4"].items():
        for n in ns:
            cells.append(Cell("C4", "memory", c, n, repeats=1,
                              predicted_s=sum(predict(p, c, n) + 2.0 for p in PATHS)))
    c6 = grid["C6"]
    for k in c6["kernels"]:
        for n in c6["n"]:
            if n < k:
                continue
            dim = c6["channels"] * n * n
            dense = 2e-10 * dim**3  # dense gesdd, one thread, about 25 s at 4096
            cells.append(Cell("C6", "boundary", c6["channels"], n, k, repeats=1, paths=(),
                              seeds=tuple(c6["seeds"]),
                              predicted_s=len(c6["seeds"]) * dense))
    first = {"C6": 0, "C4": 1, "C3": 2, "C5": 3}
    return sorted(cells, key=lambda cell: (first.get(cell.claim, 4),
                                           cell.predicted_s if cell.claim == "C1" else 0.0))


def plan_lines(cells: list[Cell]) -> list[str]:
    """The plan as a table, the total predicted time last."""
    lines = ["| claim | kind | c | n | k | repeats | paths | predicted s |",
             "|---|---|---|---|---|---|---|---|"]
    for cell in cells:
        paths = ",".join(cell.paths) + (" +library" if cell.library else "")
        lines.append(f"| {cell.claim} | {cell.kind} | {cell.c} | {cell.n} | {cell.k} | "
                     f"{cell.repeats} | {paths or '-'} | {cell.predicted_s:.1f} |")
    total = sum(cell.predicted_s for cell in cells)
    lines.append("")
    lines.append(f"{len(cells)} cells, predicted {total / 60:.1f} min by convbench.budget's "
                 "estimates (the run rescales them by the measured/predicted ratio of the "
                 "cells done so far)")
    return lines


# ---------------------------------------------------------------------------------------
# measuring


def _weights(c: int, k: int = 3) -> np.ndarray:
    return cb.pytorch_default(c, c, k, seed=SEED)


def staged(w: np.ndarray, n: int, method: str, kernel: np.ndarray | None = None
           ) -> tuple[float, float, np.ndarray]:
    """One call of a Fourier path, its two steps timed: (transform s, svd s, values).

    A published code (:data:`REFERENCES`) runs its own transform and its SVD with one
    descending sort; ``kernel`` is the three-liner's ``(kh, kw, cin, cout)`` input,
    reordered before the timing (its input format, not its work).
    """
    if method in REFERENCES:
        transform, takes_hwio = PUBLISHED[method]
        source = (kernel if kernel is not None else hwio(w)) if takes_hwio else w
        t0 = time.perf_counter()
        blocks = transform(source, n)
        t1 = time.perf_counter()
        values = sorted_values(blocks)
        t2 = time.perf_counter()
        del blocks
        return t1 - t0, t2 - t1, values
    t0 = time.perf_counter()
    layer = cb.as_layer(w, n, boundary="periodic")
    blocks = grid_blocks(layer, method, threads=THREADS)
    t1 = time.perf_counter()
    values = block_singular_values(blocks)
    t2 = time.perf_counter()
    del blocks
    return t1 - t0, t2 - t1, values


def _rotations(names: list[str], repeats: int) -> list[list[str]]:
    return [names[r % len(names):] + names[: r % len(names)] for r in range(repeats)]


def warm_up(paths: tuple[str, ...] = PATHS) -> None:
    """Imports, LAPACK, FFTW's first plan and numba outside every timing."""
    w = _weights(2)
    for p in paths:
        staged(w, 8, p)
        cb.singular_values(w, 8, method=p, threads=THREADS)
    for p in REFERENCES:
        staged(w, 8, p)


def _feasible(cell: Cell, path: str) -> str | None:
    if path == "paper-lfa" and cell.k != 3:
        return "the paper's LFA code is written for 3x3 kernels"
    model = REFERENCES.get(path, path)  # a published code costs what its library twin does
    return budget.feasibility(np.zeros((cell.c, cell.c, cell.k, cell.k)), (cell.n, cell.n),
                              model, memory_budget=MEMORY_BUDGET)


def run_stages(cell: Cell, log: Callable[[str], None]) -> dict[str, Any]:
    """C1/C2 (and C5): every path's transform and SVD step, interleaved repeats."""
    w = _weights(cell.c, cell.k)
    kernel = hwio(w)
    skipped = {p: r for p in cell.paths if (r := _feasible(cell, p)) is not None}
    paths = [p for p in cell.paths if p not in skipped]
    entries = [(p, "stages") for p in paths]
    if cell.library:
        entries += [(p, "library") for p in paths if p in PATHS]
    samples: dict[str, dict[str, list[float]]] = {
        p: {"transform": [], "svd": [], "total": []} for p in paths
    }
    library: dict[str, list[float]] = (
        {p: [] for p in paths if p in PATHS} if cell.library else {}
    )
    reference: np.ndarray | None = None
    max_dev: dict[str, float] = {}
    order = _rotations([f"{p}:{how}" for p, how in entries], cell.repeats)
    for r, names in enumerate(order):
        for name in names:
            path, how = name.split(":")
            if how == "library":
                t0 = time.perf_counter()
                cb.singular_values(w, cell.n, method=path, threads=THREADS,
                                   memory_budget=MEMORY_BUDGET)
                library[path].append(time.perf_counter() - t0)
                continue
            tr, sv, values = staged(w, cell.n, path, kernel)
            samples[path]["transform"].append(tr)
            samples[path]["svd"].append(sv)
            samples[path]["total"].append(tr + sv)
            if path == paths[0] and reference is None:
                reference = values  # the first path's values of the first repeat
            elif reference is not None and path not in max_dev:
                max_dev[path] = float(np.max(np.abs(values - reference)) / reference[0])
            del values
        log(f"repeat {r + 1}/{cell.repeats}")
    return {"samples": samples, "library_samples": library, "order": order,
            "reference": paths[0] if paths else None, "max_dev": max_dev,
            "skipped": skipped}


def layout_blocks(w: np.ndarray, n: int) -> tuple[dict[str, np.ndarray], float]:
    """The same values in every layout of :data:`LAYOUTS`, and the copy's seconds."""
    layer = cb.as_layer(w, n, boundary="periodic")
    blocks = {"lfa": grid_blocks(layer, "lfa"), "fft-view": strided_view(w, n)}
    t0 = time.perf_counter()
    blocks["fft-copy"] = np.ascontiguousarray(blocks["fft-view"])
    copy = time.perf_counter() - t0
    blocks["fft"] = grid_blocks(layer, "fft")
    blocks["paper-lfa"] = PUBLISHED["paper-lfa"][0](w, n)
    blocks["three-liner"] = PUBLISHED["three-liner"][0](hwio(w), n)
    return {name: blocks[name] for name in LAYOUTS}, copy


def run_layout(cell: Cell, log: Callable[[str], None]) -> dict[str, Any]:
    """C3 control: the SVD step of the same values in every layout, and the copy."""
    blocks, first_copy = layout_blocks(_weights(cell.c), cell.n)
    copy = [first_copy]
    names = list(blocks)
    samples: dict[str, list[float]] = {k: [] for k in names}
    order = _rotations(names, cell.repeats)
    for r, row in enumerate(order):
        for name in row:
            t0 = time.perf_counter()
            block_singular_values(blocks[name])
            samples[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.ascontiguousarray(blocks["fft-view"])
        copy.append(time.perf_counter() - t0)
        log(f"repeat {r + 1}/{cell.repeats}")
    return {"samples": samples, "copy": copy, "order": order,
            "contiguous": {k: bool(v.flags.c_contiguous) for k, v in blocks.items()}}


def run_memory(cell: Cell, log: Callable[[str], None]) -> dict[str, Any]:
    """C4: each path once in a fresh interpreter; its peak memory."""
    samples: dict[str, list[dict[str, float]]] = {}
    skipped = {}
    for path in cell.paths:
        reason = _feasible(cell, path)
        if reason is not None:
            skipped[path] = reason
            continue
        cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", path,
               str(cell.c), str(cell.n), str(cell.k)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        samples.setdefault(path, []).append(json.loads(out.strip().splitlines()[-1]))
        log(f"{path}: peak +{samples[path][-1]['peak_rss_bytes'] / 2**20:.0f} MiB")
    return {"samples": samples, "skipped": skipped,
            "symbol_bytes": 16 * cell.c * cell.c * cell.n * cell.n}


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field_name}")


def memory_child(path: str, c: int, n: int, k: int) -> dict[str, Any]:
    """Run one path once in this (fresh) process; its peak memory above the baseline."""
    import tracemalloc

    w = _weights(c, k)
    cb.singular_values(_weights(2), 8, method=path, threads=THREADS)  # warm-up
    with open("/proc/self/clear_refs", "w") as fh:  # reset VmHWM to the current RSS
        fh.write("5")
    before = _status_kib("VmRSS")
    tracemalloc.start()
    t0 = time.perf_counter()
    values = cb.singular_values(w, n, method=path, threads=THREADS, memory_budget=MEMORY_BUDGET)
    seconds = time.perf_counter() - t0
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status_kib("VmHWM")
    return {"peak_rss_bytes": peak - before, "tracemalloc_peak_bytes": traced,
            "baseline_rss_bytes": before, "seconds": seconds,
            "output_bytes": int(values.nbytes)}


def run_boundary(cell: Cell, log: Callable[[str], None]) -> dict[str, Any]:
    """C6 extension: zero-padded (dense) against periodic spectra, error measures."""
    rows = []
    for seed in cell.seeds:
        w = cb.pytorch_default(cell.c, cell.c, cell.k, seed=seed)
        t0 = time.perf_counter()
        zero = cb.singular_values(w, cell.n, method="explicit", boundary="zero")
        t1 = time.perf_counter()
        periodic = cb.singular_values(w, cell.n, method="lfa")
        rows.append({"seed": seed, "seconds_zero": t1 - t0,
                     "errors": spectrum_errors(periodic, zero)})
        log(f"seed {seed}: {t1 - t0:.1f} s")
    return {"seed_errors": rows}


RUNNERS = {"stages": run_stages, "kernel": run_stages, "layout": run_layout,
           "memory": run_memory, "boundary": run_boundary}


# ---------------------------------------------------------------------------------------
# provenance and files


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def provenance(machine: str) -> dict[str, Any]:
    """Machine, commit, versions and thread settings of this run."""
    import scipy

    versions = {"python": platform.python_version(), "convbench": cb.__version__,
                "numpy": np.__version__, "scipy": scipy.__version__}
    for name in ("pyfftw", "numba", "threadpoolctl"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    status = _git("status", "--porcelain", "--untracked-files=no", "--", "convbench",
                  "scripts/claims.py", "benchmarks")
    return {
        "machine": {"name": machine, "node": platform.node(), "arch": platform.machine(),
                    "processor": platform.processor(), "cpu_count": os.cpu_count(),
                    "os": f"{platform.system()} {platform.release()}",
                    "memory_bytes": budget.available_memory()},
        "commit": _git("rev-parse", "HEAD"),
        "dirty": None if status is None else bool(status),
        "versions": versions,
        "threads": {"environment": {v: os.environ.get(v) for v in THREAD_VARIABLES},
                    "fftw_threads": THREADS, "threadpoolctl": thread_info()},
    }


def stored_spectra() -> list[dict[str, str]]:
    """The stored boundary spectra C6 reads: names and SHA-256."""
    out = []
    for path in sorted(SPECTRA_DIR.glob("*.npz")):
        out.append({"file": str(path.relative_to(ROOT)),
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    return out


def result_path(out_dir: Path, machine: str, commit: str | None, when: dt.datetime) -> Path:
    """``<out_dir>/<machine>/<commit8>-<UTC time>.json``."""
    if not machine or "/" in machine or machine.startswith("."):
        raise ValueError(f"machine must be a plain name; got {machine!r}")
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    return Path(out_dir) / machine / f"{(commit or 'nocommit')[:8]}-{stamp}.json"


def write_new(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as JSON to a file that must not exist yet (``FileExistsError``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x") as fh:  # never replaces an existing file
        json.dump(data, fh, indent=1)
        fh.write("\n")
    return path


def _checkpoint(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(data, indent=1) + "\n")


# ---------------------------------------------------------------------------------------
# the run


def quiet_limit() -> float:
    """The 1-minute load above which the machine is not quiet: QUIET_LOAD per core."""
    return QUIET_LOAD * (os.cpu_count() or 1)


def wait_for_quiet(max_wait: float, echo: Callable[[str], None], poll: float = 15.0,
                   load: Callable[[], float] = lambda: os.getloadavg()[0],
                   sleep: Callable[[float], None] = time.sleep) -> float:
    """Wait (up to ``max_wait`` s) while the 1-minute load is above :func:`quiet_limit`.

    Returns the seconds waited.
    """
    waited, limit = 0.0, quiet_limit()
    while (now := load()) > limit and waited < max_wait:
        if waited == 0.0:
            echo(f"load {now:.2f} > {limit:g}: waiting up to {max_wait:.0f} s for a "
                 "quiet machine")
        step = min(poll, max_wait - waited)
        sleep(step)
        waited += step
    return waited


def quiet_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's median 1-minute load over its cells (before and after each) and verdict."""
    loads = [r[key][0] for r in records for key in ("load_before", "load_after")]
    if not loads:
        return {"load_median": None, "load_max": None, "quiet_limit": quiet_limit(),
                "quiet": None}
    median = float(np.median(loads))
    return {"load_median": median, "load_max": float(max(loads)),
            "quiet_limit": quiet_limit(), "quiet": median <= quiet_limit()}


def run(cells: list[Cell], target: Path, header: dict[str, Any], max_minutes: float,
        quick: bool, echo: Callable[[str], None] = print,
        quiet_wait: float = QUIET_WAIT) -> dict[str, Any]:
    """Run every cell in order, checkpointing; returns the complete record."""
    data = {**header, "complete": False, "cells": [], "left_out": []}
    start = time.perf_counter()
    spent_pred = spent_real = 0.0
    limiter = limit_threads(THREADS)
    try:
        warm_up()
        for i, cell in enumerate(cells, 1):
            elapsed = time.perf_counter() - start
            scale = max(0.5, spent_real / spent_pred) if spent_pred > 0 else 1.0
            left = sum(c.predicted_s for c in cells[i - 1:]) * scale
            if elapsed + cell.predicted_s * scale > max_minutes * 60:
                reason = (f"left out: predicted {cell.predicted_s * scale:.0f} s would pass "
                          f"the study's {max_minutes:g} min after {elapsed / 60:.1f} min")
                data["left_out"].append({**asdict(cell), "reason": reason})
                echo(f"[{i}/{len(cells)}] {cell.label()}: {reason}")
                continue
            head = f"[{i}/{len(cells)}] {cell.label()}"
            echo(f"{head}: start at {elapsed / 60:.1f} min, ~{left / 60:.1f} min left "
                 f"(load {os.getloadavg()[0]:.2f})")

            def log(msg: str, head: str = head) -> None:
                echo(f"  {head}: {msg}")

            waited = wait_for_quiet(quiet_wait, log)
            load_before = list(os.getloadavg())
            t0 = time.perf_counter()
            measured = RUNNERS[cell.kind](cell, log)
            seconds = time.perf_counter() - t0
            record = {**asdict(cell), "seconds": seconds, "load_before": load_before,
                      "load_after": list(os.getloadavg()), "waited_s": waited,
                      "quiet": load_before[0] <= quiet_limit()}
            clash = set(record) & set(measured)
            if clash:  # a measurement never hides the cell's own description
                raise RuntimeError(f"{cell.kind} measurements reuse the names {sorted(clash)}")
            record.update(measured)
            data["cells"].append(record)
            spent_pred += cell.predicted_s
            spent_real += seconds
            _checkpoint(target, data)
    finally:
        limiter.restore_original_limits()
    data["seconds"] = time.perf_counter() - start
    data["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    data["complete"] = True
    data.update(quiet_summary(data["cells"]))
    if data["quiet"] is False:
        echo(f"this run is NOT quiet: median 1-minute load {data['load_median']:.2f} > "
             f"{data['quiet_limit']:g} on {os.cpu_count()} cores; its absolute times are "
             "inflated (the interleaved ratios less so)")
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", action="store_true", help="print the cells and predicted time")
    ap.add_argument("--quick", action="store_true", help="tiny cells, 3 repeats (a smoke run)")
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR, help="default: results/claims")
    ap.add_argument("--machine", default=platform.node(), help="default: the host name")
    ap.add_argument("--max-minutes", type=float, default=60.0,
                    help="start no cell predicted to end after this (default 60)")
    ap.add_argument("--quiet-wait", type=float, default=QUIET_WAIT,
                    help="longest wait (s) for a quiet machine before a cell (default "
                         f"{QUIET_WAIT:g}; 0: never wait)")
    ap.add_argument("--memory-child", nargs=4, metavar=("PATH", "C", "N", "K"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.memory_child:
        path, c, n, k = args.memory_child
        if path not in PATHS:
            ap.error(f"--memory-child PATH must be one of {PATHS}; got {path!r}")
        print(json.dumps(memory_child(path, int(c), int(n), int(k))))
        return 0
    if args.max_minutes <= 0:
        ap.error(f"--max-minutes must be positive; got {args.max_minutes}")
    if args.quiet_wait < 0:
        ap.error(f"--quiet-wait must be >= 0; got {args.quiet_wait}")

    cells = plan(args.quick)
    if args.plan:
        print("\n".join(plan_lines(cells)))
        return 0
    when = dt.datetime.now(dt.timezone.utc)
    header = {"study": "claims", "paper": "arXiv 2506.05617", "quick": args.quick,
              "started": when.isoformat(timespec="seconds"),
              **provenance(args.machine),
              "repeats": {"default": QUICK_REPEATS if args.quick else REPEATS,
                          "large": LARGE_REPEATS, "large_seconds": LARGE_SECONDS,
                          "no_fftw_seconds": NO_FFTW_SECONDS},
              "seed": SEED, "weights": "convbench.pytorch_default(c, c, k, seed=0)",
              "memory_budget": MEMORY_BUDGET, "stored_spectra": stored_spectra(),
              "memory_method": "VmHWM growth in a fresh process (reset by clear_refs) "
                               "and tracemalloc peak"}
    target = result_path(args.out_dir, args.machine, header["commit"], when)
    if target.exists():
        print(f"refusing to overwrite {target}", file=sys.stderr)
        return 1
    print(f"claims study: {len(cells)} cells, writing {target}", flush=True)
    data = run(cells, target, header, args.max_minutes, args.quick,
               echo=lambda s: print(s, flush=True), quiet_wait=args.quiet_wait)
    write_new(target, data)
    target.with_name(target.name + ".partial").unlink(missing_ok=True)
    print(f"wrote {target} in {data['seconds'] / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
