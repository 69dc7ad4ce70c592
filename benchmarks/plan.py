"""Coverage and predicted duration of an asv run, from the suite's own skip rule.

Run ``python -m benchmarks.plan`` (``make bench-plan``) to print, for the grid in force
(see :mod:`benchmarks.common` for the environment variables that change it):

* the coverage table: for every benchmark and (n, channels) cell, whether it runs
  (``x``) for all values of its other parameters, for some (``~``), or is skipped (``.``);
* the reasons of the skips (the library's :func:`convbench.budget.feasibility`): a few
  per benchmark with ``--reasons``, every skipped cell of the benchmarks matching
  ``--bench REGEX`` (the cells a plain ``asv run`` prints as ``n/a``; ``asv run -e``
  prints each reason as it skips);
* the predicted duration of ``asv run``, from :func:`convbench.budget.estimate` and the
  suite's timing attributes (samples per round, rounds), plus a fixed cost per cell.

``--memory-budget 12G`` shows what a machine with 24 GiB free (the library's default
budget is half the available memory) runs. The predicted times are upper-bound style
guesses; the README records a measured duration next to the prediction.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import itertools
import os
import pkgutil
import re
import sys
from collections import defaultdict
from typing import Any

#: asv's cost of one cell, run or skipped (a fresh process that imports the suite and the
#: library, setup, bookkeeping): 0.64 s fitted by least squares to the per-benchmark
#: durations of the default run at commit d6984d2 (2130 cells, 2672 s; 0.15 s, measured
#: in bench-quick, had predicted 27 min for its 47).
CELL_OVERHEAD_SECONDS = 0.05
#: Method-name prefixes asv runs.
PREFIXES = ("time_", "peakmem_", "track_", "mem_", "timeraw_")


def benchmark_classes() -> list[tuple[str, type]]:
    """Every benchmark class of the suite, as ``("module.Class", cls)``, sorted."""
    import benchmarks

    out = []
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"benchmarks.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or name.startswith("_"):
                continue
            if any(m.startswith(PREFIXES) for m in dir(cls)):
                out.append((f"{info.name}.{name}", cls))
    return out


def methods(cls: type) -> list[str]:
    """The benchmark methods of a class."""
    return sorted(m for m in dir(cls) if m.startswith(PREFIXES))


def param_grid(cls: type) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Parameter names and every combination of a class's parameters."""
    params = getattr(cls, "params", [])
    names = list(getattr(cls, "param_names", []))
    if not params:
        return [], [()]
    if not isinstance(params[0], (list, tuple)):
        params = [params]
    return names, list(itertools.product(*params))


def cell_cost(inst: Any, method: str, setup_s: float, call_s: float) -> float:
    """Predicted seconds asv spends on one runnable cell of one method."""
    from benchmarks.common import samples_per_round

    if method.startswith("time_"):
        rounds = int(getattr(inst, "rounds", 2))
        sample = setup_s + call_s
        k = samples_per_round(inst, sample)
        return rounds * (k * sample + CELL_OVERHEAD_SECONDS)
    return setup_s + call_s + CELL_OVERHEAD_SECONDS


def plan(bench: str | None = None) -> dict[str, Any]:
    """Walk the suite: per class, the cells, their status and predicted cost.

    ``bench`` (a regular expression, searched in ``module.Class`` and in each of its
    ``module.Class.method`` names, as ``asv run --bench`` does) keeps only the classes
    it matches.
    """
    from benchmarks.common import tier_reason

    report: dict[str, Any] = {}
    pattern = re.compile(bench) if bench else None
    for qualname, cls in benchmark_classes():
        if pattern is not None and not any(
            pattern.search(name)
            for name in (qualname, *(f"{qualname}.{m}" for m in methods(cls)))
        ):
            continue
        inst = cls()
        names, grid = param_grid(cls)
        total = 0.0
        if hasattr(inst, "predict_cache"):
            total += inst.predict_cache()
        cells = []
        for params in grid:
            reason = tier_reason(cls, **dict(zip(names, params, strict=True)))
            if reason is None and hasattr(inst, "skip_reason"):
                reason = inst.skip_reason(*params)
            rounds = (
                int(getattr(inst, "rounds", 2))
                if any(m.startswith("time_") for m in methods(cls))
                else 1
            )
            if reason is None:
                setup_s, call_s = inst.predict(*params) if hasattr(inst, "predict") else (0, 0)
                cost = sum(cell_cost(inst, m, setup_s, call_s) for m in methods(cls))
            else:
                cost = len(methods(cls)) * rounds * CELL_OVERHEAD_SECONDS
            total += cost
            cells.append((dict(zip(names, params, strict=True)), reason, cost))
        report[qualname] = {"methods": methods(cls), "cells": cells, "seconds": total,
                            "predicted": hasattr(inst, "predict")}
    return report


def coverage_table(report: dict[str, Any]) -> str:
    """Markdown table: rows benchmark x channels, columns n."""
    from benchmarks.common import BOUNDARY_N, CHANNELS, N_VALUES, WIDE_CHANNELS, WIDE_N

    lines = []
    for qualname, entry in report.items():
        by_cell: dict[tuple[int, int], list[bool]] = defaultdict(list)
        for params, reason, _cost in entry["cells"]:
            if "n" in params and "channels" in params:
                by_cell[(params["n"], params["channels"])].append(reason is None)
        if not by_cell:
            continue
        ns = sorted({n for n, _ in by_cell})
        ns = [n for n in ns if n in N_VALUES or n in BOUNDARY_N or n in WIDE_N]
        rows = [c for c in (*CHANNELS, *WIDE_CHANNELS) if any(key[1] == c for key in by_cell)]
        if not lines:
            pass
        lines.append(f"\n**{qualname}** (" + ", ".join(entry["methods"]) + ")\n")
        lines.append("| c \\ n | " + " | ".join(str(n) for n in ns) + " |")
        lines.append("|---|" + "---|" * len(ns))
        for c in rows:
            marks = []
            for n in ns:
                runs = by_cell.get((n, c), [])
                marks.append("x" if runs and all(runs) else "~" if any(runs) else ".")
            lines.append(f"| {c} | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def kind_table(report: dict[str, Any]) -> str:
    """Markdown table of the layer-kind benchmarks: rows kind and input points, columns
    path; ``x`` runs at every channel count, ``~`` at some, ``.`` at none."""
    lines = []
    for qualname, entry in report.items():
        cells = entry["cells"]
        if not cells or not {"kind", "path", "points"} <= set(cells[0][0]):
            continue
        runs: dict[tuple[Any, Any, Any], list[bool]] = defaultdict(list)
        for params, reason, _cost in cells:
            runs[(params["kind"], params["points"], params["path"])].append(reason is None)
        kinds = list(dict.fromkeys(p["kind"] for p, _, _ in cells))
        points = sorted({p["points"] for p, _, _ in cells})
        paths = list(dict.fromkeys(p["path"] for p, _, _ in cells))
        lines.append(f"\n**{qualname}** (" + ", ".join(entry["methods"]) + ")\n")
        lines.append("| kind, points \\ path | " + " | ".join(paths) + " |")
        lines.append("|---|" + "---|" * len(paths))
        for kind in kinds:
            for pts in points:
                marks = []
                for path in paths:
                    ok = runs.get((kind, pts, path), [])
                    marks.append("x" if ok and all(ok) else "~" if any(ok) else ".")
                lines.append(f"| {kind}, {pts} | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def every_skip_reason(report: dict[str, Any]) -> str:
    """Every skipped cell of the report with its reason, benchmark by benchmark."""
    lines = []
    for qualname, entry in report.items():
        skipped = [(p, r) for p, r, _ in entry["cells"] if r is not None]
        lines.append(f"{qualname}: {len(skipped)} of {len(entry['cells'])} cells skipped")
        for params, reason in skipped:
            cell = ", ".join(f"{k}={v}" for k, v in params.items())
            lines.append(f"  ({cell}): {reason}")
    return "\n".join(lines)


def skip_reasons(report: dict[str, Any], limit: int = 3) -> str:
    """A few skip reasons per benchmark (the first, in grid order)."""
    lines = []
    for qualname, entry in report.items():
        reasons = [(p, r) for p, r, _ in entry["cells"] if r is not None]
        if not reasons:
            continue
        lines.append(f"{qualname}: {len(reasons)} of {len(entry['cells'])} cells skipped, e.g.")
        seen = set()
        for params, reason in reasons:
            kind = reason.split(" at ")[0] + (" budget" if "budget" in reason else " time")
            if kind in seen:
                continue
            seen.add(kind)
            lines.append(f"  {params}: {reason}")
            if len(seen) >= limit:
                break
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the coverage table, the skip reasons and the predicted duration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--memory-budget",
        help="memory budget as for CONVBENCH_MEMORY_BUDGET, e.g. 12G (default: half the "
        "memory available now)",
    )
    parser.add_argument("--reasons", action="store_true", help="print example skip reasons")
    parser.add_argument(
        "--bench", metavar="REGEX",
        help="only the benchmarks matching REGEX (as asv run --bench), with the reason of "
        "every skipped cell",
    )
    args = parser.parse_args(argv)
    if args.memory_budget:
        os.environ["CONVBENCH_MEMORY_BUDGET"] = args.memory_budget

    from benchmarks.common import CHANNELS, KERNEL, MAX_SECONDS, N_VALUES, TIER
    from convbench.budget import format_bytes, memory_budget

    report = plan(args.bench)
    if not report:
        print(f"no benchmark matches {args.bench!r}")
        return 1
    print(
        f"grid: n = {', '.join(map(str, N_VALUES))}; channels = {', '.join(map(str, CHANNELS))}; "
        f"kernel {KERNEL}x{KERNEL}; time limit {MAX_SECONDS:g} s per call; "
        f"memory budget {format_bytes(memory_budget())}; tier {TIER}"
    )
    print(coverage_table(report))
    print(kind_table(report))
    if args.bench:
        print("\n" + every_skip_reason(report))
    elif args.reasons:
        print("\n" + skip_reasons(report))
    print("\npredicted duration per benchmark (s):")
    total = 0.0
    unpredicted = []
    for qualname, entry in report.items():
        runs = sum(r is None for _, r, _ in entry["cells"])
        mark = ""
        if runs and not entry["predicted"]:
            mark = "  (no model: asv's overhead only)"
            unpredicted.append(qualname)
        print(f"  {qualname:40s} {runs:4d}/{len(entry['cells']):<4d} cells "
              f"{entry['seconds']:8.0f}{mark}")
        total += entry["seconds"]
    print(f"predicted total: {total:.0f} s = {total / 60:.1f} min")
    if unpredicted:
        print(f"not in the prediction: the run time of {len(unpredicted)} benchmarks without "
              f"a cost model ({', '.join(unpredicted)}); the durations asv measured are in "
              f"each result file (python scripts/history.py --durations: per run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
