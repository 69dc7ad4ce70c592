"""The fft and fftw paths against the published FFT three-liner, and where their time goes.

For each cell ``(c, n)`` (one thread everywhere, random PyTorch-style 3x3 weights),
interleaved repeats in a rotating order time:

- ``fft`` and ``fftw``: :func:`convbench.singular_values` end to end;
- ``three-liner`` and ``three-liner-fftw``: the published three lines
  (:mod:`benchmarks.published`) plus one descending sort of their values;
- the library's ``fft`` call in its stages, the same calls it makes: ``bind``
  (:func:`convbench.as_layer`), ``budget`` (the memory estimate and check),
  ``transform`` (:func:`convbench.symbols.grid_blocks`), ``svd`` (numpy's batched SVD of
  those blocks) and ``sort`` (:func:`convbench.svd.sort_descending`).

The rule it checks: each library path takes at most :data:`TARGET` times the matching
three-liner plus its sort (the ratio of medians, and the median of the per-repeat
ratios). The record, with the commit, the load averages and the BLAS kernel
(threadpoolctl), goes to ``measurements/fft/fft-paths-<commit>.json`` (never replacing
a file); the table is printed as Markdown::

    python scripts/fft_paths.py                  # (16, 256), (4, 512), (1, 1024)
    python scripts/fft_paths.py --cells 4:64 --repeats 3
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT, Path(__file__).resolve().parent):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from provenance import commit, new_path  # noqa: E402

import convbench as cb  # noqa: E402
from benchmarks.common import limit_threads  # noqa: E402
from benchmarks.published import hwio, sorted_values, three_liner, three_liner_fftw  # noqa: E402
from convbench import budget  # noqa: E402
from convbench.svd import sort_descending  # noqa: E402
from convbench.symbols import grid_blocks  # noqa: E402

OUT = ROOT / "measurements" / "fft"
CELLS = ((16, 256), (4, 512), (1, 1024))
REPEATS = 7
TARGET = 1.1
STAGES = ("bind", "budget", "transform", "svd", "sort")


def staged_fft(w: np.ndarray, n: int) -> dict[str, float]:
    """The library's fft call, step by step, each step timed."""
    out = {}
    t0 = time.perf_counter()
    layer = cb.as_layer(w, n)
    t1 = time.perf_counter()
    budget.check_memory(budget.estimate(layer, method="fft").nbytes, None, "fft", "")
    t2 = time.perf_counter()
    blocks = grid_blocks(layer, "fft")
    t3 = time.perf_counter()
    values = np.linalg.svd(blocks, compute_uv=False)
    t4 = time.perf_counter()
    sort_descending(values)
    t5 = time.perf_counter()
    for name, a, b in zip(STAGES, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5), strict=True):
        out[name] = b - a
    return out


def measure(c: int, n: int, repeats: int, echo=print) -> dict[str, Any]:
    """Interleaved repeats of every entry at one cell."""
    w = cb.pytorch_default(c, c, 3, seed=0)
    kernel = hwio(w)
    calls = {
        "fft": lambda: cb.singular_values(w, n, method="fft", threads=1),
        "fftw": lambda: cb.singular_values(w, n, method="fftw", threads=1),
        "three-liner": lambda: sorted_values(three_liner(kernel, n)),
        "three-liner-fftw": lambda: sorted_values(three_liner_fftw(kernel, n)),
    }
    reference = calls["three-liner"]()
    for name, call in calls.items():  # warm-up, and every path gives the same values
        dev = float(np.max(np.abs(call() - reference)) / reference[0])
        if dev > 1e-12:
            raise RuntimeError(f"{name} differs from the three-liner by {dev:.1e} at {c}, {n}")
    staged_fft(w, 8)
    names = [*calls, "fft-stages"]
    samples: dict[str, list[float]] = {name: [] for name in calls}
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    load = [list(os.getloadavg())]
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            if name == "fft-stages":
                for s, v in staged_fft(w, n).items():
                    stages[s].append(v)
                continue
            t0 = time.perf_counter()
            calls[name]()
            samples[name].append(time.perf_counter() - t0)
        load.append(list(os.getloadavg()))
        echo(f"  c={c} n={n}: repeat {r + 1}/{repeats}")
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratios = {}
    for lib, ref in (("fft", "three-liner"), ("fftw", "three-liner-fftw")):
        paired = [a / b for a, b in zip(samples[lib], samples[ref], strict=True)]
        ratios[f"{lib}/{ref}"] = {"of_medians": med[lib] / med[ref],
                                  "median_paired": statistics.median(paired)}
    return {"c": c, "n": n, "repeats": repeats, "samples": samples, "stages": stages,
            "medians": med, "stage_medians": {k: statistics.median(v) for k, v in stages.items()},
            "ratios": ratios, "load": load}


def table(record: dict[str, Any]) -> str:
    """Markdown: medians per entry, the ratios, the fft stages."""
    lines = [f"library {record['commit']}, one thread, {record['blas']}, target <= "
             f"{record['target']:g}x", "",
             "| c | n | fft | three-liner | fft / three-liner | fftw | three-liner-fftw | "
             "fftw / three-liner-fftw |", "|---|---|---|---|---|---|---|---|"]
    for cell in record["cells"]:
        m, r = cell["medians"], cell["ratios"]
        lines.append(
            f"| {cell['c']} | {cell['n']} | {m['fft']:.3f} | {m['three-liner']:.3f} | "
            f"{r['fft/three-liner']['of_medians']:.2f} | {m['fftw']:.3f} | "
            f"{m['three-liner-fftw']:.3f} | {r['fftw/three-liner-fftw']['of_medians']:.2f} |")
    lines += ["", "fft's call in stages (median seconds):", "",
              "| c | n | " + " | ".join(STAGES) + " |", "|---|---|" + "---|" * len(STAGES)]
    for cell in record["cells"]:
        s = cell["stage_medians"]
        lines.append(f"| {cell['c']} | {cell['n']} | "
                     + " | ".join(f"{s[k]:.4f}" for k in STAGES) + " |")
    return "\n".join(lines)


def _cell(text: str) -> tuple[int, int]:
    try:
        c, n = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a cell is C:N, e.g. 16:256; got {text!r}") from None
    if c < 1 or n < 3:
        raise argparse.ArgumentTypeError(f"a cell needs c >= 1 and n >= 3; got {text!r}")
    return c, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=_cell, nargs="+", default=list(CELLS), metavar="C:N")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--out-dir", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats must be positive; got {args.repeats}")
    from threadpoolctl import threadpool_info

    limiter = limit_threads(1)
    try:
        cells = [measure(c, n, args.repeats) for c, n in args.cells]
    finally:
        limiter.restore_original_limits()
    blas = "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                     for i in threadpool_info() if i.get("user_api") == "blas")
    record = {"commit": commit(ROOT), "node": platform.node(), "cpu_count": os.cpu_count(),
              "blas": blas, "threadpoolctl": threadpool_info(), "target": TARGET,
              "versions": {"numpy": np.__version__, "convbench": cb.__version__,
                           "pyfftw": __import__("pyfftw").__version__},
              "cells": cells}
    path = new_path(args.out_dir, f"fft-paths-{record['commit']}")
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(table(record))
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
